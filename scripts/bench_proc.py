#!/usr/bin/python3
"""Process counters and pgbench logs for scripts/bench.sh (standard library only).

  bench_proc.py sample PID OUT [INTERVAL]
      Every INTERVAL seconds (default 0.2) until PID exits or this process gets SIGTERM, append
      one line to OUT: epoch utime stime voluntary_ctxt_switches nonvoluntary_ctxt_switches
      syscr syscw. utime/stime (clock ticks) come from /proc/PID/stat and cover every thread;
      the context switches are summed over /proc/PID/task/*/status; syscr/syscw come from
      /proc/PID/io (-1 where unreadable).

  bench_proc.py cluster-cpu POSTMASTER_PID
      Prints the CPU seconds used so far by a PostgreSQL cluster: the run time of the
      postmaster and of every live process below it (/proc/PID/schedstat, nanoseconds; else
      utime+stime), plus the postmaster's cutime+cstime (children it has already reaped, e.g.
      backends of closed connections; clock ticks).

  bench_proc.py cpu PID
      Prints utime+stime of PID (every thread) in seconds.

  bench_proc.py rss PID
      Prints VmRSS of PID in kB.

  bench_proc.py summarize LOG_PREFIX FROM TO SAMPLES [PERF_FILE PERF_START_EPOCH]
      Reads the per-transaction logs of a pgbench run (pgbench -l --log-prefix=LOG_PREFIX) and
      the samples of the pooler taken during it (SAMPLES, or "-"), keeps the window from epoch
      FROM to TO (narrowed to the samples inside it, where the counters are exact), and prints
      key=value lines about the transactions that completed in it: how many (window_txns),
      over how long (window_seconds), tps, p50/p99 latency (ms), and per transaction: CPU
      (us), context switches, syscr, syscw and, with PERF_FILE (perf stat -I ... -x, output
      whose clock started at PERF_START_EPOCH), syscalls.

  bench_proc.py count LOG_PREFIX FROM TO
      Prints how many transactions of those logs completed between the epochs FROM and TO.

  bench_proc.py strace-summary FILE TXNS
      Reads `strace -c` output and prints the total calls per transaction, then the eight most
      frequent syscalls with their calls per transaction.
"""
import glob
import os
import signal
import sys
import time

TICKS = os.sysconf("SC_CLK_TCK")


def stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # Field 2 (comm) may contain spaces: everything after its closing parenthesis.
    return text[text.rindex(")") + 2:].split()  # [0] is field 3 (state)


def cpu_ticks(pid):
    f = stat_fields(pid)
    return int(f[11]), int(f[12])  # utime (14), stime (15)


def ctx_switches(pid):
    vol = nonvol = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        nonvol += int(line.split()[1])
        except OSError:
            pass  # a thread that just exited
    return vol, nonvol


def io_counts(pid):
    try:
        with open(f"/proc/{pid}/io") as f:
            values = dict(line.split(": ") for line in f.read().splitlines())
        return int(values["syscr"]), int(values["syscw"])
    except (OSError, KeyError, ValueError):
        return -1, -1


def sample(pid, out, interval):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    with open(out, "a") as f:
        while not stop:
            try:
                now = time.time()
                ut, st = cpu_ticks(pid)
                vol, nonvol = ctx_switches(pid)
                r, w = io_counts(pid)
            except (OSError, ValueError):
                break  # the process is gone
            f.write(f"{now:.6f} {ut} {st} {vol} {nonvol} {r} {w}\n")
            f.flush()
            time.sleep(interval)


def run_seconds(pid, fields):
    """CPU time of a single-threaded process: /proc/PID/schedstat (ns) where the kernel has it,
    else utime+stime (clock ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return (int(fields[11]) + int(fields[12])) / TICKS


def cluster_cpu(postmaster):
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            f = stat_fields(entry)
        except (OSError, ValueError):
            continue
        children.setdefault(int(f[1]), []).append((int(entry), f))  # f[1] is the ppid (4)
    f = stat_fields(postmaster)
    # Backends that exited count in the postmaster's cutime/cstime (ticks) once it reaped them.
    total = run_seconds(postmaster, f) + (int(f[13]) + int(f[14])) / TICKS
    todo = [int(postmaster)]
    while todo:
        for pid, cf in children.get(todo.pop(), []):
            total += run_seconds(pid, cf)
            todo.append(pid)
    return total


def read_log(prefix):
    """Per pgbench thread (one log file each), its (completion epoch, latency us) in order."""
    threads = []
    for name in glob.glob(glob.escape(prefix) + ".*"):
        out = []
        with open(name) as f:
            for line in f:
                p = line.split()
                # client_id transaction_no time script_no time_epoch time_us [...]
                if len(p) >= 6 and p[2] != "skipped" and p[2] != "failed":
                    out.append((int(p[4]) + int(p[5]) / 1e6, int(p[2])))
        if out:
            out.sort()
            threads.append(out)
    return threads


def read_samples(path):
    rows = []
    if path == "-" or not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 7:
                rows.append([float(p[0])] + [int(x) for x in p[1:]])
    return rows


def read_perf(path, start):
    """Cumulative syscall counts at absolute times, from perf stat -I -x, output."""
    rows, total = [(start, 0)], 0
    with open(path) as f:
        for line in f:
            p = line.strip().split(",")
            if len(p) < 4 or line.startswith("#"):
                continue
            count = p[1].strip()
            if count.isdigit():
                total += int(count)
            elif count != "<not counted>":  # a thread that did not run in this interval
                continue
            rows.append((start + float(p[0]), total))
    return rows


def window_of(times, a, b):
    """First and last entries of `times` (sorted, entry[0] a time) inside [a, b]."""
    inside = [t for t in times if a <= t[0] <= b]
    return (inside[0], inside[-1]) if len(inside) >= 2 else (None, None)


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[k]


def summarize(prefix, a, b, samples_path, perf_path=None, perf_start=None):
    txns = sorted(t for thread in read_log(prefix) for t in thread)
    samples = read_samples(samples_path)
    s0, s1 = window_of(samples, a, b)
    if s0 is not None:
        a, b = s0[0], s1[0]  # counters are exact at sample times: count transactions between
    in_window = [lat for t, lat in txns if a < t <= b]
    n = len(in_window)
    in_window.sort()
    print(f"window_txns={n}")
    print(f"window_seconds={b - a:.3f}")
    print(f"tps={n / (b - a):.1f}")
    print(f"p50_ms={percentile(in_window, 0.50) / 1000:.3f}")
    print(f"p99_ms={percentile(in_window, 0.99) / 1000:.3f}")
    if n == 0:
        return
    if s0 is not None:
        cpu = (s1[1] + s1[2] - s0[1] - s0[2]) / TICKS
        print(f"cpu_us_per_txn={cpu * 1e6 / n:.2f}")
        print(f"cpu_share={cpu / (b - a):.3f}")  # cores busy on average
        print(f"ctxsw_per_txn={(s1[3] + s1[4] - s0[3] - s0[4]) / n:.3f}")
        print(f"vol_ctxsw_per_txn={(s1[3] - s0[3]) / n:.3f}")
        if s0[5] >= 0:
            print(f"syscr_per_txn={(s1[5] - s0[5]) / n:.3f}")
            print(f"syscw_per_txn={(s1[6] - s0[6]) / n:.3f}")
    if perf_path and os.path.exists(perf_path):
        p0, p1 = window_of(read_perf(perf_path, float(perf_start)), a, b)
        if p0 is not None:
            m = sum(1 for t, _ in txns if p0[0] < t <= p1[0])
            if m:
                print(f"syscalls_per_txn={(p1[1] - p0[1]) / m:.3f}")


def count(prefix, a, b):
    """Transactions that completed in (a, b]."""
    return sum(1 for thread in read_log(prefix) for t, _ in thread if a < t <= b)


def strace_summary(path, txns):
    calls = []
    total = None
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= 5 and p[-1] == "total":
                total = int(p[3])
            elif len(p) >= 5 and p[0][0].isdigit() and p[3].isdigit():
                calls.append((int(p[3]), p[-1]))
    if total is None or txns <= 0:
        print("strace_syscalls_per_txn=")
        return
    print(f"strace_syscalls_per_txn={total / txns:.3f}")
    calls.sort(reverse=True)
    print("strace_top=" + " ".join(f"{name}:{n / txns:.2f}" for n, name in calls[:8]))


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "sample":
        sample(argv[2], argv[3], float(argv[4]) if len(argv) > 4 else 0.2)
    elif cmd == "cluster-cpu":
        print(f"{cluster_cpu(argv[2]):.6f}")
    elif cmd == "cpu":
        ut, st = cpu_ticks(argv[2])
        print(f"{(ut + st) / TICKS:.3f}")
    elif cmd == "rss":
        with open(f"/proc/{argv[2]}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    print(line.split()[1])
    elif cmd == "summarize":
        summarize(argv[2], float(argv[3]), float(argv[4]), argv[5],
                  *(argv[6:8] if len(argv) >= 8 else []))
    elif cmd == "count":
        print(count(argv[2], float(argv[3]), float(argv[4])))
    elif cmd == "strace-summary":
        strace_summary(argv[2], int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
