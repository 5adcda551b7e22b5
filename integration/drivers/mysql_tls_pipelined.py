#!/usr/bin/python3
# A MySQL client that sends its TLS ClientHello in the same TCP segment as its SSLRequest, as a
# client may (the protocol has no answer to wait for): the server must take those bytes as the
# start of the TLS handshake. Logs in inside TLS and runs one query.
#   mysql_tls_pipelined.py PORT PASSWORD CA_FILE   (user sp_app, database sp_db)
# stdout: "ok <TLS version> <query result>"
import hashlib
import socket
import ssl
import struct
import sys

PORT, PASSWORD, CA = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3]
CAPS = 0x1 | 0x8 | 0x200 | 0x800 | 0x8000 | 0x20000 | 0x80000  # ... SSL ... PLUGIN_AUTH


def read_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise ConnectionError("closed")
        b += c
    return b


sock = socket.create_connection(("127.0.0.1", PORT), timeout=10)
h = read_exact(sock, 4)
greeting = read_exact(sock, h[0] | h[1] << 8 | h[2] << 16)
i = greeting.index(b"\0", 1) + 1 + 4
salt = greeting[i:i + 8]
i += 9 + 2 + 1 + 2 + 2 + 1 + 10
salt += greeting[i:i + 12]

ctx = ssl.create_default_context(cafile=CA)
incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
tls = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
try:
    tls.do_handshake()
except ssl.SSLWantReadError:
    pass
ssl_request = struct.pack("<IIB", CAPS, 1 << 24, 45) + b"\0" * 23
# One send: the SSLRequest packet and the ClientHello behind it.
sock.sendall(struct.pack("<I", len(ssl_request))[:3] + b"\x01" + ssl_request + outgoing.read())


def pump():
    data = sock.recv(65536)
    if not data:
        raise ConnectionError("closed during TLS")
    incoming.write(data)


while True:
    try:
        tls.do_handshake()
        break
    except ssl.SSLWantReadError:
        sock.sendall(outgoing.read())
        pump()
sock.sendall(outgoing.read())


def tls_send(seq, payload):
    tls.write(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)
    sock.sendall(outgoing.read())


def tls_read(n):
    out = b""
    while len(out) < n:
        try:
            out += tls.read(n - len(out))
        except ssl.SSLWantReadError:
            pump()
    return out


def tls_packet():
    h = tls_read(4)
    return tls_read(h[0] | h[1] << 8 | h[2] << 16)


h1 = hashlib.sha1(PASSWORD).digest()
token = bytes(a ^ b for a, b in zip(h1, hashlib.sha1(salt + hashlib.sha1(h1).digest()).digest()))
tls_send(2, struct.pack("<IIB", CAPS, 1 << 24, 45) + b"\0" * 23 + b"sp_app\0" + bytes([20]) +
         token + b"sp_db\0" + b"mysql_native_password\0")
ok = tls_packet()
assert ok[0] == 0, ok
tls_send(0, b"\x03SELECT 'inside'")
tls_packet()  # column count
tls_packet()  # column definition
tls_packet()  # EOF
row = tls_packet()
print("ok", tls.version(), row[1:].decode())
