#!/usr/bin/python3
"""Driver matrix workload for psycopg 3 (Debian python3-psycopg). See README.md in this folder.

Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (libpq reads them).
Prints one line per result; the same output is expected directly against PostgreSQL and through
shardpool. Exits 0 when the workload ran to its end ("done"), whatever the results were.
"""
import threading

import psycopg
from psycopg import pq

APP = "drv_psycopg"
WORKERS = 8
TXNS = 5


def connect(**kw):
    return psycopg.connect(application_name=APP, connect_timeout=10, autocommit=True, **kw)


def err(e):
    state = getattr(getattr(e, "diag", None), "sqlstate", None)
    return f"error {state} {type(e).__name__}"


def case(label, fn):
    """Runs one case; an exception becomes one line and the next case still runs."""
    try:
        fn()
    except psycopg.Error as e:
        print(f"{label}: {err(e)}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is a line of output
        print(f"{label}: exception {type(e).__name__}: {e}", flush=True)


def setup():
    with connect() as c:
        c.execute("drop table if exists items, counter, shape")
        c.execute("create table items (worker int, seq int, v bigint, primary key (worker, seq))")
        c.execute("create table counter (id int primary key, n int not null)")
        c.execute("insert into counter values (1, 0)")
        c.execute("create table shape (a int, b text)")
        c.execute("insert into shape values (1, 'x'), (2, 'y')")
    print("setup ok", flush=True)


def concurrency():
    barrier = threading.Barrier(WORKERS, timeout=20)
    errors = {}

    def worker(w):
        try:
            with connect() as c:
                barrier.wait()  # all connections open at once: more clients than servers
                for i in range(TXNS):
                    with c.transaction():
                        c.execute("insert into items values (%s, %s, %s)", (w, i, w * 100 + i))
                        c.execute("update counter set n = n + 1 where id = 1")
                        n = c.execute("select count(*) from items where worker = %s", (w,)).fetchone()[0]
                        if n != i + 1:
                            raise AssertionError(f"worker {w} sees {n} rows in txn {i}")
        except Exception as e:  # noqa: BLE001
            errors[w] = err(e) if isinstance(e, psycopg.Error) else f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in sorted(errors):
        print(f"concurrency worker {w}: {errors[w]}")
    with connect() as c:
        for w, n, s in c.execute("select worker, count(*), sum(v) from items group by worker order by worker"):
            print(f"concurrency worker={w} rows={n} sum={s}")
        print(f"concurrency counter={c.execute('select n from counter where id = 1').fetchone()[0]}", flush=True)


def rollback():
    with connect() as c:
        c.autocommit = False
        c.execute("insert into items values (99, 1, 0)")
        try:
            c.execute("insert into items values (0, 0, 0)")
            print("rollback duplicate: no error")
        except psycopg.Error as e:
            print(f"rollback duplicate: {err(e)}")
        try:
            c.execute("select 1")
            print("rollback in failed transaction: no error")
        except psycopg.Error as e:
            print(f"rollback in failed transaction: {err(e)}")
        c.rollback()
        print(f"rollback after: rows of worker 99 = {c.execute('select count(*) from items where worker = 99').fetchone()[0]}")
        c.rollback()
        c.autocommit = True
        try:
            c.execute("select 1 / 0")
        except psycopg.Error as e:
            print(f"rollback autocommit error: {err(e)}")
        print(f"rollback next statement: {c.execute('select 41 + 1').fetchone()[0]}", flush=True)


LITERALS = ("select 2147483647::int, 9223372036854775807::bigint, "
            "12345678901234567890.123456789::numeric, 'h\u00e9llo \u2713'::text, "
            "'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, "
            "array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int")
NAMES = ("int", "bigint", "numeric", "text", "bytea", "bool_t", "bool_f", "timestamptz", "int_array",
         "text_array", "null")


def types():
    import datetime
    import decimal
    params = (2147483647, 9223372036854775807, decimal.Decimal("12345678901234567890.123456789"),
              "h\u00e9llo \u2713", b"\x00\xff\x10'\\", True, False,
              datetime.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=datetime.timezone.utc),
              [1, 2, None], ["a", "b c", None], None)
    sql = ("select %s::int, %s::bigint, %s::numeric, %s::text, %s::bytea, %s::bool, %s::bool, "
           "%s::timestamptz, %s::int[], %s::text[], %s::int")
    with connect() as c:
        for label, query, args, binary in (("literal", LITERALS, None, False),
                                           ("literal binary", LITERALS, None, True),
                                           ("params", sql, params, False),
                                           ("params binary", sql, params, True)):
            row = c.cursor(binary=binary).execute(query, args).fetchone()
            for name, value in zip(NAMES, row):
                print(f"types {label} {name}={value!r}")
    print("types done", flush=True)


def prepared():
    statements = [f"select %s::int + {k}" for k in range(4)]
    # psycopg's default threshold (5) with one statement; 0 (prepare at once); a cache of 2
    # for 4 statements, so that psycopg evicts (and sends DEALLOCATE) again and again. (With a
    # threshold above 0 and a cache that small, psycopg forgets its counts before preparing.)
    for threshold, cache, kinds in ((None, None, 1), (0, None, 4), (2, None, 4), (0, 2, 4)):
        with connect() as c:
            if threshold is not None:
                c.prepare_threshold = threshold
            if cache is not None:
                c.prepared_max = cache
            total = 0
            for i in range(16):
                total += c.execute(statements[i % kinds], (i,)).fetchone()[0]
            held = len(c._prepared._names)
            print(f"prepared threshold={threshold} prepared_max={cache} sum={total} held={held}", flush=True)


def pg_state(res):
    if res.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        vals = [res.get_value(0, 0).decode()] if res.ntuples else []
        return "ok" + (" " + vals[0] if vals else "")
    return f"error {(res.error_field(pq.DiagnosticField.SQLSTATE) or b'').decode()}"


def dealloc():
    with connect() as c:
        pg = c.pgconn  # libpq itself: protocol-level Parse under a name of our own
        print(f"dealloc prepare: {pg_state(pg.prepare(b'drv_stmt', b'select $1::int * 2'))}")
        print(f"dealloc execute: {pg_state(pg.exec_prepared(b'drv_stmt', [b'21']))}")
        for label, sql in (("sql DEALLOCATE", "DEALLOCATE drv_stmt"),
                           ("execute after", None),
                           ("prepare again", b"select $1::int * 3"),
                           ("execute again", None),
                           ("sql DEALLOCATE ALL", "DEALLOCATE ALL"),
                           ("execute after ALL", None),
                           ("prepare after ALL", b"select $1::int * 4"),
                           ("execute after ALL prepare", None)):
            if sql is None:
                print(f"dealloc {label}: {pg_state(pg.exec_prepared(b'drv_stmt', [b'21']))}")
            elif isinstance(sql, bytes):
                print(f"dealloc {label}: {pg_state(pg.prepare(b'drv_stmt', sql))}")
            else:
                try:
                    c.execute(sql)
                    print(f"dealloc {label}: ok")
                except psycopg.Error as e:
                    print(f"dealloc {label}: {err(e)}")
        # psycopg's own statements: evicted ones are DEALLOCATEd by name (in SQL) by psycopg
        c.prepare_threshold = 0
        c.prepared_max = 1
        for i in range(6):
            print(f"dealloc evicting run {i}: {c.execute(f'select %s::int + {i % 2}', (i,)).fetchone()[0]}")
        print(f"dealloc evicting held={len(c._prepared._names)}", flush=True)


UNNAMED = [b"select $1::int * 2", b"select $1::text || $2::text", b"select $1::int + $2::int + $3::int",
           b"select $1::text || $2::text || $3::text || $4::text"]


def unnamed():
    """The unnamed statement is per connection: another client's Parse must not replace it.

    Four connections (more than shardpool's worker threads, so that two share one) each Parse a
    statement with a different number of parameters in its own Sync'd round trip, then each
    Binds its own; a few rounds, since which server each round trip gets is up to the pool.
    """
    conns = [connect() for _ in UNNAMED]
    try:
        for r in range(3):
            for k, c in enumerate(conns):
                print(f"unnamed {r} C{k} prepare: {pg_state(c.pgconn.prepare(b'', UNNAMED[k]))}")
            for k, c in enumerate(conns):
                args = [str(k + i).encode() for i in range(k + 1)]
                print(f"unnamed {r} C{k} execute: {pg_state(c.pgconn.exec_prepared(b'', args))}", flush=True)
    finally:
        for c in conns:
            c.close()


def schema():
    with connect() as c, connect() as ddl:
        c.prepare_threshold = 0

        def run(label):
            try:
                cur = c.execute("select * from shape order by a")
                cols = ",".join(d.name for d in cur.description)
                print(f"schema {label}: cols={cols} rows={cur.fetchall()!r}")
            except psycopg.Error as e:
                print(f"schema {label}: {err(e)}")

        for i in range(3):
            run(f"before {i}")
        ddl.execute("alter table shape add column c int default 7")
        for i in range(3):
            run(f"after {i}")
    print("schema done", flush=True)


SETTINGS = ("select current_setting('application_name'), current_setting('TimeZone'), "
            "current_setting('search_path'), current_setting('statement_timeout')")


def settings():
    conns = [connect() for _ in range(4)]
    try:
        def probe(label, k):
            row = conns[k].execute(SETTINGS).fetchone()
            print(f"settings {label} P{k}: app={row[0]} tz={row[1]} path={row[2]} timeout={row[3]}", flush=True)

        p0 = conns[0]
        p0.execute("SET application_name = 'drv_probe'")
        p0.execute("SET TimeZone = 'Pacific/Chatham'")
        p0.execute("SET search_path = drv_nowhere, public")
        p0.execute("SET statement_timeout = '4321ms'")
        for k in (1, 2, 3, 0):
            probe("after set", k)
        with conns[1].transaction():  # holds one server: the next ones run on the other
            probe("P1 in transaction", 1)
            probe("P1 in transaction", 0)
            probe("P1 in transaction", 2)
        for k in (0, 3, 2, 1):
            probe("end", k)
    finally:
        for c in conns:
            c.close()


def main():
    for label, fn in (("setup", setup), ("concurrency", concurrency), ("rollback", rollback),
                      ("types", types), ("prepared", prepared), ("dealloc", dealloc),
                      ("unnamed", unnamed), ("schema", schema), ("settings", settings)):
        case(label, fn)
    print("done", flush=True)


if __name__ == "__main__":
    main()
