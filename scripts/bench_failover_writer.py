"""Failover benchmark client (scripts/bench-failover.sh): N writers insert through shardpool, each
on its own connection, until each has had DONE writes acknowledged by the server on NEW_PORT (the
standby that becomes the primary) or SECONDS have passed. Every insert returns the port of the
server that ran it, so a write is attributed to the old or the new primary without guessing from
clocks. START_FILE is created once every writer has had a write acknowledged. Prints, as JSON,
every acknowledged write ([writer, time, port]), every error seen ([writer, time, message]) and
how many client connections were closed.

usage: bench_failover_writer.py DSN CLIENTS SECONDS NEW_PORT START_FILE [DONE]
"""
import json
import sys
import threading
import time

import psycopg

dsn, clients, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
new_port, start_file = int(sys.argv[4]), sys.argv[5]
done_after = int(sys.argv[6]) if len(sys.argv) > 6 else 5
acks, errors, closed, started = [], [], [0], [0]
lock = threading.Lock()
stop = time.time() + seconds


def writer(i):
    try:
        conn = psycopg.connect(dsn, autocommit=True)
    except Exception as e:  # noqa: BLE001 - any failure is a result
        with lock:
            errors.append([i, time.time(), "connect: " + str(e).splitlines()[0]])
        return
    n = on_new = 0
    wrote = False
    while time.time() < stop and on_new < done_after:
        n += 1
        try:
            port = conn.execute("INSERT INTO acks VALUES (%s) RETURNING inet_server_port()",
                                (i * 10_000_000 + n,)).fetchone()[0]
            now = time.time()
            on_new += port == new_port
            first, wrote = not wrote, True
            with lock:
                acks.append([i, now, port])
                if first:
                    started[0] += 1
                    if started[0] == clients:  # every writer is writing: the kill may come
                        open(start_file, "w").close()
        except Exception as e:  # noqa: BLE001
            with lock:
                errors.append([i, time.time(),
                               str(e).splitlines()[0] if str(e) else type(e).__name__])
            if conn.closed:
                with lock:
                    closed[0] += 1
                return
    conn.close()


threads = [threading.Thread(target=writer, args=(i,)) for i in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({"acks": acks, "errors": errors, "closed": closed[0]}))
