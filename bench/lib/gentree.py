#!/usr/bin/env python3
"""Generate a deterministic file tree for the benchmarks.

usage: gentree.py DIR FILES [--git] [--env-every N]

Creates FILES small files spread over nested directories (100 files per leaf directory,
10 leaf directories per parent), every N-th file named `*.env` (the deny-read glob target),
and with --git commits the tree to a fresh git repository. A stamp file makes reruns free.
"""
import os
import subprocess
import sys


def main() -> int:
    args = sys.argv[1:]
    git = "--git" in args
    env_every = 100
    if "--env-every" in args:
        i = args.index("--env-every")
        env_every = int(args[i + 1])
        del args[i : i + 2]
    args = [a for a in args if a != "--git"]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    root, files = args[0], int(args[1])
    stamp = root.rstrip("/") + ".stamp"
    want = f"files={files} git={git} env_every={env_every}\n"
    if os.path.exists(stamp) and open(stamp).read() == want:
        return 0
    if os.path.exists(root):
        subprocess.run(["rm", "-rf", root], check=True)
    os.makedirs(root)
    per_leaf, per_parent = 100, 10
    for n in range(files):
        leaf = n // per_leaf
        d = os.path.join(root, f"p{leaf // per_parent:03d}", f"d{leaf % per_parent}")
        if n % per_leaf == 0:
            os.makedirs(d, exist_ok=True)
        name = f"f{n:06d}.env" if n % env_every == env_every - 1 else f"f{n:06d}.txt"
        with open(os.path.join(d, name), "w") as f:
            f.write(f"file {n}\n")
    if git:
        quiet = {"stdout": subprocess.DEVNULL}
        env = dict(os.environ, GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@localhost",
                   GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@localhost")
        subprocess.run(["git", "init", "-q", root], check=True, **quiet)
        subprocess.run(["git", "-C", root, "add", "-A"], check=True, env=env, **quiet)
        subprocess.run(["git", "-C", root, "commit", "-q", "-m", "tree"], check=True, env=env, **quiet)
        # Refresh the index once so `git status` under a read-only .git does the same work.
        subprocess.run(["git", "-C", root, "status", "--porcelain"], check=True, **quiet)
    with open(stamp, "w") as f:
        f.write(want)
    return 0


if __name__ == "__main__":
    sys.exit(main())
