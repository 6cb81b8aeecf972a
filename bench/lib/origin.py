"""bench/run's egress origin: GET /big answers 100 MB from memory on 127.0.0.1:PORT (argv[1]);
creates argv[2] once listening."""
import http.server
import sys

BIG = 100 * 1024 * 1024
CHUNK = b"x" * (1 << 20)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(BIG))
        self.end_headers()
        for _ in range(BIG // len(CHUNK)):
            self.wfile.write(CHUNK)

    def log_message(self, *args):
        pass


srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
open(sys.argv[2], "w").close()
srv.serve_forever()
