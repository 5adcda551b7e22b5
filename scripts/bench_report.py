#!/usr/bin/python3
"""Markdown tables from the results of scripts/bench.sh (standard library only).

  bench_report.py RESULTS ROWS

RESULTS holds NAME.KEY=VALUE lines (one run or measurement per NAME); ROWS holds
SECTION|LABEL|CLIENTS|DIRECT_NAME|PGBOUNCER_NAME|SHARDPOOL_NAME lines, one per row of the
throughput tables ("-" where a run was skipped). Every ratio is shardpool / PgBouncer: above 1
means shardpool's figure is higher (better for TPS, worse for costs and latency).
"""
import math
import sys


def load(path):
    values = {}
    try:
        with open(path) as f:
            for line in f:
                key, _, value = line.rstrip("\n").partition("=")
                name, _, field = key.rpartition(".")
                values.setdefault(name, {})[field] = value
    except FileNotFoundError:
        pass
    return values


R = {}


def get(name, field):
    """A number, None when missing or failed."""
    run = R.get(name, {})
    if run.get("status") == "FAIL":
        return None
    try:
        v = float(run[field])
    except (KeyError, ValueError):
        return None
    return None if math.isnan(v) else v


def failed(name):
    return R.get(name, {}).get("status") == "FAIL"


def fmt(v, kind):
    if v is None:
        return "-"
    if kind == "int":
        return f"{v:,.0f}"
    if kind == "ms":
        return f"{v:.2f}" if v < 10 else f"{v:.1f}"
    if kind == "us":
        return f"{v:,.1f}"
    if kind == "x":
        return f"{v:.2f}"
    if kind == "mib":
        return f"{v / 1024:,.1f}"
    return f"{v}"


def cell(name, field, kind):
    if name == "-":
        return "-"
    if failed(name):
        return "fails"
    return fmt(get(name, field), kind)


def ratio(a, b):
    return fmt(b / a if a and b is not None else None, "x")


def lat(name):
    if name == "-":
        return "-"
    if failed(name):
        return "fails"
    return f"{fmt(get(name, 'p50_ms'), 'ms')} / {fmt(get(name, 'p99_ms'), 'ms')}"


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def main(argv):
    global R
    R = load(argv[1])
    rows = []
    try:
        with open(argv[2]) as f:
            rows = [line.rstrip("\n").split("|") for line in f if line.strip()]
    except FileNotFoundError:
        pass
    b = R.get("bench", {})
    print(f"shardpool vs PgBouncer {b.get('pgbouncer', '?')}, PostgreSQL {b.get('postgres', '?')}, "
          f"{b.get('date', '?')}, {b.get('cores', '?')} cores shared by everything (servers, "
          f"poolers, pgbench); load average {b.get('loadavg_start', '?')} at the start, "
          f"{b.get('loadavg_end', '?')} at the end. pgbench -S (select-only), scale "
          f"{b.get('scale', '?')}, {b.get('seconds', '?')} s measured per run, SCRAM "
          f"logins everywhere. Ratios are shardpool / PgBouncer from the same run.")

    if rows:
        print("\n### Throughput and latency\n")
        print(f"Transaction pooling with {b.get('pool', '?')} servers per pooler, session pooling "
              "with 100. Each run is measured once all of pgbench's clients have logged in: TPS and "
              "latency percentiles of the transactions that completed in that window (from "
              "pgbench's per-transaction logs). Direct is skipped above 250 clients "
              "(max_connections = 300).\n")
        body = []
        for section, label, clients, d, pb, sp in rows:
            body.append([label, f"{int(clients):,}", cell(d, "tps", "int"), cell(pb, "tps", "int"),
                         cell(sp, "tps", "int"), ratio(get(pb, "tps"), get(sp, "tps")), lat(d),
                         lat(pb), lat(sp), ratio(get(pb, "p99_ms"), get(sp, "p99_ms"))])
        print(table(["workload", "clients", "direct TPS", "PgBouncer TPS", "shardpool TPS",
                     "TPS ratio", "direct p50 / p99 ms", "PgBouncer p50 / p99 ms",
                     "shardpool p50 / p99 ms", "p99 ratio"], body))

        print("\n### Pooler cost per transaction (same runs)\n")
        print("CPU: utime+stime of the pooler process (/proc/PID/stat), with the cores it kept busy "
              "on average; context switches: voluntary + involuntary, summed over its threads "
              "(/proc/PID/task/*/status); both over the measured window, divided by the "
              "transactions completed in it.\n")
        body = []
        for section, label, clients, d, pb, sp in rows:
            def cpu(n):
                c = cell(n, "cpu_us_per_txn", "us")
                share = get(n, "cpu_share")
                return c if share is None else f"{c} ({share:.2f})"
            body.append([label, f"{int(clients):,}", cpu(pb), cpu(sp),
                         ratio(get(pb, "cpu_us_per_txn"), get(sp, "cpu_us_per_txn")),
                         cell(pb, "ctxsw_per_txn", "x"), cell(sp, "ctxsw_per_txn", "x"),
                         ratio(get(pb, "ctxsw_per_txn"), get(sp, "ctxsw_per_txn"))])
        print(table(["workload", "clients", "PgBouncer CPU µs (cores)",
                     "shardpool CPU µs (cores)", "CPU ratio", "PgBouncer ctx switches",
                     "shardpool ctx switches", "ctx switch ratio"], body))

    if "pgbouncer-syscalls" in R or "shardpool-syscalls" in R:
        pb, sp = "pgbouncer-syscalls", "shardpool-syscalls"
        print("\n### Syscalls per transaction\n")
        print("A separate transaction-pooling run per pooler (simple protocol). perf counts every "
              "syscall entry of the pooler's threads (raw_syscalls:sys_enter) with little "
              "overhead; strace -f -c, over a shorter run of its own, slows the pooler down but "
              "names the syscalls. /proc/PID/io counts only read()/write()-family calls: recv() "
              "and send() on sockets do not show there.\n")

        def io(n):
            r, w = get(n, "syscr_per_txn"), get(n, "syscw_per_txn")
            return None if r is None or w is None else r + w


        measures = [
            ("syscalls (perf stat, raw_syscalls:sys_enter)", get(pb, "syscalls_per_txn"),
             get(sp, "syscalls_per_txn"), "x"),
            ("syscalls (strace -f -c, separate run)", get(pb, "strace_syscalls_per_txn"),
             get(sp, "strace_syscalls_per_txn"), "x"),
            ("read/write-family syscalls (/proc/PID/io syscr + syscw)", io(pb), io(sp), "x"),
            ("context switches (/proc/PID/task/*/status)", get(pb, "ctxsw_per_txn"),
             get(sp, "ctxsw_per_txn"), "x"),
            ("CPU µs (/proc/PID/stat utime + stime)", get(pb, "cpu_us_per_txn"),
             get(sp, "cpu_us_per_txn"), "us"),
            ("TPS of the perf run", get(pb, "tps"), get(sp, "tps"), "int"),
        ]
        print(table(["per transaction", "PgBouncer", "shardpool", "shardpool / PgBouncer"],
                    [[m, fmt(x, k), fmt(y, k), ratio(x, y)] for m, x, y, k in measures]))
        for who, n in (("PgBouncer", pb), ("shardpool", sp)):
            top = R.get(n, {}).get("strace_top")
            if top:
                print(f"\n{who}, strace calls per transaction: " +
                      ", ".join(t.replace(":", " ") for t in top.split()))

    if any(k.endswith("-churn") for k in R):
        d, pb, sp = "direct-churn", "pgbouncer-churn", "shardpool-churn"
        print("\n### New connection per transaction (pgbench -C)\n")
        print("Transaction pooling for both poolers, pgbench -S. PostgreSQL's CPU: the run "
              "time of every live process of the cluster (/proc/PID/schedstat), plus the "
              "postmaster's cutime+cstime (backends that exited), before and after the run; the "
              "pooler's: utime+stime (/proc/PID/stat); each divided by the connections made.\n")
        measures = [
            ("TPS (including connection setup)", "tps", "int"),
            ("PostgreSQL CPU µs per new client connection", "pg_cpu_us_per_conn", "us"),
            ("pooler CPU µs per new client connection", "pooler_cpu_us_per_conn", "us"),
        ]
        print(table(["measure", "direct", "PgBouncer", "shardpool", "shardpool / PgBouncer"],
                    [[m, cell(d, f, k), cell(pb, f, k), cell(sp, f, k),
                      ratio(get(pb, f), get(sp, f))] for m, f, k in measures]))

    if "pgbouncer-idle" in R or "shardpool-idle" in R:
        pb, sp = "pgbouncer-idle", "shardpool-idle"
        n = b.get("idle_clients", "?")
        print(f"\n### {int(n):,} idle clients\n" if n.isdigit() else "\n### Idle clients\n")
        print("Fresh poolers in transaction pooling. Each client logged in (SCRAM) and ran one "
              "SELECT, then stayed connected. RSS: VmRSS of the pooler (/proc/PID/status) after "
              "one client, then with all of them connected.\n")
        measures = [
            ("clients logged in", "clients_ok", "int"),
            ("RSS before, MiB", "rss_kb_before", "mib"),
            ("RSS with the idle clients, MiB", "rss_kb_after", "mib"),
            ("RSS per idle client, bytes", "rss_bytes_per_client", "int"),
            ("pooler CPU µs per login", "cpu_us_per_login", "us"),
            ("seconds to log them all in", "login_seconds", "x"),
        ]
        print(table(["measure", "PgBouncer", "shardpool", "shardpool / PgBouncer"],
                    [[m, cell(pb, f, k), cell(sp, f, k), ratio(get(pb, f), get(sp, f))]
                     for m, f, k in measures]))


if __name__ == "__main__":
    main(sys.argv)
