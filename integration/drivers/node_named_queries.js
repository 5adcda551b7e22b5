#!/usr/bin/env node
// node-postgres (pg@8) named queries through shardpool in transaction mode.
//
// Usage: NODE_PATH=DIR/node_modules node node_named_queries.js CLIENTS ITERATIONS
// Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
//
// Each client runs ITERATIONS times {name: 'q1', text: 'select $1::int + 1'} and a second named
// query 'q2' whose text differs between even and odd clients (same name, different query), all
// clients at once; node-postgres prepares a name once per connection and then only binds it.
// Every result is checked. Prints "NODE OK clients=N queries=Q" and exits 0, or "NODE FAIL ..."
// and exits 1 (2 on its own timeout).
'use strict';

const { Client } = require('pg');

const clients = parseInt(process.argv[2] || '10', 10);
const iterations = parseInt(process.argv[3] || '30', 10);

const watchdog = setTimeout(() => {
  console.log('NODE FAIL timeout: not done within 25 s');
  process.exit(2);
}, 25000);

async function run(k) {
  const client = new Client({ connectionTimeoutMillis: 10000 });
  await client.connect();
  let queries = 0;
  try {
    for (let i = 0; i < iterations; i++) {
      const r1 = await client.query({ name: 'q1', text: 'select $1::int + 1 as v', values: [i] });
      if (r1.rows[0].v !== i + 1) {
        throw new Error(`client ${k} q1(${i}): got ${JSON.stringify(r1.rows[0].v)}, want ${i + 1}`);
      }
      queries++;
      const q2 = k % 2 === 0
        ? { name: 'q2', text: "select $1::text || ':' || $2::text as v", values: [`c${k}`, i] }
        : { name: 'q2', text: "select $2::text || '/' || $1::text as v", values: [`c${k}`, i] };
      const want = k % 2 === 0 ? `c${k}:${i}` : `${i}/c${k}`;
      const r2 = await client.query(q2);
      if (r2.rows[0].v !== want) {
        throw new Error(`client ${k} q2(${i}): got ${JSON.stringify(r2.rows[0].v)}, want ${want}`);
      }
      queries++;
    }
  } finally {
    await client.end();
  }
  return queries;
}

(async () => {
  const results = await Promise.allSettled(Array.from({ length: clients }, (_, k) => run(k)));
  const failures = results.filter((r) => r.status === 'rejected');
  clearTimeout(watchdog);
  if (failures.length > 0) {
    for (const f of failures) {
      console.log(`NODE FAIL ${f.reason && f.reason.stack ? f.reason.stack : f.reason}` +
                  (f.reason && f.reason.code ? ` (SQLSTATE ${f.reason.code})` : ''));
    }
    process.exit(1);
  }
  const total = results.reduce((n, r) => n + r.value, 0);
  console.log(`NODE OK clients=${clients} queries=${total}`);
})();
