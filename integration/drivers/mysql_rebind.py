#!/usr/bin/python3
# Two clients prepare the same text and bind different parameter types; then the first executes
# again without binding (new_params_bound_flag 0), as the protocol allows: its own types must
# apply. Through shardpool both share one server statement (one server), so shardpool must bind
# the client's types again. Run directly and through shardpool, the lines must be the same
# (integration/mysql_pooling_test.cpp).
#   mysql_rebind.py PORT PASSWORD
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mysql_bad_input as raw  # noqa: E402

raw.PORT, raw.PASSWORD = int(sys.argv[1]), sys.argv[2].encode()
LONGLONG, VAR_STRING = 0x08, 0xFD


def prepare(s, sql):
    raw.send(s, 0, b"\x16" + sql.encode())
    _, ok = raw.packet(s)
    stmt, columns, params = struct.unpack("<IHH", ok[1:9])
    for _ in range(params + (1 if params else 0) + columns + (1 if columns else 0)):
        raw.packet(s)
    return stmt


def execute(s, stmt, value, bind):
    """One parameter: a BIGINT or a string; `bind`: send its type (else the last bound)."""
    if isinstance(value, int):
        kind, data = LONGLONG, struct.pack("<q", value)
    else:
        kind, data = VAR_STRING, bytes([len(value)]) + value.encode()
    body = struct.pack("<IBI", stmt, 0, 1) + b"\x00" + (b"\x01" + bytes([kind, 0]) if bind else b"\x00")
    raw.send(s, 0, b"\x17" + body + data)
    _, first = raw.packet(s)
    if first[0] == 0xFF:
        return "ERR %d" % struct.unpack("<H", first[1:3])[0]
    columns = []
    for _ in range(first[0]):
        _, c = raw.packet(s)
        columns.append(c)
    raw.packet(s)  # EOF
    values = []
    while True:
        _, p = raw.packet(s)
        if p[0] == 0xFE and len(p) < 9:
            return values
        values.append(p[2:].hex())  # the binary row after its header and NULL bitmap


a, b = raw.connect(), raw.connect()
raw.login(a)
raw.login(b)
sa = prepare(a, "SELECT ? AS v")
sb = prepare(b, "SELECT ? AS v")
print("a binds a BIGINT:", execute(a, sa, 5, True))
print("b binds a string:", execute(b, sb, "xyz", True))
print("a, no types sent:", execute(a, sa, 300, False))
print("b, no types sent:", execute(b, sb, "hello", False))
print("done")
