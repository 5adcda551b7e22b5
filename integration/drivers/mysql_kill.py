"""KILL between clients, with PyMySQL: run directly against MariaDB and through shardpool, the
lines before "proxy-only:" must be the same. argv: PORT APP_PASSWORD ADMIN_PASSWORD [proxied].

A client's connection id is the one its greeting gave (PyMySQL's thread_id(), what the mariadb
CLI sends KILL QUERY for on Ctrl-C); through shardpool it is shardpool's, and KILL names it.
"""
import signal
import subprocess
import sys
import threading
import time

import pymysql

PORT = int(sys.argv[1])
APP_PASSWORD, ADMIN_PASSWORD = sys.argv[2], sys.argv[3]
PROXIED = len(sys.argv) > 4 and sys.argv[4] == "proxied"


def conn(user="sp_app", password=APP_PASSWORD):
    return pymysql.connect(host="127.0.0.1", port=PORT, user=user, password=password,
                           database="sp_db", autocommit=True)


def outcome(c, sql):
    """'ok [rows]' or 'error CODE' ('lost' for a connection that is gone)."""
    try:
        cur = c.cursor()
        cur.execute(sql)
        return "ok %s" % (list(cur.fetchall()),)
    except pymysql.MySQLError as e:
        code = e.args[0] if e.args else 0
        return "lost" if code in (0, 2006, 2013) else "error %d" % code


def kill_while_running(victim, killer, statement, kill):
    """Runs `statement` on victim; `kill` on killer half a second in. What each saw."""
    seen = {}

    def later():
        time.sleep(0.5)
        seen["kill"] = outcome(killer, kill)

    t = threading.Thread(target=later)
    t.start()
    start = time.time()
    seen["victim"] = outcome(victim, statement)
    elapsed = time.time() - start
    t.join()
    seen["time"] = "in time" if elapsed < 5 else "slow (%.1f s)" % elapsed
    return seen


a = conn()
killers = [conn() for _ in range(3)]  # through shardpool, on more than one worker
for i, b in enumerate(killers):
    s = kill_while_running(a, b, "SELECT SLEEP(20)", "KILL QUERY %d" % a.thread_id())
    print("kill query %d: killer %s, victim %s, %s" % (i, s["kill"], s["victim"], s["time"]))
    print("victim goes on:", outcome(a, "SELECT %d" % (10 + i)))

# In a transaction: the statement is interrupted, the transaction goes on.
b = killers[0]
print("begin:", outcome(a, "BEGIN"))
s = kill_while_running(a, b, "SELECT SLEEP(20)", "KILL QUERY %d" % a.thread_id())
print("in a transaction: killer %s, victim %s, %s" % (s["kill"], s["victim"], s["time"]))
print("transaction goes on:", outcome(a, "SELECT 21"))
print("commit:", outcome(a, "COMMIT"))

print("idle victim:", outcome(b, "KILL QUERY %d" % a.thread_id()))
print("after an idle kill:", outcome(a, "SELECT 22"))
print("own query:", outcome(b, "KILL QUERY %d" % b.thread_id()))
print("after its own:", outcome(b, "SELECT 23"))
print("unknown id:", outcome(b, "KILL QUERY 4294967295"))
print("unknown connection:", outcome(b, "KILL 4294967294"))
admin = conn("sp_admin", ADMIN_PASSWORD)
print("another user's:", outcome(b, "KILL QUERY %d" % admin.thread_id()))
print("another user's connection:", outcome(b, "KILL %d" % admin.thread_id()))
print("that user goes on:", outcome(admin, "SELECT 24"))

# KILL CONNECTION: the victim's connection ends, while idle and while running.
c = conn()
print("kill connection:", outcome(b, "KILL CONNECTION %d" % c.thread_id()))
print("killed client:", outcome(c, "SELECT 25"))
d = conn()
s = kill_while_running(d, b, "SELECT SLEEP(20)", "KILL %d" % d.thread_id())
print("kill running connection: killer %s, victim %s, %s" % (s["kill"], s["victim"], s["time"]))
print("killed running client:", outcome(d, "SELECT 26"))
print("own connection:", outcome(killers[2], "KILL %d" % killers[2].thread_id()))
print("others go on:", outcome(a, "SELECT 27"), outcome(b, "SELECT 28"))

# The mariadb CLI's Ctrl-C: it connects again (without a database) and sends
# KILL /*!50000 QUERY */ <its connection id>.
cli = subprocess.Popen(["mariadb", "--no-defaults", "-h127.0.0.1", "-P%d" % PORT, "-usp_app",
                        "-p" + APP_PASSWORD, "sp_db", "-e", "SELECT SLEEP(20)"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
time.sleep(1.5)
start = time.time()
cli.send_signal(signal.SIGINT)
cli_out, _ = cli.communicate(timeout=30)
print("cli ctrl-c:", "killed" if "query killed" in cli_out else repr(cli_out),
      "ERROR 1317" in cli_out, "in time" if time.time() - start < 5 else "slow")

# A connection without a database (as the CLI's KILL connection, mysqladmin): it pings, then
# picks one with COM_INIT_DB or USE.
n = pymysql.connect(host="127.0.0.1", port=PORT, user="sp_app", password=APP_PASSWORD,
                    autocommit=True)
n.ping()
print("no database: ping ok")
n.select_db("sp_db")
print("COM_INIT_DB:", outcome(n, "SELECT DATABASE(), 30"))
m = pymysql.connect(host="127.0.0.1", port=PORT, user="sp_app", password=APP_PASSWORD,
                    autocommit=True)
print("USE:", outcome(m, "USE sp_db"), outcome(m, "SELECT DATABASE(), 31"))

print("proxy-only:")
if PROXIED:
    # Forms that name no client of shardpool's are refused, never sent to a server.
    print("query id:", outcome(b, "KILL QUERY ID 1"))
    print("user:", outcome(b, "KILL USER sp_app"))
    print("expression:", outcome(b, "KILL QUERY 1 + 1"))
    print("with more:", outcome(b, "KILL 1; SELECT 1"))
    multi = pymysql.connect(host="127.0.0.1", port=PORT, user="sp_app", password=APP_PASSWORD,
                            database="sp_db", autocommit=True,
                            client_flag=pymysql.constants.CLIENT.MULTI_STATEMENTS)
    print("behind another statement:", outcome(multi, "SELECT 1; KILL %d" % a.thread_id()))
    print("its victim untouched:", outcome(a, "SELECT 32"))
    # A server's own connection id (CONNECTION_ID() inside a transaction: the server that
    # runs it) is not a client's: the KILL is refused, the transaction is untouched.
    e = conn()
    print("begin:", outcome(e, "BEGIN"))
    tid = e.cursor()
    tid.execute("SELECT CONNECTION_ID()")
    server_id = tid.fetchall()[0][0]
    print("server id differs:", server_id != e.thread_id())
    print("a server's id:", outcome(b, "KILL %d" % server_id))
    print("its transaction goes on:", outcome(e, "SELECT 29"), outcome(e, "COMMIT"))
    # Without a database, shardpool has no server to run a statement on.
    o = pymysql.connect(host="127.0.0.1", port=PORT, user="sp_app", password=APP_PASSWORD,
                        autocommit=True)
    print("no database:", outcome(o, "SELECT 1"))
print("done")
