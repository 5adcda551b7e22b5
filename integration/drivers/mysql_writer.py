#!/usr/bin/python3
# A write load for failover tests: THREADS clients, each on its own PyMySQL connection with
# autocommit, insert unique ids into `acks` until SECONDS have passed. Once the file MARKER
# exists (the test creates it as it kills the primary), acknowledged inserts also count as
# "after". Prints one JSON object: the acknowledged ids, the errors (the last one's text), and
# how many client connections were lost (a lost one reconnects and goes on).
#   mysql_writer.py PORT USER PASSWORD DATABASE THREADS SECONDS MARKER
import os
import sys
import threading
import time

import pymysql

port, user, password, database = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
threads, seconds, marker = int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
lock = threading.Lock()
acked, state = [], {"errors": 0, "lost": 0, "after": 0, "last_error": ""}
deadline = time.monotonic() + seconds


def connect():
    return pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                           database=database, autocommit=True, connect_timeout=30,
                           read_timeout=30, write_timeout=30)


def writer(index):
    conn = None
    n = 0
    while time.monotonic() < deadline:
        try:
            if conn is None:
                conn = connect()
            after = os.path.exists(marker)
            ident = index * 1000000 + n
            n += 1
            conn.cursor().execute("INSERT INTO acks VALUES (%s)", (ident,))
            with lock:
                acked.append(ident)
                if after:
                    state["after"] += 1
        except pymysql.MySQLError as e:
            with lock:
                state["errors"] += 1
                state["last_error"] = repr(e)
            if conn is not None and not conn.open:
                conn = None
                with lock:
                    state["lost"] += 1
            time.sleep(0.05)
        except OSError as e:  # the connection itself broke
            with lock:
                state["errors"] += 1
                state["lost"] += 1
                state["last_error"] = repr(e)
            conn = None
            time.sleep(0.05)


workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print("after=%d errors=%d lost=%d" % (state["after"], state["errors"], state["lost"]))
print(",".join(str(i) for i in acked))
print(state["last_error"])
