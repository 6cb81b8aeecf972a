#!/usr/bin/env python3
"""CPU time of launches, for differences smaller than the wall-time noise of a busy machine.

usage: cputime.py OUT_PREFIX ROUNDS RUNS < "label<TAB>command" lines

Runs every command RUNS times per round, the commands alternating run by run (their order
rotated each time), and writes OUT_PREFIX.rN.json per round in hyperfine's layout, with
`times` holding the CPU time (user + system, seconds) that the command and every descendant
it waited for used, from wait4(2): time spent waiting for a CPU that other processes held is
not in it, which wall time on a loaded 2-core machine mostly is. `wall` holds wall times.
"""
import json
import os
import shlex
import sys
import time


DEVNULL = os.open(os.devnull, os.O_RDWR)
QUIET = [(os.POSIX_SPAWN_DUP2, DEVNULL, fd) for fd in (0, 1, 2)]


def run(argv):
    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=QUIET)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return ru.ru_utime + ru.ru_stime, wall, os.waitstatus_to_exitcode(status)


def main():
    prefix, rounds, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    cmds = [line.rstrip("\n").split("\t", 1) for line in sys.stdin if "\t" in line]
    for label, c in cmds:  # warm-up (page cache, placeholders)
        run(shlex.split(c))
    for r in range(1, rounds + 1):
        res = {label: {"command": label, "times": [], "wall": [], "exit_codes": []} for label, _ in cmds}
        for k in range(runs):
            shift = k % len(cmds)
            for label, c in cmds[shift:] + cmds[:shift]:
                cpu, wall, code = run(shlex.split(c))
                res[label]["times"].append(cpu)
                res[label]["wall"].append(wall)
                res[label]["exit_codes"].append(code)
        with open(f"{prefix}.r{r}.json", "w") as f:
            json.dump({"results": list(res.values())}, f)


if __name__ == "__main__":
    main()
