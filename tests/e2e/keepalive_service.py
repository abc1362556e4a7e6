#!/usr/bin/python3
"""A keep-alive HTTP/1.1 server for weft's end-to-end tests (the standard
library's: Werkzeug always answers `Connection: close`). No tracing code.
Copied as <name>.py so that weft names the service <name>.

    <name>.py PORT

GET /item/<n> answers STATUSES[n % 6]; GET /blob/<n> answers n bytes;
GET /close closes the connection without an answer; GET /exit ends the whole
process without an answer; every other GET answers 200 with the path as body.
Every answer has a Content-Length, so connections stay open.
"""
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATUSES = (200, 201, 202, 203, 404, 409)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.path == "/close":
            self.close_connection = True
            return
        if self.path == "/exit":
            os._exit(3)
        status = 200
        if self.path.startswith("/item/"):
            status = STATUSES[int(self.path.rsplit("/", 1)[-1]) % len(STATUSES)]
        body = ("%s\n" % self.path).encode()
        if self.path.startswith("/blob/"):
            body = b"x" * int(self.path.rsplit("/", 1)[-1])
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
