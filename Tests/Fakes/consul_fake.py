#!/usr/bin/env python3
"""In-memory fake of the Consul HTTP API parts discovery-bridge uses (stdlib only).

Listens on 127.0.0.1 port 0, prints the port on the first stdout line, exits when stdin closes or after
--max-seconds. Served: GET /v1/health/service/<name>, GET /v1/health/state/<state> (any, passing, warning,
critical: every check in that state, node checks included, with CreateIndex/ModifyIndex; blocking on the checks
table's index, as Consul's ChecksInState) and GET /v1/catalog/services (blocking on the services table's index:
it moves on every registration change, not only when a name appears), all blocking on index + wait, with X-Consul-Index / X-Consul-KnownLeader / X-Consul-LastContact headers, `tag` (repeatable, all
required, case-insensitive), `dc`, `stale`, `cached`, `node-meta=k:v` and a minimal `filter`
(`Service.Meta.k == "v"`, `"t" in Service.Tags`, joined with ` and `). With --acl-token T every API request needs
X-Consul-Token T: missing -> 403 "Permission denied: ...", wrong -> 403 "ACL not found".

Consul's per-client connection limit (`limits.http_max_conns_per_client`, --max-conns-per-client, default 200) is
enforced as hashicorp/go-connlimit does it: a connection beyond the limit from one IP gets a raw
"HTTP/1.1 429 Your IP is issuing too many concurrent connections, please rate limit your calls" written before the
request is read, and is closed. With --tls-cert/--tls-key the same API is served over TLS by hypercorn, which
negotiates HTTP/2 (ALPN h2, --h2-streams concurrent streams per connection, 250 like Go's server) or HTTP/1.1;
the first stdout line is then "<tls port> <control port>", the second a plain HTTP listener for the test's own
calls (same state, not under the connection limit).

Control (POST JSON unless noted), under /_fake/:
  register     {service, id, node, node_address, address?, port, tags?, meta?, weights?, tagged_addresses?,
                node_tagged_addresses?, node_meta?, checks?: [{id, status}]}   (checks are service checks)
  register_many {instances: [register bodies]}   one registration each, in one call (test setup at scale)
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
  stats        GET                      {"paths": {path: count}, "queries": [[time, path, query, has_token], ...],
                                         "connections": {open, peak, accepted, refused}}  (plain HTTP listener)
  reset_stats  {}                       forget paths, queries and the connection peak (counters restart from now)
"""
import argparse, json, os, random, re, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs, unquote
import signal as _signal
# Launched from a Swift test, a child inherits the launching thread's blocked SIGTERM: restore it so a stop is immediate.
_signal.pthread_sigmask(_signal.SIG_UNBLOCK, {_signal.SIGTERM, _signal.SIGINT})
_signal.signal(_signal.SIGTERM, _signal.SIG_DFL)

DC = "dc1"
BASE = threading.RLock()
lock = threading.Condition(BASE)
# One condition per thing a blocking query waits on ("svc:<name>", "catalog", "checks"), all on the one lock:
# a write wakes only the queries it concerns (2,000 blocked watches must not all wake for one change).
TOPICS = {}


def topic(name):
    c = TOPICS.get(name)
    if c is None:
        c = TOPICS[name] = threading.Condition(BASE)
    return c


def notify_everything():
    lock.notify_all()
    for c in list(TOPICS.values()):
        c.notify_all()
    wake_async()


# The TLS listener's blocking queries wait as coroutines, not threads, by topic like the threads above: a write wakes
# only the queries it concerns (2,000 per-service streams woken for every change kept the fake's one core busy), and
# each re-checks its own index.
ASYNC_WAITERS = {}


def wake_async(topics=None):
    for name in (list(ASYNC_WAITERS) if topics is None else topics):
        for loop, event in list(ASYNC_WAITERS.get(name, ())):
            loop.call_soon_threadsafe(event.set)
state = {
    "raft": 10,
    "catalog_index": 1,
    "checks_index": 1,
    "check_index": {},      # (node, check id, service id) -> [create, modify]
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
# Serialized answers of the big endpoints, by the index (and parameters) they were built at: a change is
# serialized once, not once per waiting client.
CACHE = {}


def bump(names, services=False, checks=False):
    """One raft write: the touched services' indexes move, and the services/checks tables' when touched."""
    state["raft"] += 1
    for n in names:
        state["service_index"][n] = state["raft"]
    if services:
        state["catalog_index"] = state["raft"]
    if checks:
        state["checks_index"] = state["raft"]
    for n in names:
        topic("svc:" + n).notify_all()
    if services:
        topic("catalog").notify_all()
    if checks:
        topic("checks").notify_all()
    lock.notify_all()
    wake_async(["svc:" + n for n in names] + (["catalog"] if services else []) + (["checks"] if checks else []))
    return state["raft"]


def touch_check(node, cid, sid, changed, index):
    """Records a check's CreateIndex/ModifyIndex (Consul keeps ModifyIndex when a write leaves the check the same)."""
    key = (node, cid, sid)
    if key not in state["check_index"]:
        state["check_index"][key] = [index, index]
    elif changed:
        state["check_index"][key][1] = index


def node_check_rows():
    out = []
    for node, n in sorted(state["nodes"].items()):
        for cid, status in sorted(n["checks"].items()):
            ci = state["check_index"].get((node, cid, ""), [1, 1])
            out.append({"Node": node, "CheckID": cid, "Name": cid, "Status": status, "Notes": "", "Output": "",
                        "ServiceID": "", "ServiceName": "", "ServiceTags": [], "Type": "",
                        "CreateIndex": ci[0], "ModifyIndex": ci[1]})
    return out


def service_check_rows(name):
    out = []
    for (node, _), inst in sorted(state["instances"].get(name, {}).items()):
        for cid, status in sorted(inst["checks"].items()):
            ci = state["check_index"].get((node, cid, inst["id"]), [1, 1])
            out.append({"Node": node, "CheckID": cid, "Name": cid, "Status": status, "Notes": "", "Output": "",
                        "ServiceID": inst["id"], "ServiceName": name, "ServiceTags": inst["tags"], "Type": "",
                        "CreateIndex": ci[0], "ModifyIndex": ci[1]})
    return out


def all_checks():
    """Every check as /v1/health/state/any lists it: node checks, then service checks."""
    out = node_check_rows()
    for name in sorted(state["instances"]):
        out += service_check_rows(name)
    return out


# Serialized pieces of the big answers, per service, valid while that service's index stays where it was: every
# write that touches a service's instances, checks or tags moves its index (bump). Consul serves these answers from
# memdb in a few milliseconds at thousands of checks; rebuilding and re-encoding every row in Python on each change
# took 30-60 ms at 2,000 services and made the fake, not the bridge, the slow part of a change. Cleared when indexes
# are reset (they would repeat).
FRAGMENTS = {"checks": {}, "catalog": {}}


def fragment(kind, name, build):
    idx = state["service_index"].get(name, 1)
    hit = FRAGMENTS[kind].get(name)
    if hit is None or hit[0] != idx:
        hit = FRAGMENTS[kind][name] = (idx, build())
    return hit[1]


def all_checks_json():
    """all_checks() serialized, reusing each unchanged service's rows."""
    parts = [json.dumps(r) for r in node_check_rows()]
    for name in sorted(state["instances"]):
        part = fragment("checks", name, lambda: ", ".join(json.dumps(r) for r in service_check_rows(name)))
        if part:
            parts.append(part)
    return "[" + ", ".join(parts) + "]"


def catalog_json():
    """/v1/catalog/services: every service name (sorted, as Consul's memdb index is) with the union of its tags."""
    parts = []
    for name in sorted(state["instances"]):
        insts = state["instances"][name]
        parts.append(fragment("catalog", name,
                              lambda: json.dumps(name) + ": " + json.dumps(sorted({t for i in insts.values() for t in i["tags"]}))))
    return "{" + ", ".join(parts) + "}"


def register(doc):
    """One registration (one raft write): the service instance, its node and its checks."""
    name, node = doc["service"], doc["node"]
    n = state["nodes"].setdefault(node, {"address": doc.get("node_address", "127.0.0.1"),
                                         "tagged": {}, "meta": {}, "checks": {}})
    n["address"] = doc.get("node_address", n["address"])
    n["tagged"] = doc.get("node_tagged_addresses", n["tagged"])
    n["meta"] = doc.get("node_meta", n["meta"])
    insts = state["instances"].setdefault(name, {})
    old = insts.get((node, doc["id"]))
    insts[(node, doc["id"])] = {
        "id": doc["id"], "node": node, "address": doc.get("address", ""), "port": doc.get("port", 0),
        "tags": doc.get("tags", []), "meta": doc.get("meta", {}),
        "weights": doc.get("weights", {"Passing": 1, "Warning": 1}),
        "tagged": doc.get("tagged_addresses", {}),
        "checks": {c["id"]: c["status"] for c in doc.get("checks", [])},
    }
    new = insts[(node, doc["id"])]
    old_checks = old["checks"] if old else {}
    checks_changed = old_checks != new["checks"]
    index = bump([name], services=True, checks=checks_changed)
    for cid, status in new["checks"].items():
        touch_check(node, cid, doc["id"], old_checks.get(cid) != status, index)
    for cid in set(old_checks) - set(new["checks"]):
        state["check_index"].pop((node, cid, doc["id"]), None)


def services_on_node(node):
    return [name for name, insts in state["instances"].items() if any(k[0] == node for k in insts)]


def jittered(wait):
    """Consul adds up to wait/16 at random to a blocking query's wait (blockingQuery's RandomStagger), so queries
    started together do not all time out together."""
    return wait + random.uniform(0, wait / 16)


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


def match_check_filter(expr, check):
    """`ServiceName == "x"` and `ServiceName in ["a", "b"]` clauses joined with ` or ` (what a feed would send)."""
    for clause in expr.split(" or "):
        clause = clause.strip()
        m = re.fullmatch(r'ServiceName\s*==\s*"([^"]*)"', clause)
        if m:
            if check["ServiceName"] == m.group(1):
                return True
            continue
        m = re.fullmatch(r'ServiceName\s+in\s+\[(.*)\]', clause)
        if m:
            if check["ServiceName"] in re.findall(r'"([^"]*)"', m.group(1)):
                return True
            continue
        raise ValueError("Failed to parse filter: " + clause)
    return False


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

    def wait_or_gone(self, deadline, on=None):
        """Waits (lock held) for a write or the deadline; True when the client hung up meanwhile.

        Go's HTTP server notices a closed connection during a blocking query and frees its slot at once; so must the
        fake, or a client that cancels its queries would still count against the per-client connection limit."""
        (on or lock).wait(max(0.01, min(1.0, deadline - time.time())))
        conn = getattr(self, "connection", None)
        if conn is None:
            return False
        import select, socket
        try:
            readable, _, _ = select.select([conn], [], [], 0)
            if readable and conn.recv(1, socket.MSG_PEEK) == b"":
                self.close_connection = True
                return True
        except (OSError, ValueError):
            self.close_connection = True
            return True
        return False

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
                register(doc)
            elif op == "register_many":
                for one in doc.get("instances", []):
                    register(one)
            elif op == "deregister":
                insts = state["instances"].get(doc["service"], {})
                had_checks = False
                for one in doc.get("instances", [doc]):
                    gone = insts.pop((one["node"], one["id"]), None)
                    if gone and gone["checks"]:
                        had_checks = True
                        for cid in gone["checks"]:
                            state["check_index"].pop((one["node"], cid, one["id"]), None)
                if not insts:
                    state["instances"].pop(doc["service"], None)
                bump([doc["service"]], services=True, checks=had_checks)
            elif op == "check":
                node = doc["node"]
                if doc.get("service_id"):
                    touched = []
                    changed = False
                    for name, insts in state["instances"].items():
                        inst = insts.get((node, doc["service_id"]))
                        if inst is not None:
                            changed = changed or inst["checks"].get(doc["id"]) != doc["status"]
                            inst["checks"][doc["id"]] = doc["status"]
                            touched.append(name)
                    index = bump(touched, checks=True)
                    touch_check(node, doc["id"], doc["service_id"], changed, index)
                else:
                    n = state["nodes"].setdefault(node, {"address": "127.0.0.1", "tagged": {}, "meta": {}, "checks": {}})
                    changed = n["checks"].get(doc["id"]) != doc["status"]
                    n["checks"][doc["id"]] = doc["status"]
                    index = bump(services_on_node(node), checks=True)
                    touch_check(node, doc["id"], "", changed, index)
            elif op == "fail":
                state["fail"] = [(doc.get("status", 500), doc.get("body", "No cluster leader"))] * doc.get("count", 1)
            elif op == "hang":
                state["hang"] = bool(doc.get("enabled", True))
                notify_everything()
            elif op == "leader":
                state["known_leader"] = bool(doc.get("known", True))
                state["last_contact"] = int(doc.get("last_contact_ms", 0))
                notify_everything()
            elif op == "reset_index":
                state["raft"] = 2
                state["catalog_index"] = 2
                state["checks_index"] = 2
                for k in state["service_index"]:
                    state["service_index"][k] = 2
                for v in state["check_index"].values():
                    v[0] = v[1] = 2
                FRAGMENTS["checks"].clear()
                FRAGMENTS["catalog"].clear()
                notify_everything()
            elif op == "no_block":
                state["no_block"] = bool(doc.get("enabled", True))
                notify_everything()
            elif op == "refuse":
                CURRENT["back_at"] = time.time() + float(doc.get("seconds", 1))
                threading.Thread(target=CURRENT["server"].shutdown, daemon=True).start()
            elif op == "empty":
                state["empty"] = bool(doc.get("enabled", True))
                # Emptying and refilling both change what the agent serves, so both move the index (as a real agent's sync does).
                bump(list(state["instances"].keys()), checks=True)
            elif op == "reset_stats":
                state["paths"] = {}
                state["queries"] = []
                with CONNS["lock"]:
                    CONNS["peak"] = sum(CONNS["open"].values())
                    CONNS["refused"] = 0
                    CONNS["accepted"] = 0
            else:
                return self.send(404, "unknown control " + str(op))
        self.send(200, "{}", "application/json")

    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/_fake/stats":
            with lock:
                with CONNS["lock"]:
                    conns = {"open": sum(CONNS["open"].values()), "peak": CONNS["peak"],
                             "accepted": CONNS["accepted"], "refused": CONNS["refused"]}
                body = json.dumps({"paths": state["paths"], "queries": state["queries"][-500:], "connections": conns})
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
        deadline = time.time() + jittered(wait)

        if url.path == "/v1/catalog/services":
            with lock:
                while index > 0 and state["catalog_index"] <= index and time.time() < deadline:
                    if self.wait_or_gone(deadline, topic("catalog")):
                        return
                key = ("catalog", state["catalog_index"])
                if CACHE.get("catalog", (None,))[0] != key:
                    CACHE["catalog"] = (key, catalog_json())
                body = CACHE["catalog"][1]
                headers = self.consul_headers(state["catalog_index"])
            return self.send(200, body, "application/json", headers)

        if url.path.startswith("/v1/health/state/"):
            wanted = url.path[len("/v1/health/state/"):]
            if wanted not in ("any", "passing", "warning", "critical"):
                return self.send(400, "Invalid check state: " + wanted)
            with lock:
                while (index > 0 and not state["no_block"] and state["checks_index"] <= index
                       and time.time() < deadline):
                    if self.wait_or_gone(deadline, topic("checks")):
                        return
                key = (state["checks_index"], state["empty"], wanted, q.get("filter", [""])[0])
                if CACHE.get("checks", (None,))[0] != key:
                    if state["empty"]:
                        CACHE["checks"] = (key, "[]")
                    elif wanted == "any" and "filter" not in q:
                        CACHE["checks"] = (key, all_checks_json())
                    else:
                        checks = all_checks()
                        if wanted != "any":
                            checks = [c for c in checks if c["Status"] == wanted]
                        if "filter" in q:
                            try:
                                checks = [c for c in checks if match_check_filter(q["filter"][0], c)]
                            except ValueError as e:
                                return self.send(500, str(e))
                        CACHE["checks"] = (key, json.dumps(checks))
                body = CACHE["checks"][1]
                headers = self.consul_headers(state["checks_index"])
            return self.send(200, body, "application/json", headers)

        if url.path.startswith("/v1/health/service/"):
            name = unquote(url.path[len("/v1/health/service/"):])
            with lock:
                while (index > 0 and not state["no_block"] and state["service_index"].get(name, 1) <= index
                       and time.time() < deadline):
                    if self.wait_or_gone(deadline, topic("svc:" + name)):
                        return
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
                headers = self.consul_headers(svc_index)
            return self.send(200, body, "application/json", headers)

        self.send(404, "Invalid URL path: " + url.path)


CONNS = {"lock": threading.Lock(), "open": {}, "peak": 0, "accepted": 0, "refused": 0, "limit": 200, "live": set()}
# go-connlimit's answer (hashicorp/go-connlimit, used by Consul's HTTP server): written raw, before the request is read.
CONNLIMIT_429 = b"HTTP/1.1 429 Your IP is issuing too many concurrent connections, please rate limit your calls\r\n\r\n"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def process_request(self, request, client_address):
        ip = client_address[0]
        with CONNS["lock"]:
            current = CONNS["open"].get(ip, 0)
            refuse = CONNS["limit"] > 0 and current >= CONNS["limit"]
            if refuse:
                CONNS["refused"] += 1
            else:
                CONNS["open"][ip] = current + 1
                CONNS["accepted"] += 1
                CONNS["live"].add(id(request))
                CONNS["peak"] = max(CONNS["peak"], sum(CONNS["open"].values()))
        if refuse:
            try:
                request.settimeout(1)
                request.sendall(CONNLIMIT_429)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except Exception:
            self.release(request, ip)
            raise

    def handle_error(self, request, client_address):
        # A client that hangs up mid-request (a cancelled blocking query) is normal, not worth a traceback.
        if isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def release(self, request, ip):
        with CONNS["lock"]:
            if id(request) in CONNS["live"]:
                CONNS["live"].discard(id(request))
                CONNS["open"][ip] = max(0, CONNS["open"].get(ip, 1) - 1)

    def shutdown_request(self, request):
        try:
            ip = request.getpeername()[0]
        except OSError:
            ip = "127.0.0.1"
        self.release(request, ip)
        super().shutdown_request(request)


class ControlServer(ThreadingHTTPServer):
    """The TLS mode's plain listener for the test's control calls: same handler, no connection limit."""
    daemon_threads = True


class Call:
    """One ASGI request dressed as the stdlib handler, so the TLS listener serves exactly the same API."""
    consul_headers = Handler.consul_headers
    do_GET = Handler.do_GET
    do_POST = Handler.do_POST

    def __init__(self, path, headers, body):
        self.path = path
        self.headers = headers
        self.rfile = __import__("io").BytesIO(body)
        self.close_connection = False
        self.answer = None

    def send(self, status, body, ctype="text/plain", headers=()):
        data = body if isinstance(body, bytes) else body.encode()
        self.answer = (status, [("content-type", ctype)] + [(k.lower(), str(v)) for k, v in headers], data)


async def wait_async(path):
    """Waits out a blocking query's index as a coroutine; returns the path to answer now (index dropped)."""
    import asyncio
    url = urlparse(path)
    q = parse_qs(url.query, keep_blank_values=True)
    try:
        index = int(q.get("index", ["0"])[0])
    except ValueError:
        return path
    wait = parse_wait(q.get("wait", ["5m"])[0])
    if index <= 0 or wait is None:
        return path
    if url.path == "/v1/catalog/services":
        current, name = (lambda: state["catalog_index"]), "catalog"
    elif url.path.startswith("/v1/health/state/"):
        current, name = (lambda: state["checks_index"]), "checks"
    elif url.path.startswith("/v1/health/service/"):
        service = unquote(url.path[len("/v1/health/service/"):])
        current, name = (lambda: state["service_index"].get(service, 1)), "svc:" + service
    else:
        return path
    deadline = time.time() + jittered(min(wait, 600))
    loop = asyncio.get_running_loop()
    event = asyncio.Event()
    waiter = (loop, event)
    ASYNC_WAITERS.setdefault(name, set()).add(waiter)
    try:
        while current() <= index and not state["no_block"] and time.time() < deadline:
            event.clear()
            try:
                await asyncio.wait_for(event.wait(), timeout=max(0.01, deadline - time.time()))
            except asyncio.TimeoutError:
                pass
    finally:
        ASYNC_WAITERS.get(name, set()).discard(waiter)
    q.pop("index", None)
    q.pop("wait", None)
    from urllib.parse import urlencode
    return url.path + ("?" + urlencode(q, doseq=True) if q else "")


def serve_tls(args, watch_stdin):
    """Serves the API over TLS with hypercorn (HTTP/2 via ALPN): blocking waits as coroutines, GETs answered on the
    event loop, control calls (and GETs while `hang` is on) on a thread pool."""
    import asyncio, socket
    from concurrent.futures import ThreadPoolExecutor
    from hypercorn.asyncio import serve
    from hypercorn.config import Config
    from email.message import Message

    pool = ThreadPoolExecutor(max_workers=4096)

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        headers = Message()
        for k, v in scope["headers"]:
            headers[k.decode("latin-1")] = v.decode("latin-1")
        path = scope["raw_path"].decode("latin-1")
        if scope.get("query_string"):
            path += "?" + scope["query_string"].decode("latin-1")
        if scope["method"] == "GET":
            path = await wait_async(path)
        call = Call(path, headers, body)
        if scope["method"] == "GET" and not state["hang"] and not path.startswith("/_fake/"):
            # The index is waited out above: what is left answers at once, so it runs here rather than paying a
            # thread hop per request (hundreds a second at 2,000 per-service streams with a short wait).
            Call.do_GET(call)
        else:
            method = Call.do_POST if scope["method"] == "POST" else Call.do_GET
            await asyncio.get_running_loop().run_in_executor(pool, method, call)
        status, hdrs, data = call.answer or (503, [("content-type", "text/plain")], b"hung up")
        hdrs.append(("content-length", str(len(data))))
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in hdrs]})
        await send({"type": "http.response.body", "body": data})

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    # The test's own calls (control, stats) go to a plain HTTP listener on the same state: a write then costs what
    # it costs against a Consul agent, not a round of pure-Python TLS and HTTP/2 framing queued behind the bridge's
    # streams. Its connections are not counted against the per-client limit (the bridge never uses it).
    control = ControlServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(sock.getsockname()[1], control.server_address[1], flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
    config = Config()
    config.bind = ["fd://%d" % sock.fileno()]
    config.certfile = args.tls_cert
    config.keyfile = args.tls_key
    config.alpn_protocols = ["h2", "http/1.1"]
    config.h2_max_concurrent_streams = args.h2_streams
    config.keep_alive_timeout = 3600
    config.read_timeout = None
    config.accesslog = None
    config.errorlog = None
    async def main():
        # Clients hanging up mid-stream (cancelled blocking queries) are normal: no tracebacks for them.
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: None)
        await serve(app, config)

    asyncio.run(main())


def main():
    global ACL_TOKEN
    ap = argparse.ArgumentParser()
    ap.add_argument("--acl-token")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--max-conns-per-client", type=int, default=200,
                    help="Consul's limits.http_max_conns_per_client (0: no limit)")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--h2-streams", type=int, default=250)
    args = ap.parse_args()
    ACL_TOKEN = args.acl_token
    CONNS["limit"] = args.max_conns_per_client

    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            os._exit(0)

    threading.Timer(args.max_seconds, lambda: os._exit(0)).start()
    if args.tls_cert:
        serve_tls(args, watch_stdin)
        return
    srv = Server(("127.0.0.1", 0), Handler)
    port = srv.server_address[1]
    print(port, flush=True)
    threading.Thread(target=watch_stdin, daemon=True).start()
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
