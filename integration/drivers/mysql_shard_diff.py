#!/usr/bin/python3
# Differential test of a sharded MySQL database: the same writes and queries against one
# unsharded schema directly and against the sharded database through shardpool (PyMySQL, text
# protocol), every result compared. Queries without ORDER BY are compared as multisets (shards
# answer in shard order); the others row for row.
#   mysql_shard_diff.py HOST DIRECT_PORT DIRECT_DB PROXY_PORT PROXY_DB USER PASSWORD
import decimal
import random
import sys

import pymysql

host, dport, ddb, pport, pdb, user, password = sys.argv[1:8]
direct = pymysql.connect(host=host, port=int(dport), user=user, password=password, database=ddb,
                         autocommit=True)
proxied = pymysql.connect(host=host, port=int(pport), user=user, password=password, database=pdb,
                          autocommit=True)
rng = random.Random(7)
failures = []
checked = 0


def run(conn, sql, args=None):
    cur = conn.cursor()
    try:
        cur.execute(sql, args)
        return ("ok", cur.fetchall() if cur.description else cur.rowcount)
    except pymysql.MySQLError as e:
        return ("error", e.args[0])


def same(sql, args=None, ordered=False):
    global checked
    checked += 1
    a, b = run(direct, sql, args), run(proxied, sql, args)
    if a[0] == "ok" and b[0] == "ok" and isinstance(a[1], tuple) and not ordered:
        a = ("ok", sorted(a[1], key=repr))
        b = ("ok", sorted(b[1], key=repr))
    if a != b:
        failures.append("%s %r\n  direct:  %r\n  proxied: %r" % (sql, args, a, b))


ddl = ("CREATE TABLE items (id INT PRIMARY KEY, cat INT, price DECIMAL(10,2), "
       "made DATE, note VARCHAR(20))")
for conn in (direct, proxied):
    conn.cursor().execute(ddl)

for i in range(1, 241):
    cat = rng.choice([None, 1, 2, 3, 4])
    price = None if rng.random() < 0.05 else decimal.Decimal(rng.randint(0, 100000)) / 100
    made = "2026-%02d-%02d" % (rng.randint(1, 12), rng.randint(1, 28))
    same("INSERT INTO items (id, cat, price, made, note) VALUES (%s, %s, %s, %s, %s)",
         (i, cat, price, made, "n%d" % i))

for _ in range(60):
    k = rng.randint(-5, 250)
    same("SELECT * FROM items WHERE id = %s", (k,))
    same("SELECT id, price FROM items WHERE id IN (%s, %s, %s)" % (k, k + 7, k + 13))
    same("UPDATE items SET price = price + 1 WHERE id = %s", (k,))
same("DELETE FROM items WHERE id = 17")
same("DELETE FROM items WHERE id = 240")
for cat in (1, 2, None):
    same("SELECT id, note FROM items WHERE cat = %s", (cat,))
    same("SELECT id FROM items WHERE cat <=> %s", (cat,))
same("SELECT * FROM items WHERE price > 500")
same("SELECT COUNT(*) FROM items")
same("SELECT COUNT(*), SUM(price), MIN(price), MAX(price), MIN(made), MAX(made) FROM items")
same("SELECT COUNT(price), SUM(price) FROM items WHERE cat = 9")
same("SELECT cat, COUNT(*), SUM(price), MIN(made), MAX(id) FROM items GROUP BY cat",
     ordered=True)
same("SELECT made, COUNT(*) FROM items WHERE cat = 2 GROUP BY made", ordered=True)
same("SELECT cat AS c, MAX(price) AS top FROM items GROUP BY c", ordered=True)
same("SELECT DISTINCT cat FROM items")
same("SELECT DISTINCT cat, made FROM items WHERE price > 300")
same("SELECT id, price FROM items ORDER BY price DESC, id LIMIT 15", ordered=True)
same("SELECT id, made FROM items ORDER BY made, id", ordered=True)
same("SELECT * FROM items ORDER BY 1 DESC LIMIT 5", ordered=True)
same("SELECT id, price FROM items ORDER BY price DESC, id LIMIT 10 OFFSET 20", ordered=True)
same("SELECT id, made FROM items ORDER BY made DESC, id LIMIT 30, 7", ordered=True)
same("SELECT id FROM items ORDER BY id LIMIT 5 OFFSET 1000", ordered=True)
same("SELECT id FROM items WHERE note LIKE 'n1%' ORDER BY id", ordered=True)
same("SELECT * FROM items ORDER BY id", ordered=True)

print("checked %d statements, %d differ" % (checked, len(failures)))
for f in failures[:20]:
    print(f)
sys.exit(1 if failures else 0)
