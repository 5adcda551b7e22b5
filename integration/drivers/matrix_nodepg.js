#!/usr/bin/env node
// Driver matrix workload for node-postgres (npm pg@8, installed by the ctest fixture "node":
// integration/drivers/npm-install.sh). See README.md in this folder.
//
//   NODE_PATH=build/it-node/node_modules node integration/drivers/matrix_nodepg.js
//
// Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE.
// Prints one line per result; the same output is expected directly against PostgreSQL and
// through shardpool. Exits 0 when the workload ran to its end ("done"), whatever the results were.
//
// node-postgres has no prepare threshold: a query with a `name` is Parsed once per connection
// (it remembers the name in client.connection.parsedStatements) and then only Bound; a query
// with values and no name uses the unnamed statement (Parse, Bind, Describe, Execute, Sync in one
// round trip); a query without either uses the simple query protocol.
'use strict';

const { Client } = require('pg');

const APP = 'drv_nodepg';
const WORKERS = 8;
const TXNS = 5;

const watchdog = setTimeout(() => {
  console.log('watchdog: not done within 50 s');
  process.exit(2);
}, 50000);

function out(line) {
  process.stdout.write(line + '\n');
}

async function connect() {
  const c = new Client({ application_name: APP, connectionTimeoutMillis: 10000 });
  c.on('error', (e) => out(`client error event: ${e.message}`));
  await c.connect();
  return c;
}

function err(e) {
  return e && e.code ? `error ${e.code} ${e.constructor.name}` : `exception ${e && e.message}`;
}

// What node-postgres made of a value, deterministically.
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
    const v = r && r.rows && r.rows.length ? ` ${show(r.rows[0][0])}` : '';
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

async function setup() {
  const c = await connect();
  try {
    await c.query('drop table if exists items, counter, shape');
    await c.query('create table items (worker int, seq int, v bigint, primary key (worker, seq))');
    await c.query('create table counter (id int primary key, n int not null)');
    await c.query('insert into counter values (1, 0)');
    await c.query('create table shape (a int, b text)');
    await c.query("insert into shape values (1, 'x'), (2, 'y')");
  } finally {
    await c.end();
  }
  out('setup ok');
}

async function concurrency() {
  // All 8 connections open at once: more clients than the pool's servers.
  const conns = await Promise.all(Array.from({ length: WORKERS }, () => connect()));
  const errors = {};
  async function worker(w, c) {
    try {
      for (let i = 0; i < TXNS; i++) {
        await c.query('begin');
        await c.query('insert into items values ($1, $2, $3)', [w, i, w * 100 + i]);
        await c.query({ name: 'bump', text: 'update counter set n = n + 1 where id = 1' });
        const r = await c.query({
          name: 'count_mine', text: 'select count(*)::int as n from items where worker = $1', values: [w],
        });
        if (r.rows[0].n !== i + 1) throw new Error(`worker ${w} sees ${r.rows[0].n} rows in txn ${i}`);
        await c.query('commit');
      }
    } catch (e) {
      errors[w] = err(e);
    }
  }
  try {
    await Promise.all(conns.map((c, w) => worker(w, c)));
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
  for (const w of Object.keys(errors).sort()) out(`concurrency worker ${w}: ${errors[w]}`);
  const c = await connect();
  try {
    const r = await c.query({
      text: 'select worker, count(*), sum(v) from items group by worker order by worker', rowMode: 'array',
    });
    for (const [w, n, s] of r.rows) out(`concurrency worker=${w} rows=${n} sum=${s}`);
    const n = await c.query('select n from counter where id = 1');
    out(`concurrency counter=${n.rows[0].n}`);
  } finally {
    await c.end();
  }
}

async function rollback() {
  const c = await connect();
  try {
    await c.query('begin');
    await c.query('insert into items values (99, 1, 0)');
    for (const [label, q] of [
      ['duplicate', { text: 'insert into items values ($1, $2, $3)', values: [0, 0, 0] }],
      ['in failed transaction', 'select 1'],
      ['named in failed transaction', { name: 'rb_one', text: 'select 1' }],
    ]) {
      try {
        await c.query(q);
        out(`rollback ${label}: no error`);
      } catch (e) {
        out(`rollback ${label}: ${err(e)}`);
      }
    }
    await c.query('rollback');
    const r = await c.query('select count(*)::int as n from items where worker = 99');
    out(`rollback after: rows of worker 99 = ${r.rows[0].n}`);
    out(`rollback named after: ${await state(() => c.query({ name: 'rb_one', text: 'select 1', rowMode: 'array' }))}`);
    for (const [label, q] of [
      ['autocommit error', 'select 1 / 0'],
      ['autocommit error extended', { text: 'select 1 / $1::int', values: [0] }],
      ['autocommit error named', { name: 'rb_div', text: 'select 1 / $1::int', values: [0] }],
    ]) {
      try {
        await c.query(q);
        out(`rollback ${label}: no error`);
      } catch (e) {
        out(`rollback ${label}: ${err(e)}`);
      }
    }
    out(`rollback next statement: ${await state(() => c.query({ text: 'select 41 + 1', rowMode: 'array' }))}`);
    out(`rollback next named: ${await state(() => c.query({ name: 'rb_div', text: 'select 1 / $1::int', values: [1], rowMode: 'array' }))}`);
  } finally {
    await c.end();
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

// No binary case: node-postgres 8's `binary: true` also sends text values as binary parameters
// (select $1::int of '1' reads NaN), so it is not a mode a program can use.
async function types() {
  const values = [2147483647, '9223372036854775807', '12345678901234567890.123456789',
    'h\u00e9llo \u2713', Buffer.from([0x00, 0xff, 0x10, 0x27, 0x5c]), true, false,
    new Date(Date.UTC(2024, 1, 29, 23, 59, 59, 123)), [1, 2, null], ['a', 'b c', null], null];
  const c = await connect();
  try {
    for (const [label, q] of [
      ['literal', { text: LITERALS }],
      ['literal extended', { text: LITERALS, queryMode: 'extended' }],
      ['literal named', { name: 'types_lit', text: LITERALS }],
      ['params', { text: PARAMS, values }],
      ['params named', { name: 'types_params', text: PARAMS, values }],
    ]) {
      try {
        const r = await c.query({ ...q, rowMode: 'array' });
        r.rows[0].forEach((v, k) => out(`types ${label} ${NAMES[k]}=${show(v)}`));
      } catch (e) {
        out(`types ${label}: ${err(e)}`);
      }
    }
  } finally {
    await c.end();
  }
  out('types done');
}

async function prepared() {
  // node-postgres prepares a named query at its first run; 16 runs of 1 and of 4 names, the
  // same with unnamed statements, and named ones inside a transaction.
  for (const [mode, kinds] of [['named', 1], ['named', 4], ['unnamed', 1], ['unnamed', 4]]) {
    const c = await connect();
    try {
      let total = 0;
      for (let i = 0; i < 16; i++) {
        const k = i % kinds;
        const q = { text: `select $1::int + ${k} as v`, values: [i] };
        if (mode === 'named') q.name = `m_${k}`;
        total += (await c.query(q)).rows[0].v;
      }
      await c.query('begin');
      for (let i = 0; i < 4; i++) {
        total += (await c.query({ name: `m_tx_${i % 2}`, text: `select $1::int * ${i % 2 + 2} as v`, values: [i] })).rows[0].v;
      }
      await c.query('commit');
      out(`prepared ${mode} statements=${kinds} sum=${total} held=${Object.keys(c.connection.parsedStatements).length}`);
    } finally {
      await c.end();
    }
  }
  // The same names with different texts on 8 connections at once, through few servers: each
  // client's statement differs in text, parameter types and result shape.
  const conns = await Promise.all(Array.from({ length: WORKERS }, () => connect()));
  try {
    const results = await Promise.all(conns.map(async (c, w) => {
      try {
        const got = [];
        for (let i = 0; i < 20; i++) {
          if (w % 2 === 0) {
            got.push((await c.query({ name: 'shared', text: `select $1::int * ${w + 1} as v`, values: [i] })).rows[0].v);
          } else {
            const r = await c.query({ name: 'shared', text: `select $1::text || '-${w}' as s, ${w}::bigint as b`, values: [String(i)] });
            got.push(`${r.rows[0].s}/${r.rows[0].b}`);
          }
        }
        return got.join(',');
      } catch (e) {
        return err(e);
      }
    }));
    results.forEach((r, w) => out(`prepared named concurrent worker ${w}: ${r}`));
  } finally {
    await Promise.all(conns.map((c) => c.end()));
  }
}

async function dealloc() {
  const c = await connect();
  const stmt = (v) => c.query({ name: 'drv_stmt', text: 'select $1::int * 2', values: [v], rowMode: 'array' });
  // node-postgres never forgets a name it Parsed; a test of what happens after the server's
  // statement is gone has to make it Parse again (its internal map, as psycopg's _prepared).
  const forget = () => { delete c.connection.parsedStatements.drv_stmt; };
  const sql = (text) => state(() => c.query(text));
  try {
    out(`dealloc execute: ${await state(() => stmt(21))}`);
    out(`dealloc sql DEALLOCATE: ${await sql('DEALLOCATE drv_stmt')}`);
    out(`dealloc execute after: ${await state(() => stmt(21))}`);
    forget();
    out(`dealloc prepare again: ${await state(() => stmt(22))}`);
    out(`dealloc execute again: ${await state(() => stmt(23))}`);
    out(`dealloc sql DEALLOCATE PREPARE: ${await sql('DEALLOCATE PREPARE drv_stmt')}`);
    out(`dealloc sql DEALLOCATE unknown: ${await sql('DEALLOCATE drv_stmt')}`);
    forget();
    out(`dealloc prepare after unknown: ${await state(() => stmt(24))}`);
    out(`dealloc other named: ${await state(() => c.query({ name: 'drv_other', text: 'select $1::int + 1', values: [1], rowMode: 'array' }))}`);
    out(`dealloc sql DEALLOCATE ALL: ${await sql('DEALLOCATE ALL')}`);
    out(`dealloc execute after ALL: ${await state(() => stmt(25))}`);
    out(`dealloc other after ALL: ${await state(() => c.query({ name: 'drv_other', text: 'select $1::int + 1', values: [1], rowMode: 'array' }))}`);
    forget();
    out(`dealloc prepare after ALL: ${await state(() => stmt(26))}`);
    out(`dealloc execute after ALL prepare: ${await state(() => stmt(27))}`);
    // A second Parse of a name the connection still holds: 42P05 (node-postgres Parses again
    // once it has forgotten the name), and the statement is still there afterwards.
    forget();
    out(`dealloc Parse of a held name: ${await state(() => stmt(29))}`);
    forget();
    delete c.connection.submittedNamedStatements.drv_stmt;
    out(`dealloc Parse of a held name again: ${await state(() => stmt(30))}`);
    c.connection.parsedStatements.drv_stmt = 'select $1::int * 2'; // it is still there
    out(`dealloc execute held: ${await state(() => stmt(31))}`);
    out(`dealloc sql DEALLOCATE in transaction: ${await sql('begin')} ${await sql('DEALLOCATE drv_stmt')} ${await sql('commit')}`);
    forget();
    out(`dealloc prepare after transaction: ${await state(() => stmt(28))}`);
  } finally {
    await c.end();
  }
  out('dealloc done');
}

async function schema() {
  const c = await connect();
  const ddl = await connect();
  try {
    async function run(label, q) {
      try {
        const r = await c.query({ ...q, rowMode: 'array' });
        out(`schema ${label}: cols=${r.fields.map((f) => f.name).join(',')} rows=${show(r.rows)}`);
      } catch (e) {
        out(`schema ${label}: ${err(e)}`);
      }
    }
    const named = { name: 'shape_q', text: 'select * from shape order by a' };
    const unnamed = { text: 'select * from shape where a > $1 order by a', values: [0] };
    for (let i = 0; i < 3; i++) {
      await run(`before ${i}`, named);
      await run(`unnamed before ${i}`, unnamed);
    }
    await ddl.query('alter table shape add column c int default 7');
    for (let i = 0; i < 3; i++) {
      await run(`after ${i}`, named);
      await run(`unnamed after ${i}`, unnamed);
    }
  } finally {
    await c.end();
    await ddl.end();
  }
  out('schema done');
}

const SETTINGS = "select current_setting('application_name'), current_setting('TimeZone'), " +
  "current_setting('search_path'), current_setting('statement_timeout')";

async function settings() {
  const conns = [];
  for (let k = 0; k < 4; k++) conns.push(await connect());
  try {
    // The probe is a named query: a statement Parsed on one server, Bound on whichever.
    async function probe(label, k) {
      const r = await conns[k].query({ name: 'settings_probe', text: SETTINGS, rowMode: 'array' });
      const [app, tz, path, timeout] = r.rows[0];
      out(`settings ${label} P${k}: app=${app} tz=${tz} path=${path} timeout=${timeout}`);
    }
    const p0 = conns[0];
    await p0.query("SET application_name = 'drv_probe'");
    await p0.query("SET TimeZone = 'Pacific/Chatham'");
    await p0.query('SET search_path = drv_nowhere, public');
    await p0.query("SET statement_timeout = '4321ms'");
    for (const k of [1, 2, 3, 0]) await probe('after set', k);
    await conns[1].query('begin'); // holds one server: the next ones run on the other
    await probe('P1 in transaction', 1);
    await probe('P1 in transaction', 0);
    await probe('P1 in transaction', 2);
    await conns[1].query('commit');
    for (const k of [0, 3, 2, 1]) await probe('end', k);
  } finally {
    await Promise.all(conns.map((c) => c.end()));
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
