// Binary prepared statements on a sharded MySQL database through shardpool (mysql2's execute):
// each execute is routed by its parameter values. Inserts ids 10..15 with `?` parameters, reads
// each back by id, reads them all without a key (gathered from both shards), and tries one
// unkeyed aggregate (refused in the binary protocol), printing one line per result.
//
//   node mysql_node_sharded.js   (MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD,
//                                 MYSQL_DATABASE from the environment)
'use strict';

const mysql = require('mysql2/promise');
const env = process.env;

async function main() {
  const c = await mysql.createConnection({
    host: env.MYSQL_HOST,
    port: Number(env.MYSQL_PORT),
    user: env.MYSQL_USER,
    password: env.MYSQL_PASSWORD,
    database: env.MYSQL_DATABASE,
  });
  for (let id = 10; id < 16; id++)
    await c.execute('INSERT INTO orders (id, v) VALUES (?, ?)', [id, 'n' + id]);
  for (let id = 10; id < 16; id++) {
    const [rows] = await c.execute('SELECT v, DATABASE() AS db FROM orders WHERE id = ?', [id]);
    process.stdout.write(`read ${id}: ${rows.map((r) => r.v + '@' + r.db).join(',')}\n`);
  }
  // A text key: '12' converts for the integer key column.
  const [rows] = await c.execute('SELECT v FROM orders WHERE id = ?', ['13']);
  process.stdout.write(`read '13': ${rows.map((r) => r.v).join(',')}\n`);
  // No key: every shard's rows, gathered (binary protocol rows).
  const [all] = await c.execute('SELECT id FROM orders WHERE v LIKE ?', ['n%']);
  process.stdout.write(`gathered: ${all.map((r) => r.id).sort((a, b) => a - b).join(',')}\n`);
  try {
    await c.execute('SELECT COUNT(*) FROM orders WHERE v = ?', ['n10']);
    process.stdout.write('unkeyed: succeeded\n');
  } catch (e) {
    process.stdout.write(`unkeyed: ${e.errno}\n`);
  }
  await c.end();
  process.stdout.write('done\n');
}

main().catch((e) => {
  process.stderr.write(String(e.stack || e) + '\n');
  process.exit(1);
});
