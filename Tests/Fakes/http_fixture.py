#!/usr/bin/env python3
"""Tiny HTTP(S) fixture for the CurlHTTP tests (stdlib only).

Listens on 127.0.0.1 port 0, prints the port on the first stdout line, exits when stdin closes
or after --max-seconds.

  /echo            any method: JSON {method, path, body, headers}; also sends X-Multi twice
  /gzip            gzip-encoded text when the client accepts gzip
  /hang            never answers (sleeps up to 60 s)
  /status/<n>      status n with a plain-text body
  /big?n=<bytes>   n bytes of 'x'
"""
import argparse, gzip, json, os, ssl, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs
import signal as _signal
# Launched from a Swift test, a child inherits the launching thread's blocked SIGTERM: restore it so a stop is immediate.
_signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTERM, _signal.SIGINT})
_signal.signal(_signal.SIGTERM, _signal.SIG_DFL)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, ctype="text/plain", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if url.path == "/echo":
            doc = {
                "method": self.command,
                "path": self.path,
                "body": body.decode("utf-8", "replace"),
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
            self._send(200, json.dumps(doc).encode(), "application/json",
                       [("X-Fixture", "yes"), ("X-Multi", "a"), ("X-Multi", "b")])
        elif url.path == "/gzip":
            text = ("hello gzip " * 200).encode()
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                self._send(200, gzip.compress(text), extra=[("Content-Encoding", "gzip")])
            else:
                self._send(200, text)
        elif url.path == "/hang":
            time.sleep(60)
        elif url.path.startswith("/status/"):
            code = int(url.path.split("/")[2])
            self._send(code, ("status %d body" % code).encode())
        elif url.path == "/big":
            n = int(parse_qs(url.query).get("n", ["0"])[0])
            self._send(200, b"x" * n)
        else:
            self._send(404, b"not found")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    if args.tls_cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)

    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    srv.serve_forever()


if __name__ == "__main__":
    main()
