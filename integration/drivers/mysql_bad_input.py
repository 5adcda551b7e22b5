#!/usr/bin/python3
# Malformed and hostile MySQL input through shardpool, one raw connection per case: each must
# end in an ERR packet or a closed connection within a few seconds (never a hang), and a well
# behaved client must still be served afterwards (integration/mysql_pooling_test.cpp).
#
#   mysql_bad_input.py PORT PASSWORD   (user sp_app, database sp_db)
# Imported (set PORT and PASSWORD first), its connect/login/outcome helpers serve other tests.
#
# stdout: "<case>: <outcome>" per case, then "done".
import hashlib
import socket
import struct
import sys

PORT = 0  # set by main() from the command line, or by a test that imports this file
PASSWORD = b""

CLIENT_LONG_PASSWORD = 0x1
CLIENT_CONNECT_WITH_DB = 0x8
CLIENT_PROTOCOL_41 = 0x200
CLIENT_SECURE_CONNECTION = 0x8000
CLIENT_MULTI_RESULTS = 0x20000
CLIENT_PLUGIN_AUTH = 0x80000
CAPS = (CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 |
        CLIENT_SECURE_CONNECTION | CLIENT_MULTI_RESULTS | CLIENT_PLUGIN_AUTH)


class Closed(Exception):
    pass


def connect():
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    return s


def read_exact(s, n):
    b = b""
    while len(b) < n:
        try:
            c = s.recv(n - len(b))
        except socket.timeout:
            raise TimeoutError("no answer within 5 s")
        except ConnectionResetError:
            raise Closed()
        if not c:
            raise Closed()
        b += c
    return b


def packet(s):
    h = read_exact(s, 4)
    n = h[0] | h[1] << 8 | h[2] << 16
    return h[3], read_exact(s, n)


def send(s, seq, payload):
    s.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq]) + payload)


def login(s):
    _, g = packet(s)
    i = g.index(b"\0", 1) + 1 + 4
    salt = g[i:i + 8]
    i += 9 + 2 + 1 + 2 + 2 + 1 + 10
    salt += g[i:i + 12]
    h1 = hashlib.sha1(PASSWORD).digest()
    x = hashlib.sha1(salt + hashlib.sha1(h1).digest()).digest()
    token = bytes(a ^ b for a, b in zip(h1, x))
    p = (struct.pack("<IIB", CAPS, 1 << 24, 45) + b"\0" * 23 + b"sp_app\0" + bytes([20]) +
         token + b"sp_db\0" + b"mysql_native_password\0")
    send(s, 1, p)
    _, r = packet(s)
    assert r[0] == 0, r
    return salt


def outcome(s):
    """What the peer did next: its ERR code, OK, or closing."""
    try:
        _, r = packet(s)
    except Closed:
        return "closed"
    if r[0] == 0xFF:
        return "ERR %d" % struct.unpack("<H", r[1:3])[0]
    if r[0] == 0x00:
        return "OK"
    return "other 0x%02x" % r[0]


def until_closed(s):
    """Reads until the peer closes (ERRs on the way are listed)."""
    seen = []
    try:
        while True:
            seen.append(outcome(s))
            if seen[-1] == "closed":
                return " ".join(seen)
    except TimeoutError:
        return " ".join(seen + ["timeout"])


def query(s, sql):
    send(s, 0, b"\x03" + sql.encode())
    return outcome(s)


def case(name, f):
    s = connect()
    try:
        print("%s: %s" % (name, f(s)), flush=True)
    except TimeoutError as e:
        print("%s: hang (%s)" % (name, e), flush=True)
    finally:
        s.close()


def garbage_greeting(s):
    packet(s)
    s.sendall(b"\x05\x00\x00\x01hello")
    return until_closed(s)


def short_login(s):
    packet(s)
    send(s, 1, b"\x00\x02")
    return until_closed(s)


def wrong_password(s):
    global PASSWORD
    saved, PASSWORD = PASSWORD, b"not the password"
    try:
        login(s)
        return "logged in?!"
    except AssertionError:
        return "refused"
    finally:
        PASSWORD = saved


def empty_command(s):
    login(s)
    send(s, 0, b"")
    return outcome(s) + ", then " + query(s, "DO 1")


def unknown_command(s):
    login(s)
    send(s, 0, b"\xee")
    return outcome(s) + ", then " + query(s, "DO 1")


def unknown_statement(s):
    login(s)
    send(s, 0, b"\x17" + struct.pack("<IBI", 777, 0, 1))
    return outcome(s) + ", then " + query(s, "DO 1")


def truncated_execute(s):
    login(s)
    send(s, 0, b"\x16SELECT ? + ?")
    seq, ok = packet(s)
    stmt = struct.unpack("<I", ok[1:5])[0]
    while True:  # parameter definitions and EOF
        _, p = packet(s)
        if p[0] == 0xFE and len(p) < 9:
            break
    # Claims two bound parameters, sends no values.
    send(s, 0, b"\x17" + struct.pack("<IBI", stmt, 0, 1) + b"\x00\x01\x08\x00\x08\x00")
    return outcome(s) + ", then " + query(s, "DO 1")


def half_packet_then_gone(s):
    login(s)
    s.sendall(b"\xff\xff\x00\x00\x03SELECT")  # 65535 bytes announced, 7 sent
    return "sent"


def gone_mid_result(s):
    login(s)
    send(s, 0, b"\x03SELECT REPEAT('x', 1000) FROM seq_1_to_2000")
    packet(s)
    return "left"


def lenenc(p, i):
    c = p[i]
    if c < 0xFB:
        return c, i + 1
    if c == 0xFB:
        return None, i + 1
    n = {0xFC: 2, 0xFD: 3, 0xFE: 8}[c]
    return int.from_bytes(p[i + 1:i + 1 + n], "little"), i + 1 + n


def rows(s, sql):
    """The rows of a text result set, values as str (None for NULL), or the outcome."""
    send(s, 0, b"\x03" + sql.encode())
    _, p = packet(s)
    if p[0] in (0x00, 0xFF):
        return "ERR %d" % struct.unpack("<H", p[1:3])[0] if p[0] == 0xFF else "OK"
    ncol, _ = lenenc(p, 0)
    for _ in range(ncol):
        packet(s)
    packet(s)  # EOF after the definitions
    out = []
    while True:
        _, p = packet(s)
        if p[0] == 0xFE and len(p) < 9:
            return out
        i, row = 0, []
        for _ in range(ncol):
            n, i = lenenc(p, i)
            row.append(None if n is None else p[i:i + n].decode())
            i += 0 if n is None else n
        out.append(tuple(row))


def token(salt, password):
    h1 = hashlib.sha1(password).digest()
    x = hashlib.sha1(salt + hashlib.sha1(h1).digest()).digest()
    return bytes(a ^ b for a, b in zip(h1, x))


def change_user(password, database=b"sp_db", charset=8):
    """COM_CHANGE_USER with the connection's own scramble, then the auth switch it gets."""
    def run(s):
        salt = login(s)
        rows(s, "SET @x = 5")
        send(s, 0, b"\x11sp_app\0" + bytes([20]) + token(salt, password) + database + b"\0" +
             struct.pack("<H", charset) + b"mysql_native_password\0")
        seq, switch = packet(s)
        if switch[0] != 0xFE:
            return "no auth switch: 0x%02x" % switch[0]
        new_salt = switch[len(b"\xfemysql_native_password\0"):-1]
        send(s, seq + 1, token(new_salt, password))
        result = outcome(s)
        if database != b"sp_db" and result.startswith("ERR"):
            # MariaDB says 1044 (no access to it) for sp_app, shardpool 1049 (not configured).
            result = "refused"
        return "%s, then %s" % (result, rows(s, "SELECT @x, @@character_set_client, DATABASE()"))
    return run


def main():
    global PORT, PASSWORD
    PORT = int(sys.argv[1])
    PASSWORD = sys.argv[2].encode()
    case("garbage instead of a login", garbage_greeting)
    case("login packet of 2 bytes", short_login)
    case("wrong password", wrong_password)
    case("empty command", empty_command)
    case("unknown command 0xee", unknown_command)
    case("execute of an unknown statement", unknown_statement)
    case("execute without its values", truncated_execute)
    case("half a packet, then gone", half_packet_then_gone)
    case("gone in the middle of a result", gone_mid_result)
    case("COM_CHANGE_USER", change_user(PASSWORD))
    case("COM_CHANGE_USER, utf8mb3", change_user(PASSWORD, charset=33))
    case("COM_CHANGE_USER, wrong password", change_user(b"wrong"))
    case("COM_CHANGE_USER to an unknown database", change_user(PASSWORD, b"sp_no_such_db"))
    s = connect()
    login(s)
    print("afterwards: %s" % query(s, "DO 1"))
    s.close()
    print("done")


if __name__ == "__main__":
    main()
