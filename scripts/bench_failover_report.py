"""Failover benchmark figures (scripts/bench-failover.sh).

  bench_failover_report.py run RESULT_JSON SHARDPOOL_LOG KILL_AT OLD_PORT NEW_PORT
      one run: prints one line of JSON with the times below (ms, null when it did not happen)
  bench_failover_report.py table RUNS_FILE MAX_MS
      the table of every run (one JSON line each in RUNS_FILE) with min / median / max; exits 1
      when a run had no write on the new primary or took over MAX_MS from detection to it

Times, all on this machine's wall clock (shardpool's log lines carry milliseconds):
  kill          the SIGKILL of the old primary's postmaster and children (the script's clock just
                before kill(1))
  noticed       shardpool's first "connect failed (...); holding for a failover decision" (a
                worker could not reach the old primary) after the kill
  detected      shardpool's "OLD is down after N failed health checks" (the failover decision)
  write target  shardpool's "NEW is the write target" (the promoted standby is in use)
  first write   the first insert acknowledged to a writer with inet_server_port() = NEW_PORT
  every writer  the time by which every writer has had an insert acknowledged on NEW_PORT
"""
import datetime
import json
import re
import statistics
import sys

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC ")


def log_time(line):
    m = LOG_TIME.match(line)
    if not m:
        return None
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp()


def first_line(lines, after, needle):
    for t, line in lines:
        if t is not None and t >= after and needle in line:
            return t, line
    return None, None


def run(result_file, log_file, kill_at, old_port, new_port):
    r = json.load(open(result_file))
    kill_at = float(kill_at)
    # Log lines are stamped to the millisecond (truncated), so look from the kill's millisecond.
    after = int(kill_at * 1000) / 1000
    lines = [(log_time(line), line.rstrip("\n")) for line in open(log_file, errors="replace")]
    noticed, _ = first_line(lines, after, "holding for a failover decision")
    detected, detect_line = first_line(lines, after, f":{old_port} is down after")
    promoting, _ = first_line(lines, after, f":{new_port} (the most advanced healthy standby)")
    target, _ = first_line(lines, after, f":{new_port} is the write target")
    on_new = [a for a in r["acks"] if a[2] == new_port]
    first = min((a[1] for a in on_new), default=None)
    writers = {a[0] for a in r["acks"]}
    firsts = {}
    for w, t, _ in on_new:
        firsts[w] = min(t, firsts.get(w, t))
    every = max(firsts.values()) if writers and set(firsts) == writers else None
    old_after_kill = sum(1 for a in r["acks"] if a[2] == old_port and a[1] > kill_at)

    def ms(a, b):
        return None if a is None or b is None else round((b - a) * 1000)

    print(json.dumps({
        "kill_to_noticed": ms(kill_at, noticed),
        "kill_to_detected": ms(kill_at, detected),
        "detected_to_promoting": ms(detected, promoting),
        "detected_to_target": ms(detected, target),
        "detected_to_first": ms(detected, first),
        "kill_to_first": ms(kill_at, first),
        "detected_to_every": ms(detected, every),
        "errors": len(r["errors"]),
        "error_kinds": sorted({e[2][:80] for e in r["errors"]}),
        "closed": r["closed"],
        "writers": len(writers),
        "acks": len(r["acks"]),
        "old_acks_after_kill": old_after_kill,
        "detect_line": detect_line,
    }))


def fmt(v):
    return "-" if v is None else f"{v:,}"


def table(runs_file, max_ms):
    runs = [json.loads(line) for line in open(runs_file) if line.strip()]
    cols = [
        ("kill_to_detected", "kill -> detected"),
        ("detected_to_target", "detected -> new write target"),
        ("detected_to_first", "detected -> first write"),
        ("kill_to_first", "kill -> first write"),
        ("detected_to_every", "detected -> every writer wrote"),
    ]
    print("| run | " + " | ".join(f"{h} (ms)" for _, h in cols)
          + " | client errors | clients closed |")
    print("| --- " * (len(cols) + 3) + "|")
    for i, r in enumerate(runs, 1):
        if r.get("stalled"):
            print(f"| {i} | stalled: {r['stalled']} |")
            continue
        print(f"| {i} | " + " | ".join(fmt(r[k]) for k, _ in cols)
              + f" | {r['errors']} | {r['closed']} |")
    for name, pick in (("min", min), ("median", statistics.median), ("max", max)):
        cells = []
        for k, _ in cols:
            vals = [r[k] for r in runs if not r.get("stalled") and r[k] is not None]
            cells.append(fmt(round(pick(vals))) if vals else "-")
        print(f"| {name} | " + " | ".join(cells) + " | | |")
    bad = [i for i, r in enumerate(runs, 1)
           if r.get("stalled") or r["detected_to_first"] is None or r["detected_to_first"] > max_ms]
    if bad:
        print(f"FAIL: run(s) {', '.join(map(str, bad))} had no write on the new primary within "
              f"{max_ms} ms of detection")
        return 1
    print(f"ok: every run's first write on the new primary came within {max_ms} ms of detection")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), int(sys.argv[6]))
    elif sys.argv[1] == "table":
        sys.exit(table(sys.argv[2], int(sys.argv[3])))
    else:
        sys.exit(__doc__)
