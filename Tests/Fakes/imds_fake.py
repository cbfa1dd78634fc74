#!/usr/bin/env python3
"""A minimal IMDSv2 fake (stdlib only) for the EC2 provider credential tests.

Usage: imds_fake.py ACCESS_KEY SECRET TOKEN REGION [EXPIRATION]
Listens on 127.0.0.1 on a free port and prints "PORT <n>" on stdout.
- PUT /latest/api/token needs X-aws-ec2-metadata-token-ttl-seconds; answers a session token.
- GET /latest/meta-data/... needs header X-aws-ec2-metadata-token with that token, else 401 (IMDSv1 refused).
- GET /__stats -> {"token_puts": n, "unauthorized": n, "credential_gets": n}
"""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import signal as _signal
# Launched from a Swift test, a child inherits the launching thread's blocked SIGTERM: restore it so a stop is immediate.
_signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTERM, _signal.SIGINT})
_signal.signal(_signal.SIGTERM, _signal.SIG_DFL)

KEY, SECRET, TOKEN, REGION = sys.argv[1:5]
EXPIRATION = sys.argv[5] if len(sys.argv) > 5 else "2099-01-01T00:00:00Z"
ROLE = "discovery-test-role"
SESSION = "imds-session-token-123"
stats = {"token_puts": 0, "unauthorized": 0, "credential_gets": 0}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path != "/latest/api/token" or not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            return self.reply(400, "missing ttl header")
        with lock:
            stats["token_puts"] += 1
        self.reply(200, SESSION)

    def do_GET(self):
        if self.path == "/__stats":
            with lock:
                return self.reply(200, json.dumps(stats), "application/json")
        if self.headers.get("X-aws-ec2-metadata-token") != SESSION:
            with lock:
                stats["unauthorized"] += 1
            return self.reply(401, "")
        if self.path == "/latest/meta-data/placement/region":
            return self.reply(200, REGION)
        if self.path == "/latest/meta-data/iam/security-credentials/":
            return self.reply(200, ROLE)
        if self.path == "/latest/meta-data/iam/security-credentials/" + ROLE:
            with lock:
                stats["credential_gets"] += 1
            return self.reply(200, json.dumps({
                "Code": "Success", "LastUpdated": "2024-01-01T00:00:00Z", "Type": "AWS-HMAC",
                "AccessKeyId": KEY, "SecretAccessKey": SECRET, "Token": TOKEN, "Expiration": EXPIRATION,
            }), "application/json")
        self.reply(404, "not found")


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("PORT %d" % server.server_address[1], flush=True)
server.serve_forever()
