"""Inside the sandbox: CONNECT through the proxy, then send a real ClientHello naming argv[2]
for a tunnel to argv[1]; prints the CONNECT status line and what came back."""
import os
import socket
import ssl
import sys

target, sni = sys.argv[1], sys.argv[2]
proxy = os.environ["HTTPS_PROXY"].split("://", 1)[1].rstrip("/")
host, port = proxy.rsplit(":", 1)

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
obj = ctx.wrap_bio(incoming, outgoing, server_hostname=sni)
try:
    obj.do_handshake()
except ssl.SSLWantReadError:
    pass
hello = outgoing.read()

s = socket.create_connection((host, int(port)), timeout=15)
s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    c = s.recv(1)
    if not c:
        break
    head += c
s.sendall(hello)
try:
    data = s.recv(100).decode(errors="replace")
except OSError as e:
    data = f"error {e}"
status = head.split(b"\r\n")[0].decode()
print(f"status={status} reply={data or 'closed'}")
