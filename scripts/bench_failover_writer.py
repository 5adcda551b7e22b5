"""Failover benchmark client (scripts/bench-failover.sh): N writers insert through shardpool on
their own connection; prints, as JSON, when each write was acknowledged and every error seen."""
import json
import sys
import threading
import time

import psycopg

dsn, clients, seconds, start_file = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
acks, errors, closed = [], [], [0]
lock = threading.Lock()
stop = time.time() + seconds


def writer(i):
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except Exception as e:  # noqa: BLE001 - any failure is a result
        with lock:
            errors.append([time.time(), "connect: " + str(e).splitlines()[0]])
        return
    n = 0
    while time.time() < stop:
        n += 1
        try:
            conn.execute("INSERT INTO acks VALUES (%s)", (i * 10_000_000 + n,))
            with lock:
                acks.append(time.time())
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append([time.time(), str(e).splitlines()[0] if str(e) else type(e).__name__])
            if conn.closed:
                with lock:
                    closed[0] += 1
                return
    conn.close()


threads = [threading.Thread(target=writer, args=(i,)) for i in range(clients)]
open(start_file, "w").close()
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"acks": acks, "errors": errors, "closed": closed[0]}))
