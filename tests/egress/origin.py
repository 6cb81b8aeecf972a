"""The e2e origin: HTTP on 127.0.0.1:80 and a TLS-port stand-in on 127.0.0.1:443, inside the
test's own network namespace. Creates the file named by argv[1] once both listen."""
import http.server
import socket
import socketserver
import sys
import threading

BIG = 100 * 1024 * 1024
CHUNK = b"x" * (1 << 20)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            for _ in range(BIG // len(CHUNK)):
                self.wfile.write(CHUNK)
            return
        body = f"origin-ok {self.path} host={self.headers.get('Host')}\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Tls(socketserver.BaseRequestHandler):
    """Answers `tls-hello-seen` to anything that starts like a TLS handshake record."""

    def handle(self):
        self.request.settimeout(10)
        data = self.request.recv(16384)
        if data[:1] == b"\x16":
            self.request.sendall(b"tls-hello-seen")


class Threaded(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


http_srv = http.server.ThreadingHTTPServer(("127.0.0.1", 80), Handler)
tls_srv = Threaded(("127.0.0.1", 443), Tls)
for s in (http_srv, tls_srv):
    threading.Thread(target=s.serve_forever, daemon=True).start()
open(sys.argv[1], "w").close()
threading.Event().wait()
