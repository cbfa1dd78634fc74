#!/usr/bin/env python3
"""A tiny HTTP backend for the demo: answers every request with its name. Listens on 127.0.0.1 only."""
import http.server
import sys


def main() -> None:
    port, name = int(sys.argv[1]), sys.argv[2]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/slow/"):
                # A long-running request, for drain tests: answers after the given seconds.
                import time
                time.sleep(float(self.path.split("/")[2]))
            body = f"hello from {name} (127.0.0.1:{port})\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    http.server.ThreadingHTTPServer.daemon_threads = True
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
