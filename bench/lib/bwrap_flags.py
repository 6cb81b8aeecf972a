#!/usr/bin/env python3
"""Read `sandbox profile linux --backend bwrap --format json` on stdin; print the bwrap isolation
flags of that plan on one line, so bench/run can time raw bwrap with the same flags.

The plan's argv is found as the first list of strings that holds a bwrap namespace or bind flag.
The program name and everything from `--` on (the command) are dropped; so are flags that pass
file descriptors (`--seccomp FD`, `--ro-bind-data FD` ...), which a plain command line cannot
reproduce: they are reported on stderr as `dropped: ...`. Binds by file descriptor
(`--bind-fd FD DEST`, or a `/proc/self/fd/FD` source) become the same bind by path.

With `--stubs FILE`, the plan's `host_stubs` (mount points bwrap creates on the host, which our
launcher removes afterwards) are appended to FILE, one per line.
"""
import json
import sys

FD_FLAGS = {"--seccomp", "--add-seccomp-fd", "--ro-bind-data", "--bind-data", "--file",
            "--args", "--info-fd", "--json-status-fd", "--sync-fd", "--block-fd",
            "--userns-block-fd", "--userns-fd", "--userns2", "--pidns"}
BIND_FD = {"--bind-fd": "--bind", "--ro-bind-fd": "--ro-bind"}
MARKERS = {"--unshare-user", "--unshare-pid", "--unshare-all", "--ro-bind", "--bind", "--dev"}


def find_argv(node):
    if isinstance(node, list):
        if node and all(isinstance(x, str) for x in node) and MARKERS & set(node):
            return node
        for x in node:
            found = find_argv(x)
            if found:
                return found
    elif isinstance(node, dict):
        for x in node.values():
            found = find_argv(x)
            if found:
                return found
    return None


def find_key(node, key):
    if isinstance(node, dict):
        if key in node:
            return node[key]
        for x in node.values():
            found = find_key(x, key)
            if found is not None:
                return found
    return None


def main() -> int:
    stubs_file = None
    if sys.argv[1:2] == ["--stubs"] and len(sys.argv) > 2:
        stubs_file = sys.argv[2]
    text = sys.stdin.read()
    try:
        plan = json.loads(text)
    except ValueError:
        print(f"not JSON: {text[:120]!r}", file=sys.stderr)
        return 1
    argv = find_argv(plan)
    if not argv:
        print("no bwrap argv in the profile JSON", file=sys.stderr)
        return 1
    stubs = find_key(plan, "host_stubs")
    if stubs_file and isinstance(stubs, list):
        with open(stubs_file, "a") as f:
            for p in stubs:
                if isinstance(p, str):
                    f.write(p + "\n")
    if not argv[0].startswith("--"):
        argv = argv[1:]
    if "--" in argv:
        argv = argv[: argv.index("--")]
    out, dropped, i = [], [], 0
    while i < len(argv):
        # A bind by file descriptor (our launcher opens writable roots without following links
        # and binds the fd) becomes the same bind by path, which is what it binds here.
        if argv[i] in BIND_FD and i + 2 < len(argv):
            out += [BIND_FD[argv[i]], argv[i + 2], argv[i + 2]]
            i += 3
            continue
        if argv[i] in ("--bind", "--ro-bind", "--bind-try", "--ro-bind-try") and i + 2 < len(argv) \
                and argv[i + 1].startswith("/proc/self/fd/"):
            out += [argv[i], argv[i + 2], argv[i + 2]]
            i += 3
            continue
        if argv[i] in FD_FLAGS:
            dropped.append(" ".join(argv[i : i + 2]))
            i += 2
            continue
        out.append(argv[i])
        i += 1
    if any(any(c.isspace() for c in a) for a in out):
        print("a flag holds whitespace; cannot pass it through hyperfine -N", file=sys.stderr)
        return 1
    if dropped:
        print("dropped (fd-passing flags a plain command line cannot reproduce): " + ", ".join(dropped),
              file=sys.stderr)
    print(" ".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
