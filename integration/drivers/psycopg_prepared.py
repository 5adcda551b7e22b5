#!/usr/bin/python3
"""psycopg 3 through shardpool in transaction mode: server-side prepared statements.

Usage: psycopg_prepared.py DSN THRESHOLD CONNECTIONS ITERATIONS
  THRESHOLD  "default" (psycopg's prepare_threshold, 5) or an integer (0: prepare at once)

Each connection (one thread each) runs two parameterized queries ITERATIONS times each; psycopg
prepares them under its own names (_pg3_0, _pg3_1, ...), and half the connections prepare them
in the other order, so the same name means different queries on different connections. Every
fourth iteration runs both inside one explicit transaction. Every result is checked.
Prints "PSYCOPG OK threshold=T connections=N executions=E" and exits 0, or prints
"PSYCOPG FAIL ..." lines and exits 1.
"""
import sys
import threading
import traceback

import psycopg


def main():
    dsn, threshold, connections, iterations = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(
        sys.argv[4])
    failures = []
    executions = [0] * connections
    lock = threading.Lock()

    def worker(k):
        try:
            with psycopg.connect(dsn, autocommit=True, connect_timeout=10) as conn:
                if threshold != "default":
                    conn.prepare_threshold = int(threshold)
                plus_one = ("select %s::int + 1", lambda i: (i,), lambda i: i + 1)
                tagged = ("select %s::int * 1000 + %s::int", lambda i: (k, i),
                          lambda i: k * 1000 + i)
                queries = (plus_one, tagged) if k % 2 == 0 else (tagged, plus_one)
                for i in range(iterations):
                    if i % 4 == 3:
                        with conn.transaction():
                            for sql, args, want in queries:
                                got = conn.execute(sql, args(i)).fetchone()[0]
                                if got != want(i):
                                    raise AssertionError(f"{sql!r} {args(i)}: got {got!r}, want {want(i)!r}")
                                executions[k] += 1
                    else:
                        for sql, args, want in queries:
                            got = conn.execute(sql, args(i)).fetchone()[0]
                            if got != want(i):
                                raise AssertionError(f"{sql!r} {args(i)}: got {got!r}, want {want(i)!r}")
                            executions[k] += 1
                if threshold != "default" or iterations > 5:
                    # Both queries were run often enough to be prepared by psycopg.
                    names = getattr(getattr(conn, "_prepared", None), "_names", None)
                    prepared = len(names) if names is not None else None
                    if prepared is not None and prepared < 2:
                        raise AssertionError(f"psycopg prepared {prepared} statements, want 2")
        except Exception as e:  # noqa: BLE001 - every failure is reported
            with lock:
                failures.append(f"connection {k}: {type(e).__name__}: {e}\n{traceback.format_exc()}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        for f in failures:
            print("PSYCOPG FAIL", f)
        sys.exit(1)
    print(f"PSYCOPG OK threshold={threshold} connections={connections} executions={sum(executions)}")


if __name__ == "__main__":
    main()
