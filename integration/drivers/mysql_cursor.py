#!/usr/bin/python3
# A read-only cursor (COM_STMT_EXECUTE with CURSOR_TYPE_READ_ONLY, then COM_STMT_FETCH) while
# other clients run statements: through transaction pooling the cursor's client keeps its
# server (SERVER_STATUS_CURSOR_EXISTS) until the last row. Run directly and through shardpool,
# the printed lines must be the same (integration/mysql_pooling_test.cpp).
#   mysql_cursor.py PORT PASSWORD
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mysql_bad_input as raw  # noqa: E402

raw.PORT, raw.PASSWORD = int(sys.argv[1]), sys.argv[2].encode()
CURSOR_EXISTS, LAST_ROW_SENT = 0x40, 0x80


def eof_status(p):
    return struct.unpack("<H", p[3:5])[0]


def until_eof(s):
    rows = []
    while True:
        _, p = raw.packet(s)
        if p[0] == 0xFE and len(p) < 9:
            return rows, eof_status(p)
        if p[0] == 0xFF:
            return "ERR %d" % struct.unpack("<H", p[1:3])[0], 0
        rows.append(struct.unpack("<q", p[2:10])[0])  # header, NULL bitmap, BIGINT


a, b = raw.connect(), raw.connect()
raw.login(a)
raw.login(b)
raw.send(a, 0, b"\x16SELECT seq FROM seq_1_to_7")
_, ok = raw.packet(a)
stmt, columns, params = struct.unpack("<IHH", ok[1:9])
for _ in range(columns):
    raw.packet(a)
raw.packet(a)  # EOF after the column definitions
raw.send(a, 0, b"\x17" + struct.pack("<IBI", stmt, 1, 1))  # CURSOR_TYPE_READ_ONLY
_, count = raw.packet(a)
for _ in range(count[0]):
    raw.packet(a)
_, eof = raw.packet(a)
print("execute: columns %d, cursor open %s" % (count[0], bool(eof_status(eof) & CURSOR_EXISTS)))
for round in range(4):
    # The other client holds a server in a transaction meanwhile: were the cursor's server
    # released, it would be this one, and the fetch would go to another.
    print("other client:", raw.rows(b, "BEGIN"), raw.rows(b, "SELECT %d + 1" % round))
    raw.send(a, 0, b"\x1c" + struct.pack("<II", stmt, 2))
    rows, status = until_eof(a)
    print("fetch %d: %s, last row sent %s" % (round, rows, bool(status & LAST_ROW_SENT)))
    print("other client:", raw.rows(b, "COMMIT"))
print("after:", raw.rows(a, "SELECT 'a free'"), raw.rows(b, "SELECT 'b'"))
print("done")
