#!/usr/bin/env python3
"""Fixture REST server for the http provider tests (loopback only).

Started by the tests: binds 127.0.0.1 on a free port, prints "PORT <n>" on
stdout, and exits when its parent process goes away (or on /_shutdown).
Every request is counted by path; GET /_count?path=/users returns
{"count": n} for that path ("" for all), GET /_reset clears the counters.

Routes (all JSON):
  /users                      all users; ?ids=1,2,3 filters (batch lookups);
                              ?status= is echoed in each row
  /users/<id>                 one user object (404 if unknown)
  /users/<id>/orders          that user's orders
  /body_pages?cursor=N        {"data": [...], "next": "/body_pages?cursor=N+1"|null}
  /link_pages?p=N             rows, and a Link: <...>; rel="next" header
  /num_pages?page=N           rows for pages 1..3, [] after
  /limited?key=K&fail=N       429 + Retry-After: 1 for the first N hits of K
  /unavailable                always 503 (Retry-After: 0)
  /slow?ms=N                  answers after N ms
  /malformed                  invalid JSON
  /redirect_in                302 -> /users (same host)
  /redirect_out               302 -> http://localhost:<port>/users (another host name)
  /echo/...                   {"method", "path", "query", "auth", "body", "x_a"}
  /status/<code>              that status with a small JSON body
  POST /search                body {"ids": [...], "q": "..."} -> matching users
  /leak/<enc>                 400 whose body echoes the request's credentials
                              (bearer token, basic pair, X-Api-Key, api_key)
                              encoded as raw | b64 | pct | pctl | json
  /items/<x>                  [{"ok": true}] (the raw path is in /_seen)
  /redirect_to?url=U          302 -> U
  /next_to?url=U              one row and a Link: <U>; rel="next" header
  /_seen                      every request since /_reset: raw path, host,
                              Authorization, X-Api-Key
"""
import base64
import json
import os
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERS = [
    {"id": 1, "name": "Ann", "city": "Paris", "score": 1.5, "active": True, "tags": ["a", "b"]},
    {"id": 2, "name": "Bob", "city": "Oslo", "score": 2, "active": False, "tags": []},
    {"id": 3, "name": "Chloé", "city": "Paris", "score": None, "active": True, "tags": ["c"]},
    {"id": 4, "name": "Dan", "city": "Rome", "score": 4.25, "active": True, "tags": None},
    {"id": 5, "name": "Eve", "city": "Paris", "score": 5, "active": False, "tags": ["e"]},
]
ORDERS = {1: [{"order_id": 10, "amount": 9.5}, {"order_id": 11, "amount": 20}],
          3: [{"order_id": 30, "amount": 7}],
          5: [{"order_id": 50, "amount": 1}, {"order_id": 51, "amount": 2}, {"order_id": 52, "amount": 3}]}

LOCK = threading.Lock()
COUNTS = {}
HITS = {}
SEEN = []


def header_text(v):
    # http.server decodes header bytes as latin-1; give back the UTF-8 text.
    if v is None:
        return None
    try:
        return v.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return v


def leak_secrets(headers, query):
    out = []
    auth = header_text(headers.get("Authorization"))
    if auth:
        scheme, _, cred = auth.partition(" ")
        if scheme.lower() == "basic":
            out.append(base64.b64decode(cred).decode("utf-8", "replace"))
        else:
            out.append(cred)
    key = header_text(headers.get("X-Api-Key"))
    if key:
        out.append(key)
    out.extend(query.get("api_key", []))
    return out


def leak_encode(enc, s):
    b = s.encode("utf-8")
    if enc == "b64":
        return base64.b64encode(b).decode()
    if enc == "pct":
        return urllib.parse.quote(b, safe="")
    if enc == "pctl":
        return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), urllib.parse.quote(b, safe=""))
    if enc == "json":
        return json.dumps(s)
    return s


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send_json(self, code, obj, headers=None, raw=None):
        body = raw if raw is not None else json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.handle_any()

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def handle_any(self):
        u = urllib.parse.urlsplit(self.path)
        path = u.path
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if not path.startswith("/_"):
            with LOCK:
                SEEN.append({"raw_path": self.path, "host": self.headers.get("Host"),
                             "auth": self.headers.get("Authorization"),
                             "x_api_key": self.headers.get("X-Api-Key")})
                COUNTS[path] = COUNTS.get(path, 0) + 1
                COUNTS[""] = COUNTS.get("", 0) + 1
        host = self.headers.get("Host", "")
        port = self.server.server_address[1]

        if path == "/_count":
            p = q.get("path", [""])[0]
            with LOCK:
                return self.send_json(200, {"count": COUNTS.get(p, 0)})
        if path == "/_reset":
            with LOCK:
                COUNTS.clear()
                HITS.clear()
                del SEEN[:]
            return self.send_json(200, {"ok": True})
        if path == "/_seen":
            with LOCK:
                return self.send_json(200, list(SEEN))
        if path == "/_shutdown":
            self.send_json(200, {"ok": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return
        if path == "/users":
            rows = USERS
            if "ids" in q:
                wanted = set(int(x) for x in q["ids"][0].split(",") if x)
                rows = [r for r in USERS if r["id"] in wanted]
            if "status" in q:
                rows = [dict(r, status=q["status"][0]) for r in rows]
            return self.send_json(200, rows)
        parts = path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "users":
            try:
                uid = int(parts[1])
            except ValueError:
                return self.send_json(400, {"error": "bad id " + parts[1]})
            user = next((r for r in USERS if r["id"] == uid), None)
            if user is None:
                return self.send_json(404, {"error": "no such user"})
            if len(parts) == 2:
                return self.send_json(200, user)
            if parts[2] == "orders":
                rows = [dict(o, user_id=uid) for o in ORDERS.get(uid, [])]
                if "status" in q:
                    rows = [dict(r, status=q["status"][0]) for r in rows]
                return self.send_json(200, {"orders": rows, "user": uid})
        if path == "/body_pages":
            cur = int(q.get("cursor", ["1"])[0])
            nxt = "/body_pages?cursor=%d" % (cur + 1) if cur < 3 else None
            return self.send_json(200, {"data": [{"n": cur * 10 + i} for i in range(2)], "next": nxt})
        if path == "/link_pages":
            p = int(q.get("p", ["1"])[0])
            headers = {}
            if p < 4:
                headers["Link"] = '<http://%s/link_pages?p=%d>; rel="next", <http://%s/link_pages?p=4>; rel="last"' % (host, p + 1, host)
            return self.send_json(200, [{"p": p}], headers)
        if path == "/num_pages":
            page = int(q.get("page", ["1"])[0])
            size = int(q.get("size", ["2"])[0])
            rows = [{"page": page, "i": i} for i in range(size)] if page <= 3 else []
            return self.send_json(200, rows)
        if path == "/endless":
            return self.send_json(200, [{"x": 1}], {"Link": '</endless>; rel="next"'})
        if path == "/limited":
            key = q.get("key", [""])[0]
            fail = int(q.get("fail", ["1"])[0])
            with LOCK:
                HITS[key] = HITS.get(key, 0) + 1
                n = HITS[key]
            if n <= fail:
                return self.send_json(429, {"error": "slow down"}, {"Retry-After": "1"})
            return self.send_json(200, [{"ok": True, "attempt": n}])
        if path == "/unavailable":
            return self.send_json(503, {"error": "down"}, {"Retry-After": "0"})
        if path == "/slow":
            ms = int(q.get("ms", ["1000"])[0])
            time.sleep(ms / 1000.0)
            return self.send_json(200, [{"slept": ms}])
        if path == "/malformed":
            return self.send_json(200, None, raw=b'{"a": [1, 2')
        if path == "/redirect_in":
            return self.send_json(302, {}, {"Location": "/users"})
        if path == "/redirect_out":
            return self.send_json(302, {}, {"Location": "http://localhost:%d/users" % port})
        if path.startswith("/echo"):
            return self.send_json(200, {
                "method": self.command, "path": path, "query": u.query,
                "auth": self.headers.get("Authorization"), "x_a": self.headers.get("X-A"),
                "body": body.decode("utf-8", "replace")})
        if path.startswith("/leak/"):
            enc = parts[1]
            secrets = leak_secrets(self.headers, q)
            text = "echo (%s): " % enc + " | ".join(leak_encode(enc, x) for x in secrets)
            if enc == "raw":
                text += " | Authorization: %s" % header_text(self.headers.get("Authorization"))
            return self.send_json(400, None, raw=text.encode("utf-8"))
        if path.startswith("/items/"):
            return self.send_json(200, [{"ok": True}])
        if path == "/redirect_to":
            return self.send_json(302, {}, {"Location": q["url"][0]})
        if path == "/next_to":
            return self.send_json(200, [{"p": 1}], {"Link": '<%s>; rel="next"' % q["url"][0]})
        if path.startswith("/status/"):
            code = int(parts[1])
            return self.send_json(code, {"error": "status %d" % code})
        if path == "/search" and self.command == "POST":
            req = json.loads(body or b"{}")
            ids = set(req.get("ids") or [])
            rows = [r for r in USERS if r["id"] in ids and req.get("q", "") in r["name"]]
            return self.send_json(200, {"hits": rows})
        return self.send_json(404, {"error": "no route " + path})


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print("PORT %d" % server.server_address[1], flush=True)
    parent = os.getppid()

    def watch():
        while True:
            time.sleep(0.2)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
