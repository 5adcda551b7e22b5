// Binary prepared statements and pipelining as node's MySQL drivers use them, over 6
// connections: run directly against MariaDB and through shardpool in transaction pooling with 2
// servers, the printed lines must be the same (integration/mysql_pooling_test.cpp). Each
// connection's statement ids are shardpool's; the statements are prepared on whichever server
// runs them, shared there between clients that prepare the same text, and bound again with each
// client's own parameter types.
//
//   node mysql_node.js mysql2|mariadb   (MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD,
//                                        MYSQL_DATABASE, TABLE from the environment)
//
// stdout: one line per result, then "done"; stderr: "backends=N" (distinct CONNECTION_ID()s).
'use strict';

const driver = process.argv[2];
const env = process.env;
const T = env.TABLE;
const ids = new Set();

function show(value) {
  return JSON.stringify(value, (k, v) => (typeof v === 'bigint' ? v.toString() : v));
}
function out(label, value) {
  process.stdout.write(label + ': ' + value + '\n');
}

// One API over both drivers: execute (binary protocol), query (text), close.
async function connect() {
  const options = {
    host: env.MYSQL_HOST,
    port: Number(env.MYSQL_PORT),
    user: env.MYSQL_USER,
    password: env.MYSQL_PASSWORD,
    database: env.MYSQL_DATABASE,
  };
  if (driver === 'mysql2') {
    const mysql = require('mysql2/promise');
    const c = await mysql.createConnection(options);
    return {
      execute: async (sql, params) => (await c.execute(sql, params))[0],
      query: async (sql) => (await c.query(sql))[0],
      unprepare: async (sql) => c.unprepare(sql),
      close: () => c.end(),
      raw: c,
    };
  }
  const mariadb = require('mariadb');
  const c = await mariadb.createConnection({ ...options, pipelining: true });
  return {
    execute: async (sql, params) => c.execute(sql, params),
    query: async (sql) => c.query(sql),
    unprepare: async () => {},
    close: () => c.end(),
    raw: c,
  };
}

// A result as lines can compare it: rows as arrays, an OK as its counts.
function shape(r) {
  if (Array.isArray(r)) return r.map((row) => (Array.isArray(row) ? row : Object.values(row)));
  if (r && typeof r === 'object' && 'affectedRows' in r)
    return { affected: r.affectedRows, insertId: r.insertId };
  return r;
}

async function attempt(label, f) {
  try {
    out(label, show(shape(await f())));
  } catch (e) {
    out(label, 'error ' + (e.errno || e.code));
  }
}

async function backend(c) {
  const r = await c.query('SELECT CONNECTION_ID() AS id');
  const id = String(Array.isArray(r[0]) ? r[0][0] : Object.values(r[0])[0]);
  ids.add(id);
  return id;
}

async function main() {
  const c = [];
  for (let i = 0; i < 6; i++) c.push(await connect());
  await c[0].query(`DROP TABLE IF EXISTS ${T}`);
  await attempt('setup', () =>
    c[0].query(`CREATE TABLE ${T} (id INT AUTO_INCREMENT PRIMARY KEY, owner INT, v VARCHAR(100),
                                   n DOUBLE, d DATE)`));

  // Each connection prepares the same texts: shared on a server, ids the client's own.
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 6; i++) {
      await attempt(`insert r${round} c${i}`, () =>
        c[i].execute(`INSERT INTO ${T} (owner, v, n, d) VALUES (?, ?, ?, ?)`,
                     [i, `v${round}-${i}`, i + round / 4, '2026-12-0' + (1 + round)]));
      await attempt(`count r${round} c${i}`, () =>
        c[i].execute(`SELECT COUNT(*), MAX(v), SUM(n) FROM ${T} WHERE owner = ?`, [i]));
      await backend(c[i]);
    }
  }
  // One text, different parameter types per client: each gets its own types back.
  const mixed = 'SELECT ? AS a, ? AS b, ? IS NULL AS c';
  await attempt('types c0', () => c[0].execute(mixed, [1, 'one', null]));
  await attempt('types c1', () => c[1].execute(mixed, ['two', 2.5, 7]));
  await attempt('types c0 again', () => c[0].execute(mixed, [3, 'three', null]));
  await attempt('types c2', () => c[2].execute(mixed, [-4, 'x'.repeat(5000), 'null?']));
  await attempt('types c1 again', () => c[1].execute(mixed, ['five', 5.5, null]));

  // A transaction of prepared statements while the others go on.
  await attempt('tx begin', () => c[3].query('BEGIN'));
  await attempt('tx insert', () =>
    c[3].execute(`INSERT INTO ${T} (owner, v) VALUES (?, ?)`, [3, 'tx']));
  for (let i = 0; i < 6; i++) {
    if (i === 3) continue;
    await attempt(`tx others c${i}`, () =>
      c[i].execute(`SELECT COUNT(*) FROM ${T} WHERE v = ?`, ['tx']));
  }
  await attempt('tx own', () => c[3].execute(`SELECT COUNT(*) FROM ${T} WHERE v = ?`, ['tx']));
  await attempt('tx rollback', () => c[3].query('ROLLBACK'));
  await attempt('tx after', () => c[4].execute(`SELECT COUNT(*) FROM ${T} WHERE v = ?`, ['tx']));

  // Insert ids and LAST_INSERT_ID() after other clients' inserts.
  await attempt('id c4', () =>
    c[4].execute(`INSERT INTO ${T} (owner, v) VALUES (?, ?)`, [4, 'id']));
  await attempt('id c5', () =>
    c[5].execute(`INSERT INTO ${T} (owner, v) VALUES (?, ?), (?, ?)`, [5, 'id', 5, 'id']));
  await attempt('last c4', () => c[4].query('SELECT LAST_INSERT_ID()'));
  await attempt('last c5', () => c[5].execute('SELECT LAST_INSERT_ID()', []));

  // Errors: a missing table, a wrong parameter count; the connection goes on.
  await attempt('error table', () => c[0].execute(`SELECT * FROM ${T}_missing WHERE id = ?`, [1]));
  await attempt('error params', () => c[0].execute(`SELECT ? + ?`, [1]));
  await attempt('after errors', () => c[0].execute('SELECT ? * 2', [21]));

  // Closed and prepared again.
  await c[1].unprepare(`SELECT COUNT(*) FROM ${T} WHERE v = ?`);
  await attempt('reprepared', () => c[1].execute(`SELECT COUNT(*) FROM ${T} WHERE v = ?`, ['id']));

  // Pipelining: several commands on one connection before the first reply.
  await attempt('pipeline', () =>
    Promise.all([
      c[2].query('SELECT 1'),
      c[2].execute('SELECT ? + 1', [1]),
      c[2].query(`SELECT COUNT(*) FROM ${T}`),
      c[2].execute(`SELECT MIN(owner) FROM ${T} WHERE owner >= ?`, [2]),
    ]).then((rs) => rs.map(shape)));

  await attempt('final', () =>
    c[0].query(`SELECT owner, COUNT(*), MIN(d) FROM ${T} GROUP BY owner ORDER BY owner`));
  await c[0].query(`DROP TABLE ${T}`);
  for (const x of c) await x.close();
  process.stderr.write(`backends=${ids.size}\n`);
  out('done', '');
}

main().catch((e) => {
  process.stderr.write('failed: ' + (e.stack || e) + '\n');
  process.exit(1);
});
