#!/usr/bin/env python3
"""An Auto Scaling interceptor in front of moto_server (stdlib only).

moto stores lifecycle hooks but does not implement CompleteLifecycleAction or RecordLifecycleActionHeartbeat
(see moto's IMPLEMENTATION_COVERAGE.md), so the EC2 event tests point `events.autoscaling_endpoint` here: these two
Query API actions are recorded and answered the way Auto Scaling answers them; every other request is forwarded
to moto unchanged.

Usage: autoscaling_recorder.py UPSTREAM_PORT
Listens on 127.0.0.1 on a free port and prints "PORT <n>" on stdout.
Control:
- GET /__calls -> [{"action", "params": {...}, "time": unix seconds, "signed": bool}, ...]
- POST /__fail?code=Throttling|ValidationError&count=N -> the next N recorded actions fail with that code
  (Throttling: HTTP 400 as AWS sends it; ValidationError: "No active Lifecycle Action found").
"""
import http.client
import json
import signal as _signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# Launched from a Swift test, a child inherits the launching thread's blocked SIGTERM: restore it.
_signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTERM, _signal.SIGINT})
_signal.signal(_signal.SIGTERM, _signal.SIG_DFL)

UPSTREAM = int(sys.argv[1])
lock = threading.Lock()
calls = []
fault = {"code": None, "count": 0}
RECORDED = ("CompleteLifecycleAction", "RecordLifecycleActionHeartbeat")
NS = "http://autoscaling.amazonaws.com/doc/2011-01-01/"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="text/xml"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlparse(self.path)
        if url.path == "/__calls":
            with lock:
                return self.reply(200, json.dumps(calls), "application/json")
        if url.path == "/__fail":
            q = urllib.parse.parse_qs(url.query)
            with lock:
                fault["code"] = q["code"][0]
                fault["count"] = int(q["count"][0])
            return self.reply(200, "ok", "text/plain")
        params = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace")).items()}
        params.update({k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()})
        action = params.get("Action")
        if action in RECORDED:
            with lock:
                code = None
                if fault["count"] > 0:
                    fault["count"] -= 1
                    code = fault["code"]
                calls.append({"action": action, "params": params, "time": time.time(),
                              "signed": "AWS4-HMAC-SHA256" in (self.headers.get("Authorization") or ""),
                              "failed": code})
            if code == "Throttling":
                return self.reply(400, '<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>Throttling</Code>'
                                       '<Message>Rate exceeded</Message></Error><RequestId>r</RequestId></ErrorResponse>' % NS)
            if code == "ValidationError":
                return self.reply(400, '<ErrorResponse xmlns="%s"><Error><Type>Sender</Type><Code>ValidationError</Code>'
                                       '<Message>No active Lifecycle Action found with token %s</Message></Error>'
                                       '<RequestId>r</RequestId></ErrorResponse>' % (NS, params.get("LifecycleActionToken", "")))
            return self.reply(200, '<%sResponse xmlns="%s"><%sResult/><ResponseMetadata><RequestId>recorded</RequestId>'
                                   '</ResponseMetadata></%sResponse>' % (action, NS, action, action))
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length", "connection")}
        conn.request(self.command, self.path, body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "server", "date"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = handle_any
    do_POST = handle_any


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
