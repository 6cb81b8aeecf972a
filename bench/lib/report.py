#!/usr/bin/env python3
"""Turn the raw results of bench/run into the ratio tables, the goal verdicts and BENCHMARKS.md.

usage: report.py RESULTS_DIR [--write BENCHMARKS.md]

Every ratio is a ratio of medians of samples taken in the same run (hyperfine rounds are pooled
per command). The text between the `analysis` markers of an existing BENCHMARKS.md is kept.
"""
import glob
import json
import os
import re
import statistics
import sys

KEEP_BEGIN = "<!-- analysis:begin (kept by bench/run; edit freely) -->"
KEEP_END = "<!-- analysis:end -->"
MIB = 1024.0


FAILED = {}  # (section, label) -> [failed runs, all runs]


def load_section(out, section, key="times"):
    """Pools the samples of every round of one hyperfine section: {label: [seconds...]}.
    Runs that exited non-zero are left out (and counted in FAILED). `key="wall"` reads the
    wall times of a CPU-time section (bench/lib/cputime.py)."""
    pooled = {}
    for path in sorted(glob.glob(os.path.join(out, f"{section}.r*.json"))):
        if not re.search(r"\.r\d+\.json$", path[len(os.path.join(out, section)):]):
            continue
        with open(path) as f:
            for r in json.load(f)["results"]:
                codes = r.get("exit_codes") or [0] * len(r["times"])
                ok = [t for t, c in zip(r.get(key, r["times"]), codes) if c == 0]
                pooled.setdefault(r["command"], []).extend(ok)
                count = FAILED.setdefault((section, r["command"]), [0, 0])
                count[0] += len(r["times"]) - len(ok)
                count[1] += len(r["times"])
    return pooled


def load_rounds(out, section, key="times"):
    """The rounds of one section separately: [{label: median seconds}] (successful runs only)."""
    rounds = []
    for path in sorted(glob.glob(os.path.join(out, f"{section}.r*.json"))):
        if not re.search(r"\.r\d+\.json$", path[len(os.path.join(out, section)):]):
            continue
        with open(path) as f:
            r = {}
            for res in json.load(f)["results"]:
                codes = res.get("exit_codes") or [0] * len(res["times"])
                ok = [t for t, c in zip(res.get(key, res["times"]), codes) if c == 0]
                if ok:
                    r[res["command"]] = statistics.median(ok)
            rounds.append(r)
    return rounds


def cycle_ratios(out, section, a, b, key="times"):
    """Ratios a/b of runs made next to each other: in a round of bench/lib/cputime.py, run k
    of every command is one cycle through all of them (order rotated), so the k-th samples of
    `a` and `b` met the same load. Their median and quartiles are a share that load bursts
    move far less than a ratio of two pooled medians. [] for a section without such rounds."""
    ratios = []
    for path in sorted(glob.glob(os.path.join(out, f"{section}.r*.json"))):
        if not re.search(r"\.r\d+\.json$", path[len(os.path.join(out, section)):]):
            continue
        with open(path) as f:
            res = {r["command"]: r for r in json.load(f)["results"]}
        if a not in res or b not in res:
            continue
        ra, rb = res[a], res[b]
        ca = ra.get("exit_codes") or [0] * len(ra["times"])
        cb = rb.get("exit_codes") or [0] * len(rb["times"])
        for ta, tb, xa, xb in zip(ra.get(key, ra["times"]), rb.get(key, rb["times"]), ca, cb):
            if xa == 0 and xb == 0 and tb > 0:
                ratios.append(ta / tb)
    return ratios


def quartiles(xs):
    """(lower quartile, median, upper quartile), or None for fewer than two values."""
    if len(xs) < 2:
        return None
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def paired(out, section, a, b, key="times"):
    """Compares label `a` with label `b` of one section: pooled medians, their difference (s)
    and ratio, and the spread of the same difference and ratio over the rounds (each round
    timed both, interleaved), which is the noise to weigh the difference against."""
    data = load_section(out, section, key)
    ma, mb = med(data.get(a, [])), med(data.get(b, []))
    if ma is None or mb is None:
        return None
    diffs, ratios = [], []
    for r in load_rounds(out, section, key):
        if a in r and b in r:
            diffs.append(r[a] - r[b])
            ratios.append(r[a] / r[b])
    return {"a": ma, "b": mb, "diff": ma - mb, "ratio": ma / mb,
            "diffs": (min(diffs), max(diffs)) if diffs else None,
            "ratios": (min(ratios), max(ratios)) if ratios else None,
            "rounds": len(diffs), "n": (len(data[a]), len(data[b]))}


def dms(x):
    return "—" if x is None else f"{x * 1000:+.2f}"


def spread_ms(pr):
    if not pr or not pr["diffs"]:
        return "—"
    lo, hi = pr["diffs"]
    return f"{lo * 1000:+.2f} … {hi * 1000:+.2f}"


def spread_x(pr):
    if not pr or not pr["ratios"]:
        return "—"
    lo, hi = pr["ratios"]
    return f"{lo:.3f}–{hi:.3f}"


def within_noise(pr):
    """Whether the rounds disagree on the sign of the difference (noise larger than effect)."""
    return bool(pr and pr["diffs"] and pr["diffs"][0] < 0 < pr["diffs"][1])


def med(times):
    return statistics.median(times) if times else None


def iqr(times):
    if len(times) < 4:
        return None, None
    q = statistics.quantiles(times, n=4)
    return q[0], q[2]


def ms(x):
    if x is None:
        return "—"
    return f"{x * 1000:.2f}" if x < 0.1 else f"{x * 1000:.1f}"


def ratio(a, b):
    return a / b if a is not None and b else None


def fx(r, digits=2):
    return "—" if r is None else f"{r:.{digits}f}×"


def pct(r):
    return "—" if r is None else f"{(r - 1) * 100:+.1f}%"


def shorten(cmd, repo):
    """The repository path as `.`, and a run of `--writable-root` flags as its first and last."""
    if repo:
        cmd = cmd.replace(repo + "/", "./")
    roots = re.findall(r"--writable-root (\S+)", cmd)
    if len(roots) > 2:
        start = cmd.index("--writable-root")
        cmd = cmd[:start] + f"--writable-root {roots[0]} … --writable-root {roots[-1]} ({len(roots)} roots)"
    return cmd


def read_kv(path):
    d = {}
    if os.path.exists(path):
        for line in open(path):
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                d[k] = v
    return d


def read_tsv(path):
    if not os.path.exists(path):
        return []
    return [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]


class Report:
    def __init__(self, out):
        self.out = out
        self.facts = read_kv(os.path.join(out, "facts.txt"))
        self.notes = read_tsv(os.path.join(out, "notes.tsv"))
        self.commands = read_tsv(os.path.join(out, "commands.tsv"))
        self.goals = []  # (goal, measured, verdict)
        self.lines = []

    def p(self, s=""):
        self.lines.append(s)

    def goal(self, text, measured, ok, sections=()):
        if ok == "info":
            verdict = "—"
        else:
            verdict = "not measured" if ok is None else ("**met**" if ok else "**not met**")
        if ok is not None and ok != "info":
            verdict += self.disturbed(*sections)
        self.goals.append((text, measured, verdict))

    # ------------------------------------------------------------------ sections
    def launch(self):
        data = load_section(self.out, "launch")
        self.p("## 1. Launch cost: `/bin/true`")
        self.p()
        if not data:
            self.p("Not measured (see notes).")
            self.p()
            return data
        bare = med(data.get("bare", []))
        raw = med(data.get("bwrap-raw", []))
        self.p("| launcher | median ms | IQR ms | runs | × bare | × raw bwrap |")
        self.p("|---|---:|---:|---:|---:|---:|")
        for label, times in data.items():
            m = med(times)
            lo, hi = iqr(times)
            iq = f"{ms(lo)}–{ms(hi)}" if lo is not None else "—"
            self.p(f"| {label} | {ms(m)} | {iq} | {len(times)} | {fx(ratio(m, bare))} | {fx(ratio(m, raw))} |")
        self.p()
        ll, bw = med(data.get("landlock", [])), med(data.get("bwrap", []))
        r = ratio(ll, bare)
        self.goal("Landlock launch ≤ 2.2× bare `/bin/true`", fx(r), None if r is None else r <= 2.2, ("launch",))
        r = ratio(bw, raw)
        self.goal("bwrap backend ≤ 1.1× raw bwrap with the same flags", fx(r), None if r is None else r <= 1.1, ("launch",))
        # The goal names `codex sandbox` as installed from npm (the `codex` command, a Node.js
        # wrapper around the native binary); the native binary alone is the stricter comparison.
        for label, what in (("codex-npm", "`codex sandbox` as installed (`codex`, npm)"),
                            ("codex", "codex's native binary (stricter: no Node.js wrapper)")):
            cx = med(data.get(label, []))
            for name, ours in (("landlock", ll), ("bwrap", bw)):
                r = ratio(cx, ours)
                self.goal(f"≥ 50× faster than {what} — {name} backend", fx(r, 1),
                          None if r is None else r >= 50, ("launch",))
        return data

    def workloads(self, launch):
        self.p("## 2. Workload overhead")
        self.p()
        launch_bare = med(launch.get("bare", []))
        names = {"wl-git": "`git status` over a 20,000-file repo",
                 "wl-find": "`find -exec stat` over 20,000 files",
                 "wl-cc": "`cc -O2 -c` of a 150-line C file"}
        cols = ["landlock", "bwrap-raw", "bwrap"]
        self.p("| workload | bare ms | " + " | ".join(f"{c} ms (overhead)" for c in cols) + " |")
        self.p("|---|---:|" + "---:|" * len(cols))
        worst = {c: None for c in cols}
        adjusted = []  # (title, backend, overhead with the launch cost taken out)
        any_data = False
        for section, title in names.items():
            data = load_section(self.out, section)
            if not data:
                continue
            any_data = True
            bare = med(data.get("bare", []))
            cells = []
            for c in cols:
                m = med(data.get(c, []))
                r = ratio(m, bare)
                cells.append(f"{ms(m)} ({pct(r)})" if m is not None else "—")
                if r is not None:
                    worst[c] = r if worst[c] is None else max(worst[c], r)
                    # Launch cost from `/bin/true` timed in the same rounds, else from table 1.
                    lc, lb = med(data.get("true:" + c, [])), med(data.get("true:bare", []))
                    if lc is None or lb is None:
                        lc, lb = med(launch.get(c, [])), launch_bare
                    if lc is not None and lb is not None:
                        adjusted.append((title, c, (m - (lc - lb)) / bare))
            runs = len(data.get("bare", []))
            self.p(f"| {title} ({runs} runs each) | {ms(bare)} | " + " | ".join(cells) + " |")
        self.p()
        if not any_data:
            self.p("Not measured (see notes).")
            self.p()
        if adjusted:
            self.p("The overhead above includes the launch. With each launcher's extra launch cost "
                   "taken out (its `/bin/true` median minus bare `/bin/true`, timed in the same rounds), "
                   "what remains is the cost of running *inside* the sandbox:")
            self.p()
            self.p("| workload | " + " | ".join(cols) + " |")
            self.p("|---|" + "---:|" * len(cols))
            for title in names.values():
                row = {c: r for t, c, r in adjusted if t == title}
                if row:
                    self.p(f"| {title} | " + " | ".join(pct(row.get(c)) for c in cols) + " |")
            self.p()
        heavy = (names["wl-git"], names["wl-find"])
        for c in ("landlock", "bwrap"):
            rs = [r for t, b, r in adjusted if b == c and t in heavy]
            r = max(rs) if rs else None
            self.goal(f"syscall-heavy workload overhead ≤ 3% — {c} backend (worst of `git status` and "
                      "`find -exec stat`, launch cost taken out)", pct(r), None if r is None else r <= 1.03,
                      ("wl-git", "wl-find"))
            self.goal(f"(for information) the same including the launch — {c} backend, worst workload",
                      pct(worst[c]), "info")

    def scaling(self):
        self.p("## 3. Scaling")
        self.p()
        self.p("### Policy resolve + compile as writable roots grow")
        self.p()
        resolve = {}
        path = os.path.join(self.out, "resolve.jsonl")
        if os.path.exists(path):
            for line in open(path):
                try:
                    j = json.loads(line)
                    resolve[j["roots"]] = j["median_us"]
                except (ValueError, KeyError):
                    pass
        compile = {}
        path = os.path.join(self.out, "compile.jsonl")
        if os.path.exists(path):
            for line in open(path):
                try:
                    j = json.loads(line)
                    compile[(j["stage"], j["roots"])] = j["median_us"]
                except (ValueError, KeyError):
                    pass
        us = lambda v: "—" if v is None else f"{v:.1f}"
        prof = load_section(self.out, "profile")
        self.p("| writable roots | `resolve()` µs | resolve + Landlock compile µs | resolve + bwrap compile µs "
               "| `sandbox profile` landlock ms | `sandbox profile` bwrap ms |")
        self.p("|---:|---:|---:|---:|---:|---:|")
        for n in (1, 10, 100):
            self.p(f"| {n} | {us(resolve.get(n))} | {us(compile.get(('landlock', n)))} | "
                   f"{us(compile.get(('bwrap', n)))} | "
                   f"{ms(med(prof.get(f'profile-landlock-{n}', [])))} | {ms(med(prof.get(f'profile-bwrap-{n}', [])))} |")
        self.p()
        self.p("The µs columns are in-process medians (`crates/sandbox-core/examples/resolve_scaling.rs`, "
               "`crates/sandbox-linux/examples/compile_scaling.rs`; each root holds a `.git` directory, so "
               "every root adds protected paths). The `sandbox profile … --format json` columns are whole "
               "processes: start-up, resolve, compile to the plan, JSON output.")
        self.p()
        self.p("### Deny-read glob expansion vs ripgrep listing the same tree")
        self.p()
        how = self.facts.get("glob_measure", "")
        self.p("| tree files | `*.env` matches | `rg --files --glob` ms | `find -name` ms | ours in-process ms | ours + process start ms | ours / rg |")
        self.p("|---:|---:|---:|---:|---:|---:|---:|")
        for n in (10000, 100000):
            data = load_section(self.out, f"glob-{n}")
            if not data:
                continue
            mpath = os.path.join(self.out, f"glob-{n}.matches")
            matches = open(mpath).read().strip() if os.path.exists(mpath) else "—"
            rg = med(data.get("rg", []))
            ours_path = os.path.join(self.out, f"glob-{n}.ours.jsonl")
            ours_in = None
            if os.path.exists(ours_path):
                vals = []
                for line in open(ours_path):
                    try:
                        vals.append(json.loads(line)["elapsed_ms"] / 1000.0)
                    except (ValueError, KeyError):
                        pass
                ours_in = med(vals)
            if ours_in is not None:
                # In-process time plus a bare process start (table 1), to compare with rg's
                # whole-process time without flattering ours.
                start = med(load_section(self.out, "launch").get("bare", [])) or 0.0
                ours = ours_in + start
            elif "profile-deny-read" in data:
                a, b = med(data["profile-deny-read"]), med(data.get("profile-no-glob", []))
                ours = a - b if a is not None and b is not None else None
            else:
                ours = None
            r = ratio(ours, rg)
            self.p(f"| {n:,} | {matches} | {ms(rg)} | {ms(med(data.get('find', [])))} | {ms(ours_in)} | {ms(ours)} | {fx(r)} |")
            self.goal(f"deny-read expansion no slower than ripgrep — {n:,} files", fx(r),
                      None if r is None else r <= 1.0, (f"glob-{n}",))
        self.p()
        if how == "example":
            self.p("\"ours\" is the bwrap backend's deny-glob expansion (`glob_expand::expand`, the "
                   "`ignore` crate's parallel walker) timed in-process by "
                   "`crates/sandbox-linux/examples/glob_expand_bench.rs`; `rg` and `find` are whole "
                   "processes, so the ratio adds a bare process start (table 1) to ours.")
        elif how == "profile":
            self.p("\"ours\" is `sandbox profile linux --backend bwrap --deny-read '**/*.env'` minus the same "
                   "command without the glob (no function-level hook was available).")
        self.p()

    def memory(self, launch):
        self.p("## 4. Peak RSS of the launcher")
        self.p()
        rows = read_tsv(os.path.join(self.out, "rss.tsv"))
        if not rows:
            self.p("Not measured (see notes).")
            self.p()
            for c in ("landlock", "bwrap"):
                self.goal(f"launcher peak RSS ≤ 8 MiB — {c}", "—", None)
            return
        self.p("| launcher | peak RSS MiB |")
        self.p("|---|---:|")
        rss = {}
        for label, kib in rows:
            rss[label] = int(kib)
            self.p(f"| {label} | {int(kib) / MIB:.1f} |")
        self.p()
        self.p("`/usr/bin/time -f %M` reports the largest RSS of the process tree it waited for "
               "(the launcher, bwrap's processes and `/bin/true`), maximum of 10 runs.")
        self.p()
        for c in ("landlock", "bwrap"):
            v = rss.get(c)
            self.goal(f"launcher peak RSS ≤ 8 MiB — {c}", "—" if v is None else f"{v / MIB:.1f} MiB",
                      None if v is None else v <= 8 * 1024)

    def unix(self):
        socks = self.facts.get("unix_host_sockets", "?")
        sections = [("unix-root", "root", "", "wall"), ("unix-sbxtest", "sbxtest", "", "wall"),
                    ("unix-sockets", f"root, {socks} host sockets listening", "sock:", "wall"),
                    ("unix-cpu-root", "root", "", "CPU"), ("unix-cpu-sbxtest", "sbxtest", "", "CPU"),
                    ("unix-cpu-sockets", f"root, {socks} host sockets listening", "sock:", "CPU")]
        if not any(load_section(self.out, sec) for sec, _, _, _ in sections):
            return
        self.p("## 1b. Host unix sockets closed by default (issue 10)")
        self.p()
        self.p("`/bin/true` under each backend with the default policy (host unix sockets closed: the "
               "launcher reads `/proc/net/unix` and covers each host socket in the sandbox's mount "
               "namespace, this host having Landlock below ABI 9) against `-c sandbox.unix_sockets=all` "
               "in the same binary, and against the baseline's default (`@base`) when given. "
               "Δ is the difference of the pooled medians; the spread is the lowest and highest "
               "per-round difference (every round timed both, interleaved): when it straddles zero, "
               "the noise is larger than the effect. `wall` rows are hyperfine wall times; `CPU` rows "
               "are the CPU time (user + system) of the launcher and every process it waited for "
               f"(wait4), the commands alternating run by run ({self.facts.get('cpu_runs', '?')} runs "
               "per round): waiting for a CPU held by other processes is not in them (under bwrap the "
               "command's own CPU time does not reach the launcher's rusage; the same on both sides of "
               "each comparison). `sbxtest` rows include `setpriv` and `env` in front.")
        self.p()
        self.p("| user | backend | time | default ms | `all` ms | Δ default − all ms | spread ms | "
               "baseline default ms | Δ default − baseline ms | spread ms |")
        self.p("|---|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for sec, who, pre, kind in sections:
            data = load_section(self.out, sec)
            if not data:
                continue
            for b in ("landlock", "bwrap"):
                d, a, base = f"{pre}{b}-default", f"{pre}{b}-all", f"{pre}{b}-default@base"
                if d not in data:
                    continue
                pa = paired(self.out, sec, d, a)
                pb = paired(self.out, sec, d, base)
                self.p(f"| {who} | {b} | {kind} | {ms(med(data[d]))} | {ms(med(data.get(a, [])))} | "
                       f"{dms(pa and pa['diff'])} | {spread_ms(pa)} | {ms(med(data.get(base, [])))} | "
                       f"{dms(pb and pb['diff'])} | {spread_ms(pb)} |")
                if pre:
                    continue
                for pr, what in ((pa, "`unix_sockets = \"all\"`, same binary"),
                                 (pb, "the baseline's default")):
                    if pr is None:
                        continue
                    verdict = pr["diff"] <= 0.0003
                    shown = f"{pr['diff'] * 1000:+.2f} ms (rounds {spread_ms(pr)})"
                    self.goal(f"default launch ≤ 0.3 ms more than {what} — {b}, {who}, {kind} time", shown,
                              verdict, (sec,))
        self.p()

    def compare(self):
        """Every `X@base` beside `X` in the same section: the before/after table."""
        rows = []
        for path in sorted(glob.glob(os.path.join(self.out, "*.r1.json"))):
            sec = os.path.basename(path)[: -len(".r1.json")]
            data = load_section(self.out, sec)
            for label in data:
                if label.endswith("@base") and label[: -len("@base")] in data:
                    cur = label[: -len("@base")]
                    rows.append((sec, cur, paired(self.out, sec, cur, label)))
        if not rows:
            return
        self.p("## Before and after (`bench/run --baseline`)")
        self.p()
        self.p(f"Baseline: `{self.facts.get('baseline', '?')}`, built in a temporary worktree and "
               "timed in the same hyperfine rounds as the current build. The ratio is current/baseline "
               "of the pooled medians; the spread is the lowest and highest per-round ratio, i.e. the "
               "noise of this run.")
        self.p()
        self.p("| section | case | current ms | baseline ms | Δ ms | current/baseline | per-round ratio | verdict |")
        self.p("|---|---|---:|---:|---:|---:|---:|---|")
        for sec, cur, pr in rows:
            if pr is None:
                continue
            verdict = "within noise" if within_noise(pr) else ("slower" if pr["diff"] > 0 else "faster")
            if "-cpu" in sec:
                sec += " (CPU time)"
            self.p(f"| {sec} | {cur} | {ms(pr['a'])} | {ms(pr['b'])} | {dms(pr['diff'])} | "
                   f"{pr['ratio']:.3f}× | {spread_x(pr)} | {verdict} |")
        self.p()

    def egress(self):
        self.p("## 5. Egress proxy (`--network proxy`)")
        self.p()
        launch = load_section(self.out, "egress-launch")
        if launch:
            self.p("Launch of `/bin/true` (`off`, `proxy`, `loopback`: bwrap backend; `landlock-…`: "
                   "Landlock backend; `proxy` is `--allow-domain example.com`; `@base`: the baseline). "
                   "The spread is the lowest and highest per-round difference to `off` of the same backend.")
            self.p()
            self.p("| case | median ms | IQR ms | runs | extra ms over off | spread ms |")
            self.p("|---|---:|---:|---:|---:|---:|")
            for label, times in launch.items():
                m = med(times)
                lo, hi = iqr(times)
                iq = f"{ms(lo)}–{ms(hi)}" if lo is not None else "—"
                base = label.endswith("@base")
                name = label[: -len("@base")] if base else label
                off_label = ("landlock-off" if name.startswith("landlock-") else "off") + ("@base" if base else "")
                pr = paired(self.out, "egress-launch", label, off_label)
                extra = "—" if pr is None else f"{pr['diff'] * 1000:.2f}"
                self.p(f"| {label} | {ms(m)} | {iq} | {len(times)} | {extra} | {spread_ms(pr)} |")
            self.p()
        lcpu = load_section(self.out, "egress-launch-cpu")
        if lcpu:
            self.p("The same launches in CPU time (launcher, proxy thread, bwrap and `/bin/true`; wait4), "
                   "alternating run by run:")
            self.p()
            self.p("| case | median CPU ms | runs | extra CPU ms over off | spread ms |")
            self.p("|---|---:|---:|---:|---:|")
            for label, times in lcpu.items():
                base = label.endswith("@base")
                name = label[: -len("@base")] if base else label
                off_label = ("landlock-off" if name.startswith("landlock-") else "off") + ("@base" if base else "")
                pr = paired(self.out, "egress-launch-cpu", label, off_label)
                extra = "—" if pr is None else f"{pr['diff'] * 1000:.2f}"
                self.p(f"| {label} | {ms(med(times))} | {len(times)} | {extra} | {spread_ms(pr)} |")
            self.p()
        for px_label, off_label, b in (("proxy", "off", "bwrap"), ("landlock-proxy", "landlock-off", "landlock")):
            pr = paired(self.out, "egress-launch", px_label, off_label)
            extra = None if pr is None else pr["diff"] * 1000
            if extra is None and b == "landlock":
                continue
            self.goal(f"proxy-mode launch ≤ 3 ms more than network off (median, {b})",
                      "—" if extra is None else f"{extra:.2f} ms (rounds {spread_ms(pr)})",
                      None if extra is None else extra <= 3.0, ("egress-launch",))
        tput = load_section(self.out, "egress-throughput")
        if tput:
            self.p("| 100 MB from a loopback origin | median s | MB/s | runs | share of direct | per-round share |")
            self.p("|---|---:|---:|---:|---:|---:|")
            direct = med(tput.get("direct", []))
            for label, times in tput.items():
                m = med(times)
                rate = "—" if not m else f"{100 / m:.0f}"
                share = "—" if not m or direct is None else f"{100 * direct / m:.0f}%"
                pr = paired(self.out, "egress-throughput", "direct", label)
                rs = "—" if not pr or not pr["ratios"] else f"{pr['ratios'][0] * 100:.0f}–{pr['ratios'][1] * 100:.0f}%"
                self.p(f"| {label} | {'—' if m is None else f'{m:.3f}'} | {rate} | {len(times)} | {share} | {rs} |")
            self.p()
            self.p("`direct` runs the same curl under the same launcher with `--network` (full), so the "
                   "launch is on both sides; `bare` is curl alone, for information.")
            self.p()
        alt = load_section(self.out, "egress-throughput-cpu", "wall")
        if alt:
            cpu = load_section(self.out, "egress-throughput-cpu")
            direct = med(alt.get("direct", []))
            self.p("The same downloads alternating one by one (every round runs each in turn, order rotated), "
                   "with the CPU time each used as wait4 reports it: the launcher with its proxy thread "
                   "and bwrap, not the origin server, and not curl itself (under bwrap the command's CPU "
                   "time does not reach the launcher's rusage; `bare` is curl alone). So `proxy-…` minus "
                   "`direct` is what the proxy costs per 100 MB:")
            self.p()
            self.p("| 100 MB, alternating | median s | MB/s | runs | share of direct | per-round share | "
                   "paired share: median (IQR) | CPU s |")
            self.p("|---|---:|---:|---:|---:|---:|---:|---:|")
            for label, times in alt.items():
                m = med(times)
                share = "—" if not m or direct is None else f"{100 * direct / m:.0f}%"
                pr = paired(self.out, "egress-throughput-cpu", "direct", label, "wall")
                rs = "—" if not pr or not pr["ratios"] else f"{pr['ratios'][0] * 100:.0f}–{pr['ratios'][1] * 100:.0f}%"
                q = quartiles(cycle_ratios(self.out, "egress-throughput-cpu", "direct", label, "wall"))
                ps = "—" if q is None else f"{q[1] * 100:.0f}% ({q[0] * 100:.0f}–{q[2] * 100:.0f}%)"
                c = med(cpu.get(label, []))
                self.p(f"| {label} | {m:.3f} | {100 / m:.0f} | {len(times)} | {share} | {rs} | {ps} | "
                       f"{'—' if c is None else f'{c:.3f}'} |")
            self.p()
            self.p("The paired share divides each `direct` download by the download of the other case "
                   "in the same cycle (the two ran back to back), and gives the median and quartiles of "
                   "those ratios.")
            self.p()
        if not launch and not tput:
            self.p("Not measured (see notes).")
            self.p()
        direct = med(tput.get("direct", []))
        alt_sec = "egress-throughput-cpu" if alt else "egress-throughput"
        for label in ("proxy-http", "proxy-connect"):
            pr = paired(self.out, alt_sec, "direct", label, "wall")
            r = None if pr is None else pr["ratio"]
            rs = "" if not pr or not pr["ratios"] else f" (rounds {pr['ratios'][0] * 100:.0f}–{pr['ratios'][1] * 100:.0f}%)"
            q = quartiles(cycle_ratios(self.out, alt_sec, "direct", label, "wall")) if alt else None
            if q is not None:
                rs += f"; paired {q[1] * 100:.0f}% (IQR {q[0] * 100:.0f}–{q[2] * 100:.0f}%)"
            self.goal(f"proxy throughput ≥ 80% of direct — {label}", "—" if r is None else f"{r * 100:.0f}%{rs}",
                      None if r is None else r >= 0.8, (alt_sec,))

    # ------------------------------------------------------------------ assembly
    def build(self):
        only = self.facts.get("only", "")
        skip = lambda name: only and f",{name}," not in only

        def unmeasured(title):
            self.p(title)
            self.p()
            self.p("Not measured (see notes).")
            self.p()

        launch = self.launch() if not skip("launch") else (unmeasured("## 1. Launch cost: `/bin/true`") or {})
        self.unix()
        self.compare()
        if skip("workloads"):
            unmeasured("## 2. Workload overhead")
        else:
            self.workloads(launch)
        if skip("scaling"):
            unmeasured("## 3. Scaling")
        else:
            self.scaling()
        if skip("memory") or skip("launch"):
            unmeasured("## 4. Peak RSS of the launcher")
        else:
            self.memory(launch)
        if skip("egress"):
            unmeasured("## 5. Egress proxy (`--network proxy`)")
        else:
            self.egress()
        body = self.lines
        self.lines = []
        self.p("## Goals")
        self.p()
        self.p("| goal | measured | verdict |")
        self.p("|---|---:|---|")
        for g, m, v in self.goals:
            self.p(f"| {g} | {m} | {v} |")
        self.p()
        goals = self.lines
        self.lines = []
        if self.notes:
            self.p("## Notes from this run")
            self.p()
            for section, label, msg in self.notes:
                self.p(f"- {section} / {label}: {msg}")
            self.p()
        self.p("## Commands measured")
        self.p()
        self.p("<details><summary>exact command lines</summary>")
        self.p()
        self.p("```")
        seen = set()
        repo = self.facts.get("repo", "")
        for section, label, cmd in self.commands:
            if (section, label) not in seen:
                seen.add((section, label))
                self.p(f"[{section}] {label}: {shorten(cmd, repo)}")
        self.p("```")
        self.p()
        self.p("</details>")
        self.p()
        tail = self.lines
        for (section, label), (bad, total) in FAILED.items():
            if bad:
                self.notes.append([section, label, f"{bad} of {total} timed runs exited non-zero "
                                   "(left out of the medians)"])
        return body, goals, tail

    def machine(self):
        f = self.facts
        keys = [("date", "date"), ("cpu", "CPU"), ("cores", "cores"), ("mem", "memory"),
                ("kernel", "kernel"), ("os", "OS"), ("loadavg", "load average at start"),
                ("commit", "commit"), ("baseline", "baseline (`--baseline`)"), ("sandbox", "sandbox"), ("bwrap", "bubblewrap"),
                ("firejail", "firejail"), ("hakoniwa", "hakoniwa"), ("codex", "codex"),
                ("hyperfine", "hyperfine"), ("rg", "ripgrep")]
        lines = [f"- {name}: {f[k]}" for k, name in keys if f.get(k)]
        if f.get("loadavg_end"):
            lines.append(f"- load average at end: {f['loadavg_end']}")
        busy = self.busy()
        if busy:
            lines.append("- CPU use during each section, all cores (100% = every core busy): "
                         + ", ".join(f"{s} {t:.0f}% (other processes {o:.0f}%)" for s, (t, o) in busy.items()))
        return lines

    def busy(self):
        """{section: (total busy %, other processes' busy %)}, rounds averaged."""
        pooled = {}
        for row in read_tsv(os.path.join(self.out, "cpu.tsv")):
            if len(row) >= 3:
                pooled.setdefault(row[0], []).append((float(row[1]), float(row[2])))
        return {s: (statistics.mean(t for t, _ in v), statistics.mean(o for _, o in v))
                for s, v in pooled.items()}

    def disturbed(self, *sections):
        """A warning when other processes used more than a quarter of the CPUs in a section."""
        busy = self.busy()
        worst = max((busy[s][1] for s in sections if s in busy), default=0.0)
        return f" (other processes used {worst:.0f}% of the CPUs meanwhile: rerun)" if worst > 25 else ""


def previous_sections(path):
    """The `## …` sections of an existing BENCHMARKS.md: {heading: lines}, and its date."""
    if not os.path.exists(path):
        return {}, "?"
    secs, cur = {}, None
    date = "?"
    for line in open(path).read().split("\n"):
        if line.startswith("## "):
            cur = line
            secs[cur] = []
        elif cur is not None:
            secs[cur].append(line)
        m = re.match(r"- date: (.*)", line)
        if m and date == "?":
            date = m.group(1)
    return secs, date


def keep_unmeasured(body, goals, path):
    """A partial run (`--only`): sections and goal rows this run did not measure are kept from
    the existing file, marked with that file's date."""
    old, date = previous_sections(path)
    if not old:
        return body, goals
    out, i = [], 0
    while i < len(body):
        line = body[i]
        nxt = body[i + 2] if i + 2 < len(body) else ""
        if line.startswith("## ") and nxt.startswith("Not measured") and line in old:
            out.append(line)
            out.append("")
            out.append(f"*Not measured in this run: kept from the run of {date}.*")
            out.extend(old[line])
            i += 4 if i + 3 < len(body) and body[i + 3] == "" else 3
            continue
        out.append(line)
        i += 1
    old_goals = {}
    for line in old.get("## Goals", []):
        cells = line.split(" | ")
        if line.startswith("| ") and len(cells) >= 3:
            old_goals[cells[0][2:]] = line
    kept, seen = [], set()
    for line in goals:
        cells = line.split(" | ")
        if line.startswith("| "):
            seen.add(cells[0][2:])
        if line.startswith("| ") and line.rstrip().endswith("| not measured |") and cells[0][2:] in old_goals:
            prev = old_goals[cells[0][2:]]
            line = prev if "(run of" in prev else prev.rstrip().rstrip("|").rstrip() + f" (run of {date}) |"
        kept.append(line)
    # Goals of sections this run skipped altogether, before the blank line closing the table.
    extra = [line.rstrip().rstrip("|").rstrip() + f" (run of {date}) |"
             for g, line in old_goals.items() if g not in seen and g != "goal" and "(run of" not in line]
    extra += [line for g, line in old_goals.items() if g not in seen and "(run of" in line]
    while kept and kept[-1] == "":
        kept.pop()
    return out, kept + extra + [""]


def kept_analysis(path):
    if not os.path.exists(path):
        return None
    text = open(path).read()
    m = re.search(re.escape(KEEP_BEGIN) + r"\n(.*?)" + re.escape(KEEP_END), text, re.S)
    return m.group(1) if m else None


def main():
    args = sys.argv[1:]
    write = None
    if "--write" in args:
        i = args.index("--write")
        write = args[i + 1]
        del args[i : i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    rep = Report(args[0])
    body, goals, tail = rep.build()
    print("\n".join(["## Machine", ""] + rep.machine() + [""]))
    print("\n".join(goals))
    print("\n".join(body))
    if rep.notes:
        print("Notes:")
        for section, label, msg in rep.notes:
            print(f"  {section} / {label}: {msg}")
    if not write:
        return 0
    quick = rep.facts.get("quick") == "1"
    if rep.facts.get("only"):
        body, goals = keep_unmeasured(body, goals, write)
    analysis = kept_analysis(write) or "(Findings and probable causes for missed goals go here.)\n"
    doc = [
        "# Benchmarks",
        "",
        "Launch cost, workload cost, scaling and memory of `sandbox`, next to the bare command, raw "
        "bubblewrap and peer sandboxes, all measured in **one run** of the suite. Ratios are ratios of "
        "medians of samples from that run. Regenerate this file with:",
        "",
        "```sh",
        "cargo build --release --locked --bin sandbox",
        "bench/run                   # or: bench/run --install-peers  (apt firejail/time, cargo hakoniwa-cli, npm @openai/codex)",
        "```",
        "",
        "The goals are targets, not tests: nothing fails on timing.",
        "",
    ]
    if quick:
        doc += ["> **This table came from `bench/run --quick`** (fewer runs, no 100k tree): a smoke test, "
                "not numbers to quote.", ""]
    doc += ["## Machine", ""] + rep.machine() + [""]
    doc += goals + body
    doc += ["## Analysis", "", KEEP_BEGIN, analysis.rstrip("\n"), KEEP_END, ""]
    doc += [
        "## Method",
        "",
        f"- hyperfine with `-N` (no shell), warm-up runs, and several rounds per section "
        f"({rep.facts.get('rounds', '?')} for launch and scaling, {rep.facts.get('wl_rounds', '?')} for "
        "workloads) whose samples are pooled per command: the rounds interleave the commands in time, "
        "so load drift on this shared machine hits all of them alike. Medians, not means.",
        "- Launch uses `--min-runs 30 --max-runs 200` per round (hyperfine's 3-second budget per command decides in between).",
        "- CPU-time comparisons (`…-cpu` sections, `bench/lib/cputime.py`): the compared commands "
        "alternate run by run (order rotated), " + rep.facts.get("cpu_runs", "?") + " runs per round; each run's "
        "user + system time from wait4(2), which covers the launcher and what it reaped (not the "
        "command under bwrap). They leave out time spent waiting for a CPU, so they can judge "
        "sub-millisecond launch differences on a busy machine where wall times cannot.",
        "- `--baseline REV` builds the binary at REV in a temporary git worktree (cached in "
        "`target/bench-baseline/`) and times it in the same rounds as the current one (`…@base`). "
        "Both are measured as copies (`cp`) of what the linker wrote: the linker's own file costs "
        "≈ 0.5 ms more CPU per launch than a copy of the same bytes.",
        "- Egress throughput: hyperfine rounds of 2 downloads per case, then the same number of "
        "rounds of 4 cycles through all cases alternating download by download; the *paired share* "
        "is the median and IQR of the ratios `direct`/case within a cycle.",
        "- Every command is run once first; one that fails is left out, with the reason under "
        "*Notes from this run*.",
        "- Raw bwrap gets the isolation flags of `sandbox profile linux --backend bwrap --full-auto "
        "--format json` (source: " + rep.facts.get("raw_bwrap_flags_source", "?") + "): `"
        + rep.facts.get("raw_bwrap_flags", "?") + "`. Flags that pass file descriptors (our seccomp "
        "program) cannot be given to a plain bwrap command line, so raw bwrap runs without seccomp.",
        "- Peers get the closest equivalent of workspace-write without network: firejail "
        "`--noprofile --read-only=/ --read-write=WS --read-write=/tmp --net=none`; hakoniwa "
        "`run --unshare-network --devfs /dev -B /tmp:/tmp -w WS` (read-only `/` rootfs is its default); "
        "codex `sandbox -P :workspace -C WS` (codex ≥ 0.169; `codex` is the native binary from the npm "
        "package, `codex-npm` the `codex` command with its Node.js wrapper).",
    ]
    if rep.facts.get("private_tmp") == "1":
        doc += ["- The suite ran in a private mount namespace with an empty tmpfs on `/tmp` (trees on disk "
                "under `/var/tmp`): every `--full-auto` launcher makes or expects `/tmp/.git`, `/tmp/.codex` "
                "and `/tmp/.agents`, which other jobs on a shared machine create and remove meanwhile."]
    if rep.facts.get("nice", "0") != "0":
        doc += [f"- The suite ran at nice {rep.facts['nice']} (`bench/run --priority`), so other processes "
                "on this shared machine took less CPU time from the measured commands."]
    doc += [""]
    doc += tail
    with open(write, "w") as f:
        f.write("\n".join(doc).rstrip("\n") + "\n")
    print(f"wrote {write}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
