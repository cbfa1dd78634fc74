#!/usr/bin/env python3
"""In-memory fake of the Consul HTTP API parts discovery-bridge uses (stdlib only).

Listens on 127.0.0.1 port 0, prints the port on the first stdout line, exits when stdin closes or after
--max-seconds. Served: GET /v1/health/service/<name> and GET /v1/catalog/services, both blocking on
index + wait, with X-Consul-Index / X-Consul-KnownLeader / X-Consul-LastContact headers, `tag` (repeatable, all
required, case-insensitive), `dc`, `stale`, `cached`, `node-meta=k:v` and a minimal `filter`
(`Service.Meta.k == "v"`, `"t" in Service.Tags`, joined with ` and `). With --acl-token T every API request needs
X-Consul-Token T: missing -> 403 "Permission denied: ...", wrong -> 403 "ACL not found".

Control (POST JSON unless noted), under /_fake/:
  register     {service, id, node, node_address, address?, port, tags?, meta?, weights?, tagged_addresses?,
                node_tagged_addresses?, node_meta?, checks?: [{id, status}]}   (checks are service checks)
  deregister   {service, id, node} or {service, instances: [{id, node}, ...]} (one index bump)
  check        {node, id, status, service_id?}   service check when service_id is given, else a node check;
               maintenance = id "_service_maintenance:<sid>" / "_node_maintenance" with status critical
  fail         {count, status, body}   the next `count` API requests answer `status` with a text body
  hang         {enabled}                API requests hang (no answer) while enabled
  leader       {known, last_contact_ms}
  reset_index  {}                       simulate a snapshot restore: every index goes back to a small value
  empty        {enabled}                health answers [] (a freshly restarted agent)
  refuse       {seconds}                stop listening (connection refused) for `seconds`, then serve again, same port and state
  no_block     {enabled}                health answers at once, ignoring index (to test the client's rate limit)
  stats        GET                      {"paths": {path: count}, "queries": [[time, path, query, has_token], ...]}
"""
import argparse, json, os, re, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs, unquote
import signal as _signal
# Launched from a Swift test, a child inherits the launching thread's blocked SIGTERM: restore it so a stop is immediate.
_signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTERM, _signal.SIGINT})
_signal.signal(_signal.SIGTERM, _signal.SIG_DFL)

DC = "dc1"
lock = threading.Condition()
state = {
    "raft": 10,
    "catalog_index": 1,
    "service_index": {},    # name -> index
    "instances": {},        # name -> {(node, id): dict}
    "nodes": {},            # node -> {address, tagged, meta, checks: {id: status}}
    "fail": [],             # list of (status, body)
    "hang": False,
    "known_leader": True,
    "last_contact": 0,
    "empty": False,
    "no_block": False,
    "paths": {},
    "queries": [],
}
ACL_TOKEN = None


def bump(names):
    state["raft"] += 1
    for n in names:
        state["service_index"][n] = state["raft"]
    lock.notify_all()


def services_on_node(node):
    return [name for name, insts in state["instances"].items() if any(k[0] == node for k in insts)]


def parse_wait(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m|h)?", text or "")
    if not m:
        return None
    v = float(m.group(1))
    return v * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]


def match_filter(expr, inst):
    for clause in expr.split(" and "):
        clause = clause.strip()
        m = re.fullmatch(r'Service\.Meta\.(\w+)\s*==\s*"([^"]*)"', clause)
        if m:
            if inst["meta"].get(m.group(1)) != m.group(2):
                return False
            continue
        m = re.fullmatch(r'"([^"]*)"\s+in\s+Service\.Tags', clause)
        if m:
            if m.group(1) not in inst["tags"]:
                return False
            continue
        raise ValueError("Failed to parse filter: " + clause)
    return True


def entry(name, inst):
    node = state["nodes"][inst["node"]]
    checks = []
    for cid, status in sorted(node["checks"].items()):
        checks.append({"Node": inst["node"], "CheckID": cid, "Name": cid, "Status": status,
                       "ServiceID": "", "ServiceName": "", "Output": "", "Notes": ""})
    for cid, status in sorted(inst["checks"].items()):
        checks.append({"Node": inst["node"], "CheckID": cid, "Name": cid, "Status": status,
                       "ServiceID": inst["id"], "ServiceName": name, "Output": "", "Notes": ""})
    return {
        "Node": {"ID": "", "Node": inst["node"], "Address": node["address"], "Datacenter": DC,
                 "TaggedAddresses": node["tagged"], "Meta": node["meta"]},
        "Service": {"ID": inst["id"], "Service": name, "Tags": inst["tags"], "Meta": inst["meta"],
                    "Port": inst["port"], "Address": inst["address"], "TaggedAddresses": inst["tagged"],
                    "Weights": inst["weights"], "EnableTagOverride": False},
        "Checks": checks,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Like Consul (Go sets TCP_NODELAY): headers and body go out at once, no Nagle/delayed-ACK 40 ms stall.
        import socket
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def send(self, status, body, ctype="text/plain", headers=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def consul_headers(self, index):
        return [("X-Consul-Index", str(index)),
                ("X-Consul-KnownLeader", "true" if state["known_leader"] else "false"),
                ("X-Consul-LastContact", str(state["last_contact"]))]

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            doc = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self.send(400, "bad json")
        op = url.path[len("/_fake/"):] if url.path.startswith("/_fake/") else None
        with lock:
            if op == "register":
                name, node = doc["service"], doc["node"]
                n = state["nodes"].setdefault(node, {"address": doc.get("node_address", "127.0.0.1"),
                                                     "tagged": {}, "meta": {}, "checks": {}})
                n["address"] = doc.get("node_address", n["address"])
                n["tagged"] = doc.get("node_tagged_addresses", n["tagged"])
                n["meta"] = doc.get("node_meta", n["meta"])
                insts = state["instances"].setdefault(name, {})
                if not insts:
                    state["catalog_index"] = state["raft"] + 1
                insts[(node, doc["id"])] = {
                    "id": doc["id"], "node": node, "address": doc.get("address", ""), "port": doc.get("port", 0),
                    "tags": doc.get("tags", []), "meta": doc.get("meta", {}),
                    "weights": doc.get("weights", {"Passing": 1, "Warning": 1}),
                    "tagged": doc.get("tagged_addresses", {}),
                    "checks": {c["id"]: c["status"] for c in doc.get("checks", [])},
                }
                bump([name])
            elif op == "deregister":
                insts = state["instances"].get(doc["service"], {})
                for one in doc.get("instances", [doc]):
                    insts.pop((one["node"], one["id"]), None)
                if not insts:
                    state["instances"].pop(doc["service"], None)
                    state["catalog_index"] = state["raft"] + 1
                bump([doc["service"]])
            elif op == "check":
                node = doc["node"]
                if doc.get("service_id"):
                    touched = []
                    for name, insts in state["instances"].items():
                        inst = insts.get((node, doc["service_id"]))
                        if inst is not None:
                            inst["checks"][doc["id"]] = doc["status"]
                            touched.append(name)
                    bump(touched)
                else:
                    state["nodes"].setdefault(node, {"address": "127.0.0.1", "tagged": {}, "meta": {}, "checks": {}})
                    state["nodes"][node]["checks"][doc["id"]] = doc["status"]
                    bump(services_on_node(node))
            elif op == "fail":
                state["fail"] = [(doc.get("status", 500), doc.get("body", "No cluster leader"))] * doc.get("count", 1)
            elif op == "hang":
                state["hang"] = bool(doc.get("enabled", True))
                lock.notify_all()
            elif op == "leader":
                state["known_leader"] = bool(doc.get("known", True))
                state["last_contact"] = int(doc.get("last_contact_ms", 0))
                lock.notify_all()
            elif op == "reset_index":
                state["raft"] = 2
                state["catalog_index"] = 2
                for k in state["service_index"]:
                    state["service_index"][k] = 2
                lock.notify_all()
            elif op == "no_block":
                state["no_block"] = bool(doc.get("enabled", True))
                lock.notify_all()
            elif op == "refuse":
                CURRENT["back_at"] = time.time() + float(doc.get("seconds", 1))
                threading.Thread(target=CURRENT["server"].shutdown, daemon=True).start()
            elif op == "empty":
                state["empty"] = bool(doc.get("enabled", True))
                # Emptying and refilling both change what the agent serves, so both move the index (as a real agent's sync does).
                bump(list(state["instances"].keys()))
            else:
                return self.send(404, "unknown control " + str(op))
        self.send(200, "{}", "application/json")

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/_fake/stats":
            with lock:
                body = json.dumps({"paths": state["paths"], "queries": state["queries"][-500:]})
            return self.send(200, body, "application/json")
        q = parse_qs(url.query, keep_blank_values=True)
        token = self.headers.get("X-Consul-Token")
        with lock:
            state["paths"][url.path] = state["paths"].get(url.path, 0) + 1
            state["queries"].append([time.time(), url.path, url.query, token is not None])
            hang = state["hang"]
            failure = state["fail"].pop(0) if state["fail"] else None
        if hang:
            deadline = time.time() + 60
            with lock:
                while state["hang"] and time.time() < deadline:
                    lock.wait(0.5)
            self.close_connection = True
            return
        if failure:
            return self.send(failure[0], failure[1])
        if ACL_TOKEN is not None:
            if token is None:
                return self.send(403, "Permission denied: anonymous token lacks permission 'service:read'")
            if token != ACL_TOKEN:
                return self.send(403, "ACL not found")
        if "dc" in q and q["dc"][0] != DC:
            return self.send(500, "No path to datacenter")
        wait = parse_wait(q.get("wait", ["5m"])[0])
        if wait is None:
            return self.send(400, "Invalid wait time")
        wait = min(wait, 600)
        try:
            index = int(q.get("index", ["0"])[0])
        except ValueError:
            return self.send(400, "Invalid index")
        deadline = time.time() + wait

        if url.path == "/v1/catalog/services":
            with lock:
                while index > 0 and state["catalog_index"] <= index and time.time() < deadline:
                    lock.wait(max(0.01, deadline - time.time()))
                body = {}
                for name, insts in state["instances"].items():
                    tags = sorted({t for i in insts.values() for t in i["tags"]})
                    body[name] = tags
                return self.send(200, json.dumps(body), "application/json", self.consul_headers(state["catalog_index"]))

        if url.path.startswith("/v1/health/service/"):
            name = unquote(url.path[len("/v1/health/service/"):])
            with lock:
                while (index > 0 and not state["no_block"] and state["service_index"].get(name, 1) <= index
                       and time.time() < deadline):
                    lock.wait(max(0.01, deadline - time.time()))
                svc_index = state["service_index"].get(name, 1)
                insts = [] if state["empty"] else [i for _, i in sorted(state["instances"].get(name, {}).items())]
                tags = [t.lower() for t in q.get("tag", [])]
                insts = [i for i in insts if all(t in [x.lower() for x in i["tags"]] for t in tags)]
                for nm in q.get("node-meta", []):
                    k, _, v = nm.partition(":")
                    insts = [i for i in insts if state["nodes"][i["node"]]["meta"].get(k) == v]
                if "filter" in q:
                    try:
                        insts = [i for i in insts if match_filter(q["filter"][0], i)]
                    except ValueError as e:
                        return self.send(500, str(e))
                body = json.dumps([entry(name, i) for i in insts])
                return self.send(200, body, "application/json", self.consul_headers(svc_index))

        self.send(404, "Invalid URL path: " + url.path)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main():
    global ACL_TOKEN
    ap = argparse.ArgumentParser()
    ap.add_argument("--acl-token")
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()
    ACL_TOKEN = args.acl_token
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    print(port, flush=True)

    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()
    threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    CURRENT["server"] = srv
    while True:
        CURRENT["server"].serve_forever()
        # `refuse` stopped the server: nothing listens (connection refused) until it is due back, same port, same state.
        CURRENT["server"].server_close()
        time.sleep(max(0.0, CURRENT["back_at"] - time.time()))
        while True:
            try:
                CURRENT["server"] = Server(("127.0.0.1", port), Handler)
                break
            except OSError:
                time.sleep(0.05)


CURRENT = {"server": None, "back_at": 0.0}


if __name__ == "__main__":
    main()
