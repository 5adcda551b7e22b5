#!/usr/bin/python3
"""Driver matrix workload for psycopg2 (Debian python3-psycopg2). See README.md in this folder.

psycopg2 speaks only the simple query protocol (parameters are interpolated by the client), so it
has no protocol-level prepared statements: its prepared/dealloc/schema cases use none.
Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (libpq reads them).
Prints one line per result; the same output is expected directly against PostgreSQL and through
shardpool. Exits 0 when the workload ran to its end ("done"), whatever the results were.
"""
import datetime
import decimal
import threading

import psycopg2
import psycopg2.extensions

APP = "drv_psycopg2"
WORKERS = 8
TXNS = 5


def connect(autocommit=True):
    c = psycopg2.connect(application_name=APP, connect_timeout=10)
    c.autocommit = autocommit
    return c


def err(e):
    return f"error {getattr(e, 'pgcode', None)} {type(e).__name__}"


def one(c, sql, args=None):
    with c.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()


def case(label, fn):
    try:
        fn()
    except psycopg2.Error as e:
        print(f"{label}: {err(e)}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is a line of output
        print(f"{label}: exception {type(e).__name__}: {e}", flush=True)


def setup():
    c = connect()
    with c.cursor() as cur:
        cur.execute("drop table if exists items, counter, shape")
        cur.execute("create table items (worker int, seq int, v bigint, primary key (worker, seq))")
        cur.execute("create table counter (id int primary key, n int not null)")
        cur.execute("insert into counter values (1, 0)")
        cur.execute("create table shape (a int, b text)")
        cur.execute("insert into shape values (1, 'x'), (2, 'y')")
    c.close()
    print("setup ok", flush=True)


def concurrency():
    barrier = threading.Barrier(WORKERS, timeout=20)
    errors = {}

    def worker(w):
        try:
            c = connect(autocommit=False)
            barrier.wait()  # all connections open at once: more clients than servers
            for i in range(TXNS):
                with c, c.cursor() as cur:  # one transaction, committed at the end of the block
                    cur.execute("insert into items values (%s, %s, %s)", (w, i, w * 100 + i))
                    cur.execute("update counter set n = n + 1 where id = 1")
                    cur.execute("select count(*) from items where worker = %s", (w,))
                    n = cur.fetchone()[0]
                    if n != i + 1:
                        raise AssertionError(f"worker {w} sees {n} rows in txn {i}")
            c.close()
        except Exception as e:  # noqa: BLE001
            errors[w] = err(e) if isinstance(e, psycopg2.Error) else f"{type(e).__name__}: {e}"

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for w in sorted(errors):
        print(f"concurrency worker {w}: {errors[w]}")
    c = connect()
    with c.cursor() as cur:
        cur.execute("select worker, count(*), sum(v) from items group by worker order by worker")
        for w, n, s in cur.fetchall():
            print(f"concurrency worker={w} rows={n} sum={s}")
    print(f"concurrency counter={one(c, 'select n from counter where id = 1')[0]}", flush=True)
    c.close()


def rollback():
    c = connect(autocommit=False)
    one_ = c.cursor()
    one_.execute("insert into items values (99, 1, 0)")
    for label, sql in (("duplicate", "insert into items values (0, 0, 0)"),
                       ("in failed transaction", "select 1")):
        try:
            one_.execute(sql)
            print(f"rollback {label}: no error")
        except psycopg2.Error as e:
            print(f"rollback {label}: {err(e)}")
    c.rollback()
    print(f"rollback after: rows of worker 99 = {one(c, 'select count(*) from items where worker = 99')[0]}")
    c.rollback()
    c.autocommit = True
    try:
        one(c, "select 1 / 0")
    except psycopg2.Error as e:
        print(f"rollback autocommit error: {err(e)}")
    print(f"rollback next statement: {one(c, 'select 41 + 1')[0]}", flush=True)
    c.close()


LITERALS = ("select 2147483647::int, 9223372036854775807::bigint, "
            "12345678901234567890.123456789::numeric, 'h\u00e9llo \u2713'::text, "
            "'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, "
            "array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int")
NAMES = ("int", "bigint", "numeric", "text", "bytea", "bool_t", "bool_f", "timestamptz", "int_array",
         "text_array", "null")


def show(v):
    if isinstance(v, memoryview):
        return "bytes:" + v.tobytes().hex()
    return repr(v)


def types():
    params = (2147483647, 9223372036854775807, decimal.Decimal("12345678901234567890.123456789"),
              "h\u00e9llo \u2713", psycopg2.Binary(b"\x00\xff\x10'\\"), True, False,
              datetime.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=datetime.timezone.utc),
              [1, 2, None], ["a", "b c", None], None)
    sql = ("select %s::int, %s::bigint, %s::numeric, %s::text, %s::bytea, %s::bool, %s::bool, "
           "%s::timestamptz, %s::int[], %s::text[], %s::int")
    c = connect()
    for label, query, args in (("literal", LITERALS, None), ("params", sql, params)):
        for name, value in zip(NAMES, one(c, query, args)):
            print(f"types {label} {name}={show(value)}")
    c.close()
    print("types done", flush=True)


def prepared():
    # No protocol-level statements in psycopg2: the same parameterized query many times.
    c = connect()
    total = sum(one(c, f"select %s::int + {i % 4}", (i,))[0] for i in range(16))
    print(f"prepared repeated sum={total}", flush=True)
    c.close()


def schema():
    c, ddl = connect(), connect()

    def run(label):
        with c.cursor() as cur:
            cur.execute("select * from shape order by a")
            print(f"schema {label}: cols={','.join(d.name for d in cur.description)} rows={cur.fetchall()!r}")

    for i in range(2):
        run(f"before {i}")
    with ddl.cursor() as cur:
        cur.execute("alter table shape add column c int default 7")
    for i in range(2):
        run(f"after {i}")
    c.close()
    ddl.close()


SETTINGS = ("select current_setting('application_name'), current_setting('TimeZone'), "
            "current_setting('search_path'), current_setting('statement_timeout')")


def settings():
    conns = [connect() for _ in range(4)]
    try:
        def probe(label, k):
            row = one(conns[k], SETTINGS)
            print(f"settings {label} P{k}: app={row[0]} tz={row[1]} path={row[2]} timeout={row[3]}", flush=True)

        with conns[0].cursor() as cur:
            cur.execute("SET application_name = 'drv_probe'")
            cur.execute("SET TimeZone = 'Pacific/Chatham'")
            cur.execute("SET search_path = drv_nowhere, public")
            cur.execute("SET statement_timeout = '4321ms'")
        for k in (1, 2, 3, 0):
            probe("after set", k)
        conns[1].autocommit = False  # holds one server: the next ones run on the other
        probe("P1 in transaction", 1)
        probe("P1 in transaction", 0)
        probe("P1 in transaction", 2)
        conns[1].commit()
        conns[1].autocommit = True
        for k in (0, 3, 2, 1):
            probe("end", k)
    finally:
        for c in conns:
            c.close()


def main():
    for label, fn in (("setup", setup), ("concurrency", concurrency), ("rollback", rollback),
                      ("types", types), ("prepared", prepared), ("schema", schema),
                      ("settings", settings)):
        case(label, fn)
    print("done", flush=True)


if __name__ == "__main__":
    main()
