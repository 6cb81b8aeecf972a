# The differential suite's probe: performs each operation it reads on stdin inside the sandbox
# and prints one result line per operation, in order. It decides nothing; the harness compares
# its answers with the oracle's.
#
# Input lines:  OP <TAB> HEX(path) [<TAB> HEX(second path)]
# Output lines: "ok" | "ok <sha256 of a file read>" | "ok dir:<hex of the NUL-joined names>"
#               | "err <errno name>"
import errno
import hashlib
import os
import subprocess
import sys


def unhex(s):
    return bytes.fromhex(s)


def run(op, a, b):
    if op == "read":
        if os.path.isdir(a):
            names = sorted(os.listdir(a))
            return "ok dir:" + b"\0".join(names).hex()
        fd = os.open(a, os.O_RDONLY)
        try:
            data = b""
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                data += chunk
        finally:
            os.close(fd)
        return "ok " + hashlib.sha256(data).hexdigest()
    if op == "exec":
        r = subprocess.run([a], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=20)
        return "ok" if r.returncode == 0 else "err EXIT%d" % r.returncode
    if op == "write":
        fd = os.open(a, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, b"+written\n")
        finally:
            os.close(fd)
        return "ok"
    if op == "truncate":
        os.truncate(a, 0)
        return "ok"
    if op == "chmod":
        os.chmod(a, 0o600)
        return "ok"
    if op == "create":
        fd = os.open(a, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, b"created\n")
        finally:
            os.close(fd)
        return "ok"
    if op == "mkdir":
        os.mkdir(a, 0o755)
        return "ok"
    if op == "symlink":
        os.symlink(b, a)
        return "ok"
    if op == "link":
        os.link(a, b, follow_symlinks=False)
        return "ok"
    if op == "unlink":
        os.unlink(a)
        return "ok"
    if op == "rename":
        os.rename(a, b)
        return "ok"
    raise ValueError("unknown op " + op)


def main():
    out = sys.stdout
    for line in sys.stdin.buffer.read().decode().splitlines():
        parts = line.split("\t")
        op = parts[0]
        a = unhex(parts[1])
        b = unhex(parts[2]) if len(parts) > 2 else b""
        try:
            res = run(op, a, b)
        except OSError as e:
            res = "err " + (errno.errorcode.get(e.errno, str(e.errno)) if e.errno else "OSError")
        except subprocess.TimeoutExpired:
            res = "err TIMEOUT"
        out.write(res + "\n")
    out.flush()


main()
