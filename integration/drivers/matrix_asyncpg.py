#!/usr/bin/python3
"""Driver matrix workload for asyncpg (Debian python3-asyncpg). See README.md in this folder.

Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Prints one line per
result; the same output is expected directly against PostgreSQL and through shardpool. Exits 0
when the workload ran to its end ("done"), whatever the results were.
"""
import asyncio
import datetime
import decimal
import os

import asyncpg

APP = "drv_asyncpg"
WORKERS = 8
TXNS = 5


async def connect(**kw):
    return await asyncpg.connect(host=os.environ["PGHOST"], port=int(os.environ["PGPORT"]),
                                 user=os.environ["PGUSER"], password=os.environ["PGPASSWORD"],
                                 database=os.environ["PGDATABASE"], ssl=False, timeout=10,
                                 server_settings={"application_name": APP}, **kw)


def err(e):
    return f"error {getattr(e, 'sqlstate', None)} {type(e).__name__}"


async def case(label, fn):
    """Runs one case; an exception becomes one line and the next case still runs."""
    try:
        await asyncio.wait_for(fn(), 20)
    except asyncpg.PostgresError as e:
        print(f"{label}: {err(e)}", flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is a line of output
        print(f"{label}: exception {type(e).__name__}: {e}", flush=True)


async def setup():
    c = await connect()
    try:
        await c.execute("drop table if exists items, counter, shape")
        await c.execute("create table items (worker int, seq int, v bigint, primary key (worker, seq))")
        await c.execute("create table counter (id int primary key, n int not null)")
        await c.execute("insert into counter values (1, 0)")
        await c.execute("create table shape (a int, b text)")
        await c.execute("insert into shape values (1, 'x'), (2, 'y')")
    finally:
        await c.close()
    print("setup ok", flush=True)


async def concurrency():
    conns = await asyncio.gather(*(connect() for _ in range(WORKERS)))  # more clients than servers
    errors = {}

    async def worker(w, c):
        try:
            for i in range(TXNS):
                async with c.transaction():
                    await c.execute("insert into items values ($1, $2, $3)", w, i, w * 100 + i)
                    await c.execute("update counter set n = n + 1 where id = 1")
                    n = await c.fetchval("select count(*) from items where worker = $1", w)
                    if n != i + 1:
                        raise AssertionError(f"worker {w} sees {n} rows in txn {i}")
        except asyncpg.PostgresError as e:
            errors[w] = err(e)
        except Exception as e:  # noqa: BLE001
            errors[w] = f"{type(e).__name__}: {e}"

    try:
        await asyncio.gather(*(worker(w, c) for w, c in enumerate(conns)))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    for w in sorted(errors):
        print(f"concurrency worker {w}: {errors[w]}")
    c = await connect()
    try:
        for r in await c.fetch("select worker, count(*), sum(v) from items group by worker order by worker"):
            print(f"concurrency worker={r[0]} rows={r[1]} sum={r[2]}")
        print(f"concurrency counter={await c.fetchval('select n from counter where id = 1')}", flush=True)
    finally:
        await c.close()


async def rollback():
    c = await connect()
    try:
        tx = c.transaction()
        await tx.start()
        await c.execute("insert into items values (99, 1, 0)")
        for label, sql in (("duplicate", "insert into items values (0, 0, 0)"),
                           ("in failed transaction", "select 1")):
            try:
                await c.execute(sql)
                print(f"rollback {label}: no error")
            except asyncpg.PostgresError as e:
                print(f"rollback {label}: {err(e)}")
        await tx.rollback()
        print(f"rollback after: rows of worker 99 = {await c.fetchval('select count(*) from items where worker = 99')}")
        try:
            await c.fetchval("select 1 / 0")
        except asyncpg.PostgresError as e:
            print(f"rollback autocommit error: {err(e)}")
        print(f"rollback next statement: {await c.fetchval('select 41 + 1')}", flush=True)
    finally:
        await c.close()


LITERALS = ("select 2147483647::int, 9223372036854775807::bigint, "
            "12345678901234567890.123456789::numeric, 'h\u00e9llo \u2713'::text, "
            "'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, "
            "array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int")
PARAMS = ("select $1::int, $2::bigint, $3::numeric, $4::text, $5::bytea, $6::bool, $7::bool, "
          "$8::timestamptz, $9::int[], $10::text[], $11::int")
NAMES = ("int", "bigint", "numeric", "text", "bytea", "bool_t", "bool_f", "timestamptz", "int_array",
         "text_array", "null")


async def types():
    values = (2147483647, 9223372036854775807, decimal.Decimal("12345678901234567890.123456789"),
              "h\u00e9llo \u2713", b"\x00\xff\x10'\\", True, False,
              datetime.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=datetime.timezone.utc),
              [1, 2, None], ["a", "b c", None], None)
    c = await connect()
    try:
        for label, query, args in (("literal", LITERALS, ()), ("params", PARAMS, values)):
            row = await c.fetchrow(query, *args)
            for name, value in zip(NAMES, row.values()):
                print(f"types {label} {name}={value!r}")
    finally:
        await c.close()
    print("types done", flush=True)


async def prepared():
    statements = [f"select $1::int + {k}" for k in range(4)]
    # The default cache (100 named statements); no cache (unnamed statements, Parse and Bind in
    # separate round trips); a cache of 2 for 4 statements (evictions Close them).
    for cache, kinds in ((None, 1), (None, 4), (0, 1), (0, 4), (2, 4)):
        kw = {} if cache is None else {"statement_cache_size": cache}
        c = await connect(**kw)
        try:
            total = 0
            for i in range(16):
                total += await c.fetchval(statements[i % kinds], i)
            print(f"prepared statement_cache_size={cache} statements={kinds} sum={total}", flush=True)
        finally:
            await c.close()
    # Unnamed statements of several clients at once, through few servers.
    conns = await asyncio.gather(*(connect(statement_cache_size=0) for _ in range(WORKERS)))
    try:
        # Each client's statement differs in text, parameter type and result shape, so that a
        # Bind reaching another client's unnamed statement cannot go unnoticed.
        async def run(w, c):
            got = []
            for i in range(20):
                if w % 2 == 0:
                    got.append(await c.fetchval(f"select $1::int * {w + 1}", i))
                else:
                    row = await c.fetchrow(f"select $1::text || '-{w}', {w}::bigint", str(i))
                    got.append(f"{row[0]}/{row[1]}")
            return got
        results = await asyncio.gather(*(run(w, c) for w, c in enumerate(conns)), return_exceptions=True)
        for w, r in enumerate(results):
            if isinstance(r, Exception):
                print(f"prepared unnamed concurrent worker {w}: {err(r)}", flush=True)
            else:
                print(f"prepared unnamed concurrent worker {w}: {r}", flush=True)
    finally:
        await asyncio.gather(*(c.close() for c in conns))


async def dealloc():
    c = await connect()
    try:
        stmt = await c.prepare("select $1::int * 2")
        print(f"dealloc execute: {await stmt.fetchval(21)}")
        try:
            await c.execute(f'DEALLOCATE "{stmt.get_name()}"')
            print("dealloc sql DEALLOCATE: ok")
        except asyncpg.PostgresError as e:
            print(f"dealloc sql DEALLOCATE: {err(e)}")
        try:
            print(f"dealloc execute after: {await stmt.fetchval(21)}")
        except asyncpg.PostgresError as e:
            print(f"dealloc execute after: {err(e)}")
        stmt2 = await c.prepare("select $1::int * 2")
        print(f"dealloc prepare again: {await stmt2.fetchval(21)}")
        del stmt, stmt2  # asyncpg Closes statements it no longer references, at its next query
        for i in range(3):
            print(f"dealloc after destruction run {i}: {await c.fetchval('select $1::int + 100', i)}")
        try:
            await c.execute("DEALLOCATE ALL")
            print("dealloc sql DEALLOCATE ALL: ok")
        except asyncpg.PostgresError as e:
            print(f"dealloc sql DEALLOCATE ALL: {err(e)}")
        for i in range(2):
            try:
                print(f"dealloc cached after ALL run {i}: {await c.fetchval('select $1::int + 100', i)}")
            except asyncpg.PostgresError as e:
                print(f"dealloc cached after ALL run {i}: {err(e)}")
    finally:
        await c.close()
    print("dealloc done", flush=True)


async def schema():
    for cache in (None, 0):
        kw = {} if cache is None else {"statement_cache_size": cache}
        c, ddl = await connect(**kw), await connect()
        try:
            await ddl.execute("alter table shape drop column if exists c")
            explicit = await c.prepare("select * from shape order by a")

            async def run(label, fn):
                try:
                    rows = await fn()
                    cols = ",".join(rows[0].keys())
                    print(f"schema cache={cache} {label}: cols={cols} rows={[tuple(r.values()) for r in rows]}")
                except asyncpg.PostgresError as e:
                    print(f"schema cache={cache} {label}: {err(e)}")

            async def cached():
                return await c.fetch("select * from shape order by a")

            for i in range(3):
                await run(f"before {i}", cached)
                await run(f"explicit before {i}", explicit.fetch)
            await ddl.execute("alter table shape add column c int default 7")
            for i in range(3):
                await run(f"after {i}", cached)
                await run(f"explicit after {i}", explicit.fetch)
        finally:
            await c.close()
            await ddl.close()
    print("schema done", flush=True)


SETTINGS = ("select current_setting('application_name'), current_setting('TimeZone'), "
            "current_setting('search_path'), current_setting('statement_timeout')")


async def settings():
    conns = [await connect() for _ in range(4)]
    try:
        async def probe(label, k):
            row = await conns[k].fetchrow(SETTINGS)
            print(f"settings {label} P{k}: app={row[0]} tz={row[1]} path={row[2]} timeout={row[3]}", flush=True)

        p0 = conns[0]
        await p0.execute("SET application_name = 'drv_probe'")
        await p0.execute("SET TimeZone = 'Pacific/Chatham'")
        await p0.execute("SET search_path = drv_nowhere, public")
        await p0.execute("SET statement_timeout = '4321ms'")
        for k in (1, 2, 3, 0):
            await probe("after set", k)
        async with conns[1].transaction():  # holds one server: the next ones run on the other
            await probe("P1 in transaction", 1)
            await probe("P1 in transaction", 0)
            await probe("P1 in transaction", 2)
        for k in (0, 3, 2, 1):
            await probe("end", k)
    finally:
        for c in conns:
            await c.close()


async def main():
    for label, fn in (("setup", setup), ("concurrency", concurrency), ("rollback", rollback),
                      ("types", types), ("prepared", prepared), ("dealloc", dealloc),
                      ("schema", schema), ("settings", settings)):
        await case(label, fn)
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
