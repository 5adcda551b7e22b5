#!/usr/bin/python3
"""Opens N logged-in PostgreSQL connections and holds them idle, for scripts/bench.sh.

  bench_idle_clients.py HOST PORT USER PASSWORD DBNAME N [--query] [--parallel K]

Speaks the protocol itself over non-blocking sockets (epoll through `selectors`, so no limit at
fd 1024; raise `ulimit -n` above N first): startup, then trust, cleartext, md5 or SCRAM-SHA-256,
then waits for ReadyForQuery. With --query each connection then runs `SELECT 1` once, as an
application's pooled connection would have before going idle. At most K (default 100)
connections are logging in at a time, so the listener's backlog never overflows.

Prints `ready OK FAILED SECONDS` once every connection has logged in or failed (with the first
error on stderr), then holds them until SIGTERM or SIGINT, and closes them with a reset (no
TIME_WAIT left behind). Exits 1 if any connection failed.
"""
import base64
import hashlib
import hmac
import os
import selectors
import signal
import socket
import struct
import sys
import time

_salted_cache = {}


def salted_password(password, salt, iterations):
    key = (salt, iterations)
    if key not in _salted_cache:
        _salted_cache[key] = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    return _salted_cache[key]


def message(kind, body):
    return kind + struct.pack("!I", len(body) + 4) + body


class Client:
    def __init__(self, user, password, dbname, query):
        self.user, self.password, self.query = user, password, query
        params = b"user\0" + user.encode() + b"\0database\0" + dbname.encode() + b"\0\0"
        self.out = struct.pack("!II", len(params) + 8, 196608) + params
        self.inbuf = b""
        self.state = "login"  # login -> query -> idle, or failed
        self.error = ""
        self.nonce = ""
        self.client_first_bare = ""

    def on_message(self, kind, body):
        if kind == b"E":
            fields = dict((f[:1], f[1:]) for f in body.split(b"\0") if f)
            self.fail((fields.get(b"C", b"") + b" " + fields.get(b"M", b"")).decode(errors="replace"))
        elif kind == b"R":
            self.on_auth(struct.unpack("!I", body[:4])[0], body[4:])
        elif kind == b"Z":
            if self.state == "login" and self.query:
                self.state = "query"
                self.out += message(b"Q", b"SELECT 1\0")
            elif self.state in ("login", "query"):
                self.state = "idle"
        # ParameterStatus, BackendKeyData, RowDescription, DataRow, CommandComplete, notices:
        # nothing to do.

    def on_auth(self, code, data):
        if code == 0:
            return
        if code == 3:  # cleartext
            self.out += message(b"p", self.password.encode() + b"\0")
        elif code == 5:  # md5
            inner = hashlib.md5((self.password + self.user).encode()).hexdigest()
            outer = hashlib.md5(inner.encode() + data[:4]).hexdigest()
            self.out += message(b"p", b"md5" + outer.encode() + b"\0")
        elif code == 10:  # SASL: mechanisms
            if b"SCRAM-SHA-256\0" not in data:
                self.fail("server offers no SCRAM-SHA-256")
                return
            self.nonce = base64.b64encode(os.urandom(18)).decode()
            self.client_first_bare = "n=,r=" + self.nonce
            first = ("n,," + self.client_first_bare).encode()
            self.out += message(b"p", b"SCRAM-SHA-256\0" + struct.pack("!I", len(first)) + first)
        elif code == 11:  # SASL continue: server-first-message
            server_first = data.decode()
            attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
            if not attrs.get("r", "").startswith(self.nonce):
                self.fail("SCRAM: server nonce does not extend ours")
                return
            salted = salted_password(self.password, base64.b64decode(attrs["s"]), int(attrs["i"]))
            final_bare = "c=biws,r=" + attrs["r"]
            auth_message = ",".join([self.client_first_bare, server_first, final_bare]).encode()
            client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
            stored_key = hashlib.sha256(client_key).digest()
            signature = hmac.new(stored_key, auth_message, hashlib.sha256).digest()
            proof = bytes(x ^ y for x, y in zip(client_key, signature))
            final = final_bare + ",p=" + base64.b64encode(proof).decode()
            self.out += message(b"p", final.encode())
        elif code == 12:  # SASL final: the server's signature (not checked here)
            return
        else:
            self.fail(f"unsupported authentication request {code}")

    def fail(self, why):
        if self.state != "failed":
            self.state = "failed"
            self.error = why

    def feed(self, data):
        self.inbuf += data
        while len(self.inbuf) >= 5:
            length = struct.unpack("!I", self.inbuf[1:5])[0]
            if len(self.inbuf) < 1 + length:
                return
            kind, body = self.inbuf[:1], self.inbuf[5:1 + length]
            self.inbuf = self.inbuf[1 + length:]
            self.on_message(kind, body)


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("--")]
    if len(args) < 6:
        sys.exit(__doc__)
    host, port, user, password, dbname, n = args[0], int(args[1]), args[2], args[3], args[4], int(args[5])
    query = "--query" in argv
    parallel = 100
    if "--parallel" in argv:
        parallel = int(argv[argv.index("--parallel") + 1])

    sel = selectors.DefaultSelector()
    socks = {}  # socket -> Client
    started = done = ok = failed = 0
    first_error = ""
    t0 = time.time()

    def start_one():
        nonlocal started
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.setblocking(False)
        s.connect_ex((host, port))
        c = Client(user, password, dbname, query)
        socks[s] = c
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        started += 1

    def finish(s, c):
        nonlocal done, ok, failed, first_error
        done += 1
        if c.state == "idle":
            ok += 1
            sel.modify(s, selectors.EVENT_READ, c)  # a server's FATAL later would show here
        else:
            failed += 1
            first_error = first_error or c.error
            sel.unregister(s)
            s.close()
            del socks[s]

    while done < n:
        while started < n and started - done < parallel:
            start_one()
        for key, events in sel.select(timeout=30):
            s, c = key.fileobj, key.data
            if c.state == "idle":
                try:
                    s.recv(65536)  # logged in already: anything more is drained
                except OSError:
                    pass
                continue
            try:
                if events & selectors.EVENT_WRITE and c.out:
                    sent = s.send(c.out)
                    c.out = c.out[sent:]
                if events & selectors.EVENT_READ:
                    data = s.recv(65536)
                    if not data:
                        c.fail("connection closed by the server")
                    else:
                        c.feed(data)
            except (BlockingIOError, InterruptedError):
                pass
            except OSError as e:
                c.fail(str(e))
            if c.state in ("idle", "failed"):
                finish(s, c)
            else:
                sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0), c)
        if time.time() - t0 > 600:
            first_error = first_error or f"timed out with {n - done} connections still logging in"
            break

    if first_error:
        print(f"bench_idle_clients: first error: {first_error}", file=sys.stderr)
    print(f"ready {ok} {failed} {time.time() - t0:.1f}", flush=True)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        for key, _ in sel.select(timeout=0.5):
            try:
                if not key.fileobj.recv(65536):
                    sel.unregister(key.fileobj)
            except OSError:
                sel.unregister(key.fileobj)
    for s in socks:
        s.close()
    sys.exit(1 if failed or ok < n else 0)


if __name__ == "__main__":
    main(sys.argv)
