#!/usr/bin/env node
// Driver matrix workload for postgres.js (npm `postgres` 3.x, pinned in npm-install.sh and
// installed by the ctest fixture "node"). See README.md in this folder.
//
//   NODE_PATH=build/it-node/node_modules node integration/drivers/matrix_postgresjs.js
//
// Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (postgres.js reads
// them; it never uses TLS unless asked). Prints one line per result; the same output is expected
// directly against PostgreSQL and through shardpool. Exits 0 when the workload ran to its end
// ("done"), whatever the results were.
//
// postgres.js (`prepare: true`, its default) names every statement at its first run and keeps it
// for the connection's life, without limit; a statement with parameters is first Parsed and
// Described behind a Flush (no Sync), and Bound once the server has described it. With
// `prepare: false` it does the same with the unnamed statement. It retries a prepared statement
// once, re-Parsing it, on the server errors of routine FetchPreparedStatement (26000: the
// statement is gone) and RevalidateCachedQuery (0A000: cached plan must not change result type).
// Its statement names are random per connection, so they never appear in the output.
'use strict';

const postgres = require('postgres');

const APP = 'drv_postgresjs';
const WORKERS = 8;
const TXNS = 5;

const watchdog = setTimeout(() => {
  console.log('watchdog: not done within 50 s');
  process.exit(2);
}, 50000);

function out(line) {
  process.stdout.write(line + '\n');
}

// One connection: an instance with max 1 (so that BEGIN and SET stay on it).
function connect(options = {}) {
  return postgres({
    max: 1, connect_timeout: 10, onnotice: () => {}, connection: { application_name: APP }, ...options,
  });
}

// Opens every connection now (postgres.js connects at the first query).
async function open(sqls) {
  await Promise.all(sqls.map((sql) => sql`select 1`.simple()));
  return sqls;
}

// sql.unsafe() is unprepared (and without parameters a simple query) unless asked; tagged
// templates are prepared by default. With this the instance's `prepare` decides, as for those.
const PREPARED = { prepare: true, simple: false };

function err(e) {
  return e instanceof postgres.PostgresError ? `error ${e.code} ${e.name}` : `exception ${e && e.message}`;
}

// What postgres.js made of a value, deterministically.
function show(v) {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (Buffer.isBuffer(v)) return `Buffer(${v.toString('hex')})`;
  if (v instanceof Date) return `Date(${v.toISOString()})`;
  if (Array.isArray(v)) return `[${v.map(show).join(', ')}]`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'object') return `${v.constructor.name}(${JSON.stringify(v)})`;
  return `${typeof v}(${v})`;
}

// Runs `fn`, returning "ok <first value>" or "error SQLSTATE".
async function state(fn) {
  try {
    const r = await fn();
    const row = r && r.length ? r[0] : null;
    const v = row ? ` ${show(Array.isArray(row) ? row[0] : Object.values(row)[0])}` : '';
    return `ok${v}`;
  } catch (e) {
    return err(e);
  }
}

async function withTimeout(p, ms) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(`timeout after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(t);
  }
}

async function closeAll(sqls) {
  await Promise.all(sqls.map((sql) => sql.end({ timeout: 5 })));
}

async function setup() {
  const sql = connect();
  try {
    await sql`drop table if exists items, counter, shape`;
    await sql`create table items (worker int, seq int, v bigint, primary key (worker, seq))`;
    await sql`create table counter (id int primary key, n int not null)`;
    await sql`insert into counter values (1, 0)`;
    await sql`create table shape (a int, b text)`;
    await sql`insert into shape values (1, 'x'), (2, 'y')`;
  } finally {
    await sql.end();
  }
  out('setup ok');
}

async function concurrency() {
  // All 8 connections open at once: more clients than the pool's servers.
  const conns = await open(Array.from({ length: WORKERS }, () => connect()));
  const errors = {};
  async function worker(w, sql) {
    try {
      for (let i = 0; i < TXNS; i++) {
        await sql.begin(async (tx) => {
          await tx`insert into items values (${w}, ${i}, ${w * 100 + i})`;
          await tx`update counter set n = n + 1 where id = 1`;
          const [{ n }] = await tx`select count(*)::int as n from items where worker = ${w}`;
          if (n !== i + 1) throw new Error(`worker ${w} sees ${n} rows in txn ${i}`);
        });
      }
    } catch (e) {
      errors[w] = err(e);
    }
  }
  try {
    await Promise.all(conns.map((sql, w) => worker(w, sql)));
  } finally {
    await closeAll(conns);
  }
  for (const w of Object.keys(errors).sort()) out(`concurrency worker ${w}: ${errors[w]}`);
  const sql = connect();
  try {
    const rows = await sql`select worker, count(*), sum(v) from items group by worker order by worker`.values();
    for (const [w, n, s] of rows) out(`concurrency worker=${w} rows=${n} sum=${s}`);
    const [{ n }] = await sql`select n from counter where id = 1`;
    out(`concurrency counter=${n}`);
  } finally {
    await sql.end();
  }
}

class Rollback extends Error {}

async function rollback() {
  const sql = connect();
  try {
    try {
      await sql.begin(async (tx) => {
        await tx`insert into items values (99, 1, 0)`;
        for (const [label, run] of [
          ['duplicate', () => tx`insert into items values (${0}, ${0}, ${0})`],
          ['in failed transaction', () => tx`select 1`],
          ['simple in failed transaction', () => tx`select 1`.simple()],
        ]) {
          try {
            await run();
            out(`rollback ${label}: no error`);
          } catch (e) {
            out(`rollback ${label}: ${err(e)}`);
          }
        }
        throw new Rollback();
      });
    } catch (e) {
      if (!(e instanceof Rollback)) throw e;
    }
    out(`rollback after: rows of worker 99 = ${(await sql`select count(*)::int as n from items where worker = 99`)[0].n}`);
    for (const [label, run] of [
      ['autocommit error', () => sql`select 1 / 0`.simple()],
      ['autocommit error prepared', () => sql`select 1 / ${0}::int`],
      ['autocommit error unnamed', () => sql.unsafe('select 1 / $1::int', [0], { prepare: false })],
    ]) {
      try {
        await run();
        out(`rollback ${label}: no error`);
      } catch (e) {
        out(`rollback ${label}: ${err(e)}`);
      }
    }
    out(`rollback next statement: ${await state(() => sql`select 41 + 1`.values())}`);
    out(`rollback next prepared: ${await state(() => sql`select 1 / ${1}::int`.values())}`);
  } finally {
    await sql.end();
  }
}

const LITERALS = 'select 2147483647::int, 9223372036854775807::bigint, ' +
  "12345678901234567890.123456789::numeric, 'h\u00e9llo \u2713'::text, " +
  "'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, " +
  "array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int";
const PARAMS = 'select $1::int, $2::bigint, $3::numeric, $4::text, $5::bytea, $6::bool, $7::bool, ' +
  '$8::timestamptz, $9::int[], $10::text[], $11::int';
const NAMES = ['int', 'bigint', 'numeric', 'text', 'bytea', 'bool_t', 'bool_f', 'timestamptz',
  'int_array', 'text_array', 'null'];

// postgres.js 3.4 reads a NULL element of a text-format array as NaN (int[]) or "NULL" (text[]).
async function types() {
  const values = [2147483647, '9223372036854775807', '12345678901234567890.123456789',
    'h\u00e9llo \u2713', Buffer.from([0x00, 0xff, 0x10, 0x27, 0x5c]), true, false,
    new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 123)), [1, 2, null], ['a', 'b c', null], null];
  const sql = connect();
  const unnamed = connect({ prepare: false });
  const bigint = connect({ types: { bigint: postgres.BigInt } });
  try {
    for (const [label, run] of [
      ['literal simple', () => sql.unsafe(LITERALS).simple().values()],
      ['literal prepared', () => sql.unsafe(LITERALS, [], PREPARED).values()],
      ['literal unnamed', () => unnamed.unsafe(LITERALS, [], PREPARED).values()],
      ['params prepared', () => sql.unsafe(PARAMS, values, PREPARED).values()],
      ['params prepared again', () => sql.unsafe(PARAMS, values, PREPARED).values()],
      ['params unnamed', () => unnamed.unsafe(PARAMS, values, PREPARED).values()],
      ['params BigInt type', () => bigint.unsafe(PARAMS, values, PREPARED).values()],
    ]) {
      try {
        const rows = await run();
        rows[0].forEach((v, k) => out(`types ${label} ${NAMES[k]}=${show(v)}`));
      } catch (e) {
        out(`types ${label}: ${err(e)}`);
      }
    }
  } finally {
    await closeAll([sql, unnamed, bigint]);
  }
  out('types done');
}

async function prepared() {
  const statements = [0, 1, 2, 3].map((k) => `select $1::int + ${k} as v`);
  // The default (every statement named and kept, so past any threshold at its second run), and
  // prepare: false (the unnamed statement, Parse/Describe/Flush and Bind in two round trips).
  for (const [prepare, kinds] of [[true, 1], [true, 4], [false, 1], [false, 4]]) {
    const sql = connect({ prepare });
    try {
      let total = 0;
      for (let i = 0; i < 16; i++) total += (await sql.unsafe(statements[i % kinds], [i], PREPARED))[0].v;
      total += await sql.begin(async (tx) => {
        let t = 0;
        for (let i = 0; i < 4; i++) t += (await tx.unsafe(`select $1::int * ${i % 2 + 2} as v`, [i], PREPARED))[0].v;
        return t;
      });
      out(`prepared prepare=${prepare} statements=${kinds} sum=${total}`);
    } finally {
      await sql.end();
    }
  }
  // 8 connections at once, through few servers: each client's statement differs in text,
  // parameter type and result shape, so that a Bind reaching another client's statement
  // cannot go unnoticed.
  for (const prepare of [true, false]) {
    const conns = await open(Array.from({ length: WORKERS }, () => connect({ prepare })));
    try {
      const results = await Promise.all(conns.map(async (sql, w) => {
        try {
          const got = [];
          for (let i = 0; i < 20; i++) {
            if (w % 2 === 0) {
              got.push((await sql.unsafe(`select $1::int * ${w + 1} as v`, [i], PREPARED))[0].v);
            } else {
              const [r] = await sql.unsafe(`select $1::text || '-${w}' as s, ${w}::bigint as b`, [String(i)], PREPARED);
              got.push(`${r.s}/${r.b}`);
            }
          }
          return got.join(',');
        } catch (e) {
          return err(e);
        }
      }));
      results.forEach((r, w) => out(`prepared prepare=${prepare} concurrent worker ${w}: ${r}`));
    } finally {
      await closeAll(conns);
    }
  }
}

async function dealloc() {
  // postgres.js has no way to close a statement; an SQL DEALLOCATE of its statement (its name is
  // on the query object) makes its next run fail with 26000, which it retries by Parsing again.
  const sql = connect();
  try {
    const run = async (label, v) => {
      const q = sql.unsafe('select $1::int * 2 as v', [v], PREPARED);
      try {
        const rows = await q;
        out(`dealloc ${label}: ${rows[0].v}`);
      } catch (e) {
        out(`dealloc ${label}: ${err(e)}`);
      }
      return q.statement && q.statement.name;
    };
    const name = await run('execute', 21);
    out(`dealloc sql DEALLOCATE: ${await state(() => sql.unsafe(`DEALLOCATE "${name}"`).simple())}`);
    const again = await run('execute after', 22);
    out(`dealloc re-prepared under a new name: ${again !== name}`);
    out(`dealloc sql DEALLOCATE old name: ${await state(() => sql.unsafe(`DEALLOCATE "${name}"`).simple())}`);
    await run('execute again', 23);
    // sql`deallocate all` is itself a prepared statement by default, and deallocates itself.
    out(`dealloc sql DEALLOCATE ALL prepared: ${await state(() => sql`deallocate all`)}`);
    const afterAll = await run('execute after ALL', 24);
    out(`dealloc re-prepared after ALL: ${afterAll !== again}`);
    out(`dealloc sql DEALLOCATE ALL prepared again: ${await state(() => sql`deallocate all`)}`);
    await run('execute after second ALL', 25);
    out(`dealloc sql DEALLOCATE ALL simple: ${await state(() => sql`deallocate all`.simple())}`);
    await run('execute after simple ALL', 26);
    await run('execute at last', 27);
  } finally {
    await sql.end();
  }
  out('dealloc done');
}

async function schema() {
  for (const prepare of [true, false]) {
    const sql = connect({ prepare });
    const ddl = connect();
    try {
      await ddl`alter table shape drop column if exists c`;
      const run = async (label, q) => {
        try {
          const rows = await q();
          out(`schema prepare=${prepare} ${label}: cols=${rows.columns.map((c) => c.name).join(',')} rows=${show(rows)}`);
        } catch (e) {
          out(`schema prepare=${prepare} ${label}: ${err(e)}`);
        }
      };
      const all = () => sql`select * from shape order by a`.values();
      const some = () => sql`select * from shape where a > ${0} order by a`.values();
      for (let i = 0; i < 3; i++) {
        await run(`before ${i}`, all);
        await run(`params before ${i}`, some);
      }
      await ddl`alter table shape add column c int default 7`;
      for (let i = 0; i < 3; i++) {
        await run(`after ${i}`, all);
        await run(`params after ${i}`, some);
      }
    } finally {
      await closeAll([sql, ddl]);
    }
  }
  out('schema done');
}

async function settings() {
  const conns = await open(Array.from({ length: 4 }, () => connect()));
  try {
    // Every statement here is a named prepared statement (postgres.js's default), SETs included.
    async function probe(label, k, sql = conns[k]) {
      const [[app, tz, path, timeout]] = await sql`select current_setting('application_name'),
        current_setting('TimeZone'), current_setting('search_path'),
        current_setting('statement_timeout')`.values();
      out(`settings ${label} P${k}: app=${app} tz=${tz} path=${path} timeout=${timeout}`);
    }
    const p0 = conns[0];
    await p0`SET application_name = 'drv_probe'`;
    await p0`SET TimeZone = 'Pacific/Chatham'`;
    await p0`SET search_path = drv_nowhere, public`;
    await p0`SET statement_timeout = '4321ms'`;
    for (const k of [1, 2, 3, 0]) await probe('after set', k);
    await conns[1].begin(async (tx) => { // holds one server: the next ones run on the other
      await probe('P1 in transaction', 1, tx);
      await probe('P1 in transaction', 0);
      await probe('P1 in transaction', 2);
    });
    for (const k of [0, 3, 2, 1]) await probe('end', k);
  } finally {
    await closeAll(conns);
  }
}

(async () => {
  for (const [label, fn] of [['setup', setup], ['concurrency', concurrency], ['rollback', rollback],
    ['types', types], ['prepared', prepared], ['dealloc', dealloc], ['schema', schema],
    ['settings', settings]]) {
    try {
      await withTimeout(fn(), 20000);
    } catch (e) {
      out(`${label}: ${err(e)}`);
    }
  }
  out('done');
  clearTimeout(watchdog);
  process.exit(0);
})();
