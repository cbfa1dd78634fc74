#!/usr/bin/env python3
"""A fault-injecting HTTP proxy in front of moto_server (stdlib only).

Usage: fault_proxy.py UPSTREAM_PORT
Listens on 127.0.0.1 on a free port and prints "PORT <n>" on stdout. Forwards every request to
127.0.0.1:UPSTREAM_PORT unless a fault is armed.
Control:
- POST /__fault?kind=throttle|500|garbage|auth&count=N  -> the next N forwarded requests get
  throttle: 503 + EC2 RequestLimitExceeded XML; 500: 500 + InternalError XML; garbage: 200 + non-XML;
  auth: 401 + AuthFailure XML.
- GET /__stats -> {"requests": n, "faulted": n, "log": [{"action", "auth", "token"}...]} where auth is the
  Authorization header and token whether X-Amz-Security-Token was sent.
- POST /__reset -> clears counters and log.
"""
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import signal as _signal
# Launched from a Swift test, a child inherits the launching thread's blocked SIGTERM: restore it so a stop is immediate.
_signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTERM, _signal.SIGINT})
_signal.signal(_signal.SIGTERM, _signal.SIG_DFL)

UPSTREAM = int(sys.argv[1])
lock = threading.Lock()
state = {"kind": None, "count": 0, "requests": 0, "faulted": 0, "log": []}

XML_ERR = ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
           '<Message>%s</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>')


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="text/xml"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlparse(self.path)
        if url.path == "/__fault":
            q = urllib.parse.parse_qs(url.query)
            with lock:
                state["kind"] = q["kind"][0]
                state["count"] = int(q["count"][0])
            return self.reply(200, "ok", "text/plain")
        if url.path == "/__stats":
            with lock:
                return self.reply(200, json.dumps({k: state[k] for k in ("requests", "faulted", "log")}), "application/json")
        if url.path == "/__reset":
            with lock:
                state.update(kind=None, count=0, requests=0, faulted=0, log=[])
            return self.reply(200, "ok", "text/plain")
        params = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body else urllib.parse.parse_qs(url.query)
        with lock:
            state["requests"] += 1
            state["log"].append({"action": (params.get("Action") or [""])[0],
                                 "auth": self.headers.get("Authorization", ""),
                                 "token": self.headers.get("X-Amz-Security-Token") is not None})
            fault = None
            if state["count"] > 0:
                state["count"] -= 1
                state["faulted"] += 1
                fault = state["kind"]
        if fault == "throttle":
            return self.reply(503, XML_ERR % ("RequestLimitExceeded", "Request limit exceeded."))
        if fault == "500":
            return self.reply(500, XML_ERR % ("InternalError", "An internal error has occurred"))
        if fault == "garbage":
            return self.reply(200, "<html><body>proxy error", "text/html")
        if fault == "auth":
            return self.reply(401, XML_ERR % ("AuthFailure", "AWS was not able to validate the provided access credentials"))
        # As long as the EC2 provider's longest `timeout` (5m): moto takes over a minute for 5,000 instances in one
        # page, and cutting it off would read as an EC2 outage the bench can never get past.
        conn = http.client.HTTPConnection("127.0.0.1", UPSTREAM, timeout=300)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection", "accept-encoding")}
        headers["Host"] = "127.0.0.1:%d" % UPSTREAM
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()

    do_GET = handle_any
    do_POST = handle_any
    do_PUT = handle_any


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT %d" % server.server_address[1], flush=True)
server.serve_forever()
