#!/usr/bin/python3
# Transaction pooling as MySQL drivers see it: one deterministic workload over 6 connections,
# run directly against MariaDB and through shardpool with 2 servers; every printed line must be
# the same (integration/mysql_pooling_test.cpp). Interleaving the connections' statements makes
# shardpool move each between servers: a session's variables, schema, transactions, user
# variables, temporary tables, locks, LAST_INSERT_ID() and FOUND_ROWS() must all look as they
# do on a connection of its own.
#
#   mysql_pooling.py pymysql|mysqldb   (MYSQL_HOST, MYSQL_PORT, MYSQL_USER, MYSQL_PASSWORD,
#                                        MYSQL_DATABASE, MYSQL_DATABASE2, TABLE from the env)
#
# stdout: one line per result, then "done". stderr: "backends=N", the distinct CONNECTION_ID()s
# seen (through shardpool at most its pool size), and "pinned=..." lines.
import os
import sys

DRIVER = sys.argv[1]
ENV = os.environ
T = ENV["TABLE"]
connection_ids = set()


def connect():
    kw = dict(host=ENV["MYSQL_HOST"], port=int(ENV["MYSQL_PORT"]), user=ENV["MYSQL_USER"],
              autocommit=True)
    if DRIVER == "pymysql":
        import pymysql
        from pymysql.constants import CLIENT
        return pymysql.connect(password=ENV["MYSQL_PASSWORD"], database=ENV["MYSQL_DATABASE"],
                               client_flag=CLIENT.MULTI_STATEMENTS, **kw)
    import MySQLdb
    from MySQLdb.constants import CLIENT
    return MySQLdb.connect(passwd=ENV["MYSQL_PASSWORD"], db=ENV["MYSQL_DATABASE"],
                           client_flag=CLIENT.MULTI_STATEMENTS, **kw)


def error_of(e):
    return "error %s" % (e.args[0],)


def run(conn, sql):
    """Every result set of sql as a list of row tuples (errors as a string)."""
    cur = conn.cursor()
    try:
        cur.execute(sql)
        sets = []
        while True:
            if cur.description is not None:
                sets.append([tuple(str(v) if v is not None else None for v in r)
                             for r in cur.fetchall()])
            else:
                sets.append("ok %d" % cur.rowcount)
            if not cur.nextset():
                break
        return sets
    except Exception as e:  # the driver's error class differs per driver
        return error_of(e)
    finally:
        cur.close()


def out(case, label, value):
    print("%s %s: %s" % (case, label, value), flush=True)


def backend(conn):
    cid = run(conn, "SELECT CONNECTION_ID()")[0][0][0]
    connection_ids.add(cid)
    return cid


STATE = ("SELECT @@time_zone, @@character_set_client, @@character_set_results, @@sql_mode, "
         "@@tx_isolation, @@wait_timeout, @@long_query_time, DATABASE(), @@autocommit")


def main():
    conns = [connect() for _ in range(6)]
    c = conns
    run(c[0], "DROP TABLE IF EXISTS %s" % T)
    out("setup", "create", run(c[0], "CREATE TABLE %s (id INT AUTO_INCREMENT PRIMARY KEY, "
                                     "owner INT, v VARCHAR(20))" % T))

    # ---- session variables and the schema follow each client ----
    out("state", "c0", run(c[0], "SET time_zone = '+03:00'"))
    out("state", "c1", run(c[1], "SET NAMES latin1"))
    out("state", "c2", run(c[2], "SET sql_mode = 'ANSI'"))
    out("state", "c3", run(c[3], "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE"))
    out("state", "c4", run(c[4], "SET SESSION wait_timeout = 123, long_query_time = 0.5"))
    out("state", "c5", run(c[5], "USE " + ENV["MYSQL_DATABASE2"]))
    for rnd in range(3):
        for i, conn in enumerate(conns):
            out("state", "round %d c%d" % (rnd, i), run(conn, STATE))
            run(conn, "INSERT INTO %s.%s (owner, v) VALUES (%d, 'state')"
                % (ENV["MYSQL_DATABASE"], T, i))
            backend(conn)
    out("state", "c0 default", run(c[0], "SET time_zone = DEFAULT"))
    out("state", "c2 default", run(c[2], "SET SESSION sql_mode = DEFAULT"))
    out("state", "c5 back", run(c[5], "USE " + ENV["MYSQL_DATABASE"]))
    for i, conn in enumerate(conns):
        out("state", "after c%d" % i, run(conn, STATE))

    # ---- transactions: explicit, and autocommit off ----
    base = "SELECT COUNT(*) FROM %s WHERE v = 'tx'" % T
    out("tx", "c0 begin", run(c[0], "BEGIN"))
    out("tx", "c0 insert", run(c[0], "INSERT INTO %s (owner, v) VALUES (0, 'tx')" % T))
    for i in range(1, 6):
        out("tx", "c%d sees" % i, run(c[i], base))
    out("tx", "c0 sees", run(c[0], base))
    out("tx", "c0 commit", run(c[0], "COMMIT"))
    out("tx", "c1 sees", run(c[1], base))
    out("tx", "c1 autocommit off", run(c[1], "SET autocommit = 0"))
    out("tx", "c1 insert", run(c[1], "INSERT INTO %s (owner, v) VALUES (1, 'tx')" % T))
    out("tx", "c2 sees", run(c[2], base))
    out("tx", "c1 rollback", run(c[1], "ROLLBACK"))
    out("tx", "c1 insert again", run(c[1], "INSERT INTO %s (owner, v) VALUES (1, 'tx')" % T))
    out("tx", "c1 commit", run(c[1], "COMMIT"))
    out("tx", "c1 autocommit on", run(c[1], "SET autocommit = 1"))
    out("tx", "c3 sees", run(c[3], base))
    out("tx", "c2 error in tx", run(c[2], "BEGIN; INSERT INTO %s (id) VALUES (1)" % T))
    out("tx", "c2 rollback", run(c[2], "ROLLBACK"))

    # ---- LAST_INSERT_ID() and FOUND_ROWS() after other clients' statements ----
    out("ids", "c4 insert", run(c[4], "INSERT INTO %s (owner, v) VALUES (4, 'id')" % T))
    out("ids", "c5 insert", run(c[5], "INSERT INTO %s (owner, v) VALUES (5, 'id'), (5, 'id')" % T))
    out("ids", "c4 last", run(c[4], "SELECT LAST_INSERT_ID()"))
    out("ids", "c5 last", run(c[5], "select last_insert_id() ;"))
    out("ids", "c3 last", run(c[3], "SELECT LAST_INSERT_ID()"))
    out("rows", "c0 calc", run(c[0], "SELECT SQL_CALC_FOUND_ROWS id FROM %s ORDER BY id LIMIT 2" % T))
    out("rows", "c1 other", run(c[1], "SELECT COUNT(*) FROM %s WHERE owner = 1" % T))
    out("rows", "c0 found", run(c[0], "SELECT FOUND_ROWS()"))

    # ---- pins: each keeps its client on one server until it leaves (one at a time: with 2
    # servers, a second pinned client would leave the others none) ----
    pins = [
        ("user variable", "SET @v = 42", "SELECT @v, @v + 1"),
        ("select into", "SELECT 7 INTO @w", "SELECT @w"),
        ("temporary table",
         "CREATE TEMPORARY TABLE tmp_p (a INT); INSERT INTO tmp_p VALUES (1), (2)",
         "SELECT SUM(a) FROM tmp_p"),
        ("prepare", "PREPARE s1 FROM 'SELECT ? * 2'", "SET @x = 21; EXECUTE s1 USING @x"),
        ("named lock", "SELECT GET_LOCK('%s', 0)" % T,  # the table's name: unique per run
         "SELECT IS_USED_LOCK('%s') = CONNECTION_ID()" % T),
    ]
    for name, first, later in pins:
        p = connect()
        out("pin", name + " first", run(p, first))
        mine = backend(p)
        for i, conn in enumerate(conns):
            out("pin", "%s c%d" % (name, i), run(conn, "SELECT COUNT(*) FROM %s WHERE owner = %d"
                                                  % (T, i)))
            backend(conn)
        out("pin", name + " later", run(p, later))
        print("pinned=%s %s" % (name, backend(p) == mine), file=sys.stderr)
        out("pin", name + " same server", backend(p) == mine)
        p.close()
    # The lock went with its session (a disconnect is processed by the server a moment later:
    # wait for it).
    out("pin", "lock taken again", run(c[0], "SELECT GET_LOCK('%s', 10)" % T))
    out("pin", "lock released", run(c[0], "SELECT RELEASE_ALL_LOCKS()"))

    # LOCK TABLES holds the server until UNLOCK TABLES.
    out("lock", "c3 lock", run(c[3], "LOCK TABLES %s WRITE" % T))
    out("lock", "c3 insert", run(c[3], "INSERT INTO %s (owner, v) VALUES (3, 'lock')" % T))
    out("lock", "c3 unlock", run(c[3], "UNLOCK TABLES"))
    out("lock", "c4 sees", run(c[4], "SELECT COUNT(*) FROM %s WHERE v = 'lock'" % T))

    # ---- COM_RESET_CONNECTION (PyMySQL's own command sender; MySQLdb 1.4 has none): through
    # a pinned client's server, then answered without one ----
    if DRIVER == "pymysql":
        r = connect()
        run(r, "SET time_zone = '+02:00'")
        run(r, "SET NAMES latin1")
        run(r, "SET @u = 1")
        out("reset", "before", run(r, "SELECT @@time_zone, @@character_set_client, @u"))
        r._execute_command(0x1F, b"")
        r._read_ok_packet()
        out("reset", "after", run(r, "SELECT @@time_zone, @@character_set_client, @u, DATABASE()"))
        run(r, "SET time_zone = '+04:00'")
        for i, conn in enumerate(conns):
            run(conn, "SELECT %d" % i)
        r._execute_command(0x1F, b"")
        r._read_ok_packet()
        out("reset", "again", run(r, "SELECT @@time_zone, @@character_set_client"))
        r.close()

    # ---- errors, several result sets, ping ----
    out("misc", "c0 missing table", run(c[0], "SELECT * FROM %s_missing" % T))
    out("misc", "c0 after error", run(c[0], "SELECT 1"))
    out("misc", "c1 multi", run(c[1], "SELECT 1; SELECT 'two', NULL; DO 0"))
    out("misc", "c1 warning", run(c[1], "SELECT CAST('x1' AS INT); SHOW WARNINGS"))
    for i, conn in enumerate(conns):
        conn.ping()
        out("misc", "c%d ping" % i, run(conn, "SELECT 1"))
    out("final", "rows", run(c[0], "SELECT owner, v, COUNT(*) FROM %s GROUP BY owner, v "
                                   "ORDER BY owner, v" % T))
    run(c[0], "DROP TABLE %s" % T)
    for conn in conns:
        conn.close()
    print("backends=%d" % len(connection_ids), file=sys.stderr)
    print("done")


main()
