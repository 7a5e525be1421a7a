#!/usr/bin/env python3
"""The history's benchmark (issue 12): MOUNT/.history over a history of N jobs against
the same tree in a tmpfs, the bytes a job takes on disk, and the recorder's CPU.

For each N (--jobs, default 100000 and 1000000) a history file is filled with N jobs
shaped like ontap-sim's (its own records, copied with new uuids and times spread over
the past weeks), in the schema jobsfs made, for a mount of an empty simulator with
-o record=off (nothing but the history is served). Then, each cold (a fresh mount) and
warm (the same command again):

  ls -l       ls -l .history | wc -l           tmpfs: ls -l COPY | wc -l
  grep -r     grep -r PATTERN .history | wc -l tmpfs: grep -r PATTERN COPY | wc -l
  view        ls .history/state=failure        tmpfs: grep -rlx --include=state failure COPY
  last 20     ls '.history/order_by=end_time desc/max_records=20'
                                               tmpfs: ls -t COPY | head -20

The tmpfs copy is `cp -a` of the mounted .history (the very tree), made only up to
--tmpfs-max jobs (default 100000: a million jobs are twelve million files). Outputs are
compared line counts with the tmpfs's. The RSS of jobsfs after the cold `ls -l`.

With --pg-jobs (default 1000000) the same history, but for grep -r, on a PostgreSQL
server of its own (harness.PgServer), side by side with the SQLite rows.

The recorder: jobsfs over ontap-sim with 10,000 live jobs (and a workload), nobody
reading, -o record=10 for --cpu-seconds (60): the CPU time of the jobsfs process
(utime + stime) against the same with history=off, per minute, and per listing.

It is not a test: it prints Markdown tables. Environment: JOBSFS, ONTAP_SIM.
"""

import argparse
import csv
import json
import os
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid as uuidlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

PATTERN = "entry doesn't exist"


def sh(cmd, cwd, timeout=3600):
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=cwd, capture_output=True,
                       text=True, timeout=timeout)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (cmd, r.returncode, r.stderr[-500:]))
    return dt, r.stdout


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick


def iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def templates(sim_bin):
    """Records as ontap-sim makes them (5,000, of every kind it makes)."""
    sim = harness.Sim(sim_bin, ["--jobs", "5000", "--seed", "1"])
    recs, err = sim.walk([("fields", "*"), ("max_records", "5000")])
    sim.stop()
    if err:
        raise RuntimeError("ontap-sim: %r" % (err,))
    return recs


def generate(cluster, n, base):
    """n rows of the jobs table for cluster: base's records with new uuids, ending 2 s
    apart backwards from now, as many finished as ontap-sim makes."""
    rnd = random.Random(12)
    now = int(time.time())
    for i in range(n):
        r = dict(base[i % len(base)])
        u = str(uuidlib.UUID(int=rnd.getrandbits(128), version=4))
        r["uuid"] = u
        end = now - 60 - i * 2
        r["start_time"] = iso(end - rnd.randint(1, 600))
        if r.get("state") in ("success", "failure"):
            r["end_time"] = iso(end)
        else:
            r.pop("end_time", None)
        r["_links"] = {"self": {"href": "/api/cluster/jobs/" + u}}
        svm = r.get("svm") or {}
        code = r.get("code")
        yield (cluster, u, r.get("description"), r.get("state"), r.get("message"),
               code if isinstance(code, int) else None, r.get("start_time"),
               r.get("end_time"), svm.get("name"),
               json.dumps(r, ensure_ascii=False, separators=(",", ":")), iso(end), iso(end))


def fill(db, cluster, n, base):
    """n jobs into the SQLite history db."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    rows = []
    for row in generate(cluster, n, base):
        rows.append(row)
        if len(rows) == 50000:
            con.executemany("INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            rows = []
    con.executemany("INSERT INTO jobs VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def fill_pg(pg, cluster, n, base, tmp):
    """n jobs into the PostgreSQL history, by COPY."""
    path = os.path.join(tmp, "rows.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        for row in generate(cluster, n, base):
            w.writerow(["" if v is None else v for v in row])
    pg.psql("\\copy jobs FROM '%s' WITH (FORMAT csv)" % path)
    pg.psql("ANALYZE jobs")
    os.unlink(path)


OPS = [
    ("ls -l", "ls -l .history | wc -l", "ls -l COPY | wc -l"),
    ("grep -r", "grep -r \"%s\" .history | wc -l" % PATTERN,
     "grep -r \"%s\" COPY | wc -l" % PATTERN),
    ("view state=failure", "ls .history/state=failure | wc -l",
     "grep -rlx --include=state failure COPY | wc -l"),
    ("last 20 (order_by=end_time desc/max_records=20)",
     "ls '.history/order_by=end_time desc/max_records=20' | wc -l",
     "ls -t COPY | sed -n 1,20p | wc -l"),
]


def bench_history(args, jobsfs, sim_bin, base, n, tmp, out):
    sim = harness.Sim(sim_bin, ["--jobs", "0"])
    cluster = sim.url.split("://", 1)[1].replace(":", "_")
    db = os.path.join(tmp, "h%d.sqlite" % n)
    mp = os.path.join(tmp, "m%d" % n)
    os.makedirs(mp, exist_ok=True)
    opts = ["history=" + db, "record=off", "ttl=600"]
    m = harness.Mount(jobsfs, sim.url, mp, opts, timeout=60)  # makes the schema
    m.unmount()
    t0 = time.monotonic()
    fill(db, cluster, n, base)
    fill_s = time.monotonic() - t0
    size = os.path.getsize(db)

    copy = None
    if n <= args.tmpfs_max and os.geteuid() == 0:
        copy = os.path.join(tmp, "tmpfs%d" % n)
        os.makedirs(copy, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dm" % max(256, n * 64 // 1024),
                        "hb", copy], check=True)
        harness.on_exit(lambda c=copy: subprocess.run(["umount", "-l", c]))
        m = harness.Mount(jobsfs, sim.url, mp, opts, timeout=60)
        dt, _ = sh("cp -a .history/. %s/" % copy, mp)
        m.unmount()
        out.append("cp -a of .history to the tmpfs: %.1f s" % dt)
        print("  " + out[-1], file=sys.stderr, flush=True)

    rows = []
    for name, cmd, tcmd in OPS:
        if args.no_grep and name == "grep -r":
            continue
        m = harness.Mount(jobsfs, sim.url, mp, opts, timeout=60)
        cold, got = sh(cmd, mp)
        rss = harness.proc_status(m.proc.pid, "VmRSS") if name == "ls -l" else None
        warm, got2 = sh(cmd, mp)
        m.unmount()
        t = "–"
        if copy:
            tdt, want = sh(tcmd.replace("COPY", copy), tmp)
            t = "%.2f s" % tdt
            if name.startswith("last 20") or name.startswith("view"):
                same = got.strip() == want.strip()
            else:
                # ls -l shows "total N" with other block counts; grep's paths differ.
                same = got.strip() == want.strip() or name == "ls -l"
            if not same:
                t += " (output differs: %s vs %s)" % (got.strip(), want.strip())
        rows.append("| %s | %d | %.2f s | %.2f s | %s | %s |" % (
            name, n, cold, warm, t, "%.0f MiB" % (rss / 1024) if rss else ""))
        print("  " + rows[-1], file=sys.stderr, flush=True)
    sim.stop()
    out.append("")
    out.append("History of %d jobs: %.0f bytes per job on disk (%.1f MiB), filled in %.0f s"
               % (n, size / n, size / 1048576, fill_s))
    out.append("")
    out.append("| operation | jobs | jobsfs cold | jobsfs warm | tmpfs | jobsfs RSS |")
    out.append("|---|---|---|---|---|---|")
    out.extend(rows)
    os.unlink(db)


PG_OPS = [op for op in OPS if op[0] != "grep -r"]


def bench_pg(args, jobsfs, sim_bin, base, n, tmp, out):
    """The same history queries with the history on PostgreSQL (a server of the
    benchmark's own, harness.PgServer), beside the SQLite rows printed above."""
    pg = harness.PgServer()
    env = {"PGPASSWORD": pg.PASSWORD}
    sim = harness.Sim(sim_bin, ["--jobs", "0"])
    cluster = sim.url.split("://", 1)[1].replace(":", "_")
    mp = os.path.join(tmp, "pg%d" % n)
    os.makedirs(mp, exist_ok=True)
    opts = ["history=" + pg.uri(), "record=off", "ttl=600"]
    harness.Mount(jobsfs, sim.url, mp, opts, env=env, timeout=60).unmount()  # the schema
    t0 = time.monotonic()
    fill_pg(pg, cluster, n, base, tmp)
    fill_s = time.monotonic() - t0
    size = int(pg.psql("SELECT pg_total_relation_size('jobs')")[0][0])
    out.append("")
    out.append("History of %d jobs on PostgreSQL: %.0f bytes per job (table and indexes, "
               "%.1f MiB), filled by COPY in %.0f s" % (n, size / n, size / 1048576, fill_s))
    out.append("")
    out.append("| operation | jobs | jobsfs cold | jobsfs warm | jobsfs RSS |")
    out.append("|---|---|---|---|---|")
    for name, cmd, _ in PG_OPS:
        m = harness.Mount(jobsfs, sim.url, mp, opts, env=env, timeout=60)
        cold, _ = sh(cmd, mp)
        rss = harness.proc_status(m.proc.pid, "VmRSS") if name == "ls -l" else None
        warm, _ = sh(cmd, mp)
        m.unmount()
        out.append("| %s | %d | %.2f s | %.2f s | %s |" % (
            name, n, cold, warm, "%.0f MiB" % (rss / 1024) if rss else ""))
        print("  " + out[-1], file=sys.stderr, flush=True)
    sim.stop()
    pg.stop()


def bench_recorder(args, jobsfs, sim_bin, tmp, out):
    res = {}
    for label, opts in (("history=off", ["history=off"]),
                        ("record=%d" % args.record, ["history=" + os.path.join(tmp, "r.sqlite"),
                                                     "record=%d" % args.record])):
        sim = harness.Sim(sim_bin, ["--jobs", "10000", "--rate", "2", "--seed", "1"])
        mp = os.path.join(tmp, "rec")
        os.makedirs(mp, exist_ok=True)
        m = harness.Mount(jobsfs, sim.url, mp, opts, timeout=60)
        time.sleep(args.record + 2)  # the first listing (every job written) is done
        c0 = cpu_seconds(m.proc.pid)
        time.sleep(args.cpu_seconds)
        c1 = cpu_seconds(m.proc.pid)
        _, c, _ = sim.request("GET", "/_sim/counters")
        m.unmount()
        sim.stop()
        res[label] = (c1 - c0, c.get("total"))
    off = res["history=off"][0]
    on, _ = res["record=%d" % args.record]
    per_min = (on - off) * 60.0 / args.cpu_seconds
    listings = args.cpu_seconds / args.record
    out.append("")
    out.append("Recorder at 10,000 live jobs (2 new a second), nobody reading, %d s:" %
               args.cpu_seconds)
    out.append("")
    out.append("| jobsfs | CPU in %d s |" % args.cpu_seconds)
    out.append("|---|---|")
    out.append("| history=off | %.2f s |" % off)
    out.append("| record=%d | %.2f s |" % (args.record, on))
    out.append("")
    out.append("The recorder: %.2f CPU s per minute at record=%d (%.3f s per listing of "
               "10,000 jobs), so %.3f CPU s per minute at the default record=60."
               % (per_min, args.record, (on - off) / listings, (on - off) / listings))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jobs", type=int, action="append",
                    help="history sizes (default 100000 and 1000000)")
    ap.add_argument("--tmpfs-max", type=int, default=100000)
    ap.add_argument("--record", type=int, default=10)
    ap.add_argument("--cpu-seconds", type=int, default=60)
    ap.add_argument("--no-recorder", action="store_true")
    ap.add_argument("--no-grep", action="store_true",
                    help="leave grep -r out (a million jobs: about 20 minutes each)")
    ap.add_argument("--pg-jobs", type=int, action="append",
                    help="PostgreSQL history sizes (default 1000000; 0: none)")
    args = ap.parse_args()
    jobsfs, sim_bin = harness.binaries_or_skip()
    tmp = tempfile.mkdtemp(prefix="jobsfs-hbench-")
    harness.on_exit(lambda: subprocess.run(["rm", "-rf", tmp]))
    out = []
    base = templates(sim_bin)
    for n in args.jobs or [100000, 1000000]:
        if n:
            bench_history(args, jobsfs, sim_bin, base, n, tmp, out)
            print("\n".join(out), flush=True)
            out = []
    for n in args.pg_jobs or [1000000]:
        if n:
            bench_pg(args, jobsfs, sim_bin, base, n, tmp, out)
            print("\n".join(out), flush=True)
            out = []
    if not args.no_recorder:
        bench_recorder(args, jobsfs, sim_bin, tmp, out)
        print("\n".join(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
