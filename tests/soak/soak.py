#!/usr/bin/env python3
"""Soak: 8 parallel readers over a churning simulator for N minutes (issue 6, "Soak").

    JOBSFS=build/fs/jobsfs ONTAP_SIM=build/tests/sim/ontap-sim \
        tests/soak/soak.py --minutes 30          # the long run, by hand

The simulator creates jobs (--rate 20/s) that run, finish and expire (--expiry 20 s),
and its clock is advanced now and then, so jobs also expire in jumps. The simulator's
own jobs may run for up to 20 minutes, so its job count would grow through any short
run; the driver finishes every job that has been active for --active seconds (10), so
the population is steady (about rate * (active + expiry)) after a warm-up and the RSS
comparison measures jobsfs, not the workload's growth. jobsfs is mounted
with -o ttl=1,expiry=20. The readers list the root and views, read job files (state,
message, job.json) and grep over messages. It checks:

  - no unexpected error. ENOENT on a job that was listed a moment before is expected (it
    expired or left between the listing and the read) and counted apart;
  - jobsfs's RSS (sampled every 2 s) stays within 10% of where it started: the mean of
    the last minute against the first minute after a warm-up (--warmup, 60 s; run
    before the N minutes, while the caches and the job population fill: RSS climbs for
    30 to 60 s). A run shorter than three minutes (the suite's: 1 minute after a 30 s
    warm-up) compares its last 20 s with its first 20 s;
  - the request rate stays bounded: each listing (the root and every view) is fetched
    at most once per ttl, page by page, and single-job GETs cost at most one per active
    job per ttl plus the jobs that arrive:
        rps <= listings * ceil(jobs / page_size) / ttl + active / ttl + rate
    with jobs and active the most the simulator held at a sample (x1.5 for timing).

Prints a summary (operations, errors by kind, RSS first/last, requests/s).
Exit status: 0 passed, 1 failed, 77 FUSE or the binaries missing.
"""

import argparse
import collections
import datetime
import errno
import json
import math
import os
import random
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

TTL = 1
PAGE = 100
VIEWS = ["state=running", "state=failure", "description=*Snapshot*",
         "order_by=start_time desc/max_records=20"]
READERS = 8
C_ENV = dict(os.environ, LC_ALL="C")


# A value cut to another version's size is a failure like any other: the soak found
# one (2026-11-28: a just-finished job's state read as "failure" cut to the 7 bytes of
# "queued\n"); since then a file's inode is one version of it (fs/inode.h).


class Stats:
    """Counters the readers share; the lock guards ops, expected and unexpected."""

    def __init__(self):
        self.lock = threading.Lock()
        self.ops = collections.Counter()         # op name -> count
        self.expected = collections.Counter()    # op name -> ENOENT after a listing
        self.unexpected = collections.Counter()  # "op: cause" -> count
        self.examples = []

    def op(self, name):
        with self.lock:
            self.ops[name] += 1

    def gone(self, name):
        with self.lock:
            self.expected[name] += 1

    def bad(self, name, cause, detail):
        with self.lock:
            self.unexpected["%s: %s" % (name, cause)] += 1
            if len(self.examples) < 10:
                self.examples.append("%s: %s: %s" % (name, cause, detail))


def reader(k, mp, stop, stats):
    rnd = random.Random(k)
    names = []
    while not stop.is_set():
        what = rnd.choice(["root", "view", "read", "read", "read", "grep"])
        try:
            if what == "root" or not names:
                what = "root"
                names = os.listdir(mp)
            elif what == "view":
                view = rnd.choice(VIEWS)
                what = "view " + view.split("=")[0]
                listed = os.listdir(os.path.join(mp, view))
                if listed:
                    u = rnd.choice(listed)
                    what = "view-read"
                    with open(os.path.join(mp, view, u, "state"), "rb") as f:
                        state = f.read()
                    if state.strip() not in (b"queued", b"running", b"paused", b"success",
                                             b"failure"):
                        stats.bad(what, "bad state", repr(state))
            elif what == "read":
                u = rnd.choice(names)
                for field in ("state", "message", "job.json"):
                    with open(os.path.join(mp, u, field), "rb") as f:
                        data = f.read()
                    if field == "job.json":
                        try:
                            record = json.loads(data)
                        except ValueError as e:
                            stats.bad(what, "job.json cut (invalid JSON)", "%s: %s" % (
                                u, str(e)[:100]))
                            continue
                        if record.get("uuid") != u:
                            stats.bad(what, "job.json of another job", u)
                    elif not data.endswith(b"\n"):
                        stats.bad(what, "value cut (no newline)", "%s/%s %r" % (
                            u, field, data[-40:]))
            else:
                # grep over the messages of one view: grep reads as it walks, so a job
                # that expires under it is "No such file or directory" (expected).
                view = os.path.join(mp, rnd.choice(VIEWS[:3]))
                r = subprocess.run(["grep", "-r", "-l", "--include=message", "-e", "e",
                                    view], capture_output=True, timeout=120, env=C_ENV)
                errs = [line for line in r.stderr.decode("utf-8", "replace").splitlines()
                        if line.strip()]
                real = [line for line in errs if "No such file or directory" not in line]
                if r.returncode not in (0, 1) and real:
                    stats.bad("grep", "exit %d" % r.returncode, real[0])
                elif errs:
                    stats.gone("grep")
            stats.op(what)
        except FileNotFoundError:
            # Listed a moment ago, expired or left since: expected under churn.
            stats.op(what)
            stats.gone(what)
        except OSError as e:
            stats.op(what)
            stats.bad(what, errno.errorcode.get(e.errno, str(e.errno)), str(e))
        except ValueError as e:  # job.json that is not JSON
            stats.op(what)
            stats.bad(what, "invalid JSON", str(e)[:200])
        except subprocess.TimeoutExpired:
            stats.bad("grep", "timeout", "grep -r took over 120 s")


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def finish_old(sim, jobs, active_s):
    """Finish (success, or failure for one in five) every job active for longer than
    active_s seconds by the simulator's clock."""
    _, clock, _ = sim.request("GET", "/_sim/clock")
    for j in jobs:
        if j["state"] in ("success", "failure"):
            continue
        started = datetime.datetime.fromisoformat(j["start_time"]).timestamp()
        if clock["now"] - started < active_s:
            continue
        if int(j["uuid"][:8], 16) % 5:
            fields = {"state": "success", "message": "Complete: Successful [0]"}
        else:
            fields = {"state": "failure", "code": 4, "message": "entry doesn't exist"}
        status, _, _ = sim.request("POST", "/_sim/jobs/" + j["uuid"], fields)
        if status not in (200, 404):  # 404: it expired meanwhile
            raise RuntimeError("POST /_sim/jobs/%s: HTTP %s" % (j["uuid"], status))


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=1.0)
    ap.add_argument("--warmup", type=float, default=60.0,
                    help="seconds before the first RSS window (caches and arenas fill)")
    ap.add_argument("--rate", type=float, default=20.0, help="new jobs per second")
    ap.add_argument("--expiry", type=int, default=20, help="seconds a finished job stays")
    ap.add_argument("--jobs", type=int, default=200, help="jobs at start")
    ap.add_argument("--seed", type=int, default=6)
    ap.add_argument("--active", type=float, default=10.0,
                    help="seconds a job may stay active before the driver finishes it")
    args = ap.parse_args()

    jobsfs, sim_path = harness.binaries_or_skip()
    # Under AddressSanitizer freed memory sits in a quarantine (256 MiB by default) and
    # RSS climbs by design: the RSS check means nothing there, the others still hold.
    with open(jobsfs, "rb") as f:
        image = f.read()
    sanitizer = next((r.decode() for r in (b"__asan_init", b"__tsan_init", b"__msan_init")
                      if r in image), None)
    del image
    warmup = args.warmup
    duration = warmup + args.minutes * 60
    window = 60.0 if args.minutes >= 3 else 20.0
    tmp = harness.tempdir("jobsfs-soak-")
    mp = os.path.join(tmp, "mnt")
    os.mkdir(mp)
    sim = harness.Sim(sim_path, ["--jobs", str(args.jobs), "--rate", str(args.rate),
                                 "--expiry", str(args.expiry), "--seed", str(args.seed)])
    m = harness.Mount(jobsfs, sim.url, mp, ["ttl=%d" % TTL, "expiry=%d" % args.expiry,
                                            "timeout=10", "page_size=%d" % PAGE])
    pid = m.proc.pid
    print("soak: %g s warm-up + %.1f min, %d readers, --rate %g --expiry %d, -o ttl=%d,expiry=%d,"
          "page_size=%d; RSS: first %gs after a %gs warm-up vs the last %gs" % (
              warmup, args.minutes, READERS, args.rate, args.expiry, TTL, args.expiry, PAGE,
              window, warmup, window), flush=True)

    stats = Stats()
    stop = threading.Event()
    threads = [threading.Thread(target=reader, args=(k, mp, stop, stats), daemon=True)
               for k in range(READERS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()

    rss = []      # (seconds since start, KiB)
    held = []     # (jobs, active) the simulator held at each sample
    failures = []
    status, _, _ = sim.request("POST", "/_sim/counters/reset")
    assert status == 204, "POST /_sim/counters/reset: HTTP %s" % status
    counted_from = time.monotonic()
    next_advance = t0 + 10
    try:
        while time.monotonic() - t0 < duration:
            time.sleep(2)
            if m.proc.poll() is not None:
                failures.append("jobsfs died (exit %s): %s" % (m.proc.returncode,
                                                               m.stderr()[-1500:]))
                break
            rss.append((time.monotonic() - t0, rss_kib(pid)))
            jobs = sim.jobs()
            held.append((len(jobs), sum(j["state"] not in ("success", "failure")
                                        for j in jobs)))
            finish_old(sim, jobs, args.active)
            if time.monotonic() >= next_advance:
                # The cluster's clock jumps: finished jobs expire in a batch.
                sim.request("POST", "/_sim/clock", {"advance": 5})
                next_advance += 10
    finally:
        stop.set()
        for t in threads:
            t.join(150)
    elapsed = time.monotonic() - counted_from
    _, counters, _ = sim.request("GET", "/_sim/counters")
    stuck = [t for t in threads if t.is_alive()]
    if stuck:
        failures.append("%d readers still blocked 150 s after the end" % len(stuck))

    # -- request rate --------------------------------------------------------------------
    by = counters["by_endpoint"]
    listing_rps = by.get("GET /api/cluster/jobs", 0) / elapsed
    single_rps = by.get("GET /api/cluster/jobs/{uuid}", 0) / elapsed
    total_rps = counters["total"] / elapsed
    max_jobs = max(j for j, _ in held) if held else args.jobs
    max_active = max(a for _, a in held) if held else args.jobs
    pages = math.ceil(max_jobs / PAGE)
    listing_bound = 1.5 * (1 + len(VIEWS)) * pages / TTL
    single_bound = 1.5 * (max_active / TTL + args.rate)
    if listing_rps > listing_bound:
        failures.append("%.1f listing requests/s, bound %.1f ((root + %d views) * %d pages "
                        "/ ttl, x1.5)" % (listing_rps, listing_bound, len(VIEWS), pages))
    if single_rps > single_bound:
        failures.append("%.1f single-job GETs/s, bound %.1f (%d active / ttl + %g new/s, "
                        "x1.5)" % (single_rps, single_bound, max_active, args.rate))

    # -- RSS -------------------------------------------------------------------------------
    first = [k for s, k in rss if warmup <= s < warmup + window]
    last = [k for s, k in rss if s >= duration - window]
    if not first or not last:
        failures.append("too few RSS samples (%d)" % len(rss))
    elif sanitizer:
        print("RSS not checked: jobsfs is built with a sanitizer (%s)" % sanitizer)
    elif mean(last) > 1.10 * mean(first):
        failures.append("RSS grew: %.0f KiB in the first %gs after warm-up, %.0f KiB in the "
                        "last %gs (> +10%%); samples %s" % (
                            mean(first), window, mean(last), window,
                            [k for _, k in rss]))

    # -- errors ----------------------------------------------------------------------------
    if stats.unexpected:
        failures.append("%d unexpected errors: %s\n%s" % (
            sum(stats.unexpected.values()), dict(stats.unexpected),
            "\n".join(stats.examples)))
    if sum(stats.ops.values()) < READERS * 10:
        failures.append("only %d operations in %.0fs" % (sum(stats.ops.values()), elapsed))

    rc = m.unmount()
    if rc != 0:
        failures.append("jobsfs exited %s after fusermount3 -u: %s" % (rc, m.stderr()[-1500:]))
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        if bad in m.stderr():
            failures.append("sanitizer report in jobsfs's stderr:\n" + m.stderr()[-3000:])
            break
    sim.stop()

    print("operations: %d %s" % (sum(stats.ops.values()), dict(stats.ops)))
    print("expected ENOENT (expired after listing): %d %s" % (
        sum(stats.expected.values()), dict(stats.expected)))
    print("unexpected errors: %d %s" % (sum(stats.unexpected.values()),
                                        dict(stats.unexpected)))
    print("sim held up to %d jobs (%d active); clock advanced every 10 s" % (
        max_jobs, max_active))
    print("RSS KiB: first %gs after warm-up %.0f, last %gs %.0f (min %d, max %d)" % (
        window, mean(first), window, mean(last),
        min(k for _, k in rss) if rss else 0, max(k for _, k in rss) if rss else 0))
    print("RSS samples (KiB, every 2 s): %s" % " ".join(str(k) for _, k in rss))
    print("jobs held (every 2 s): %s" % " ".join(str(j) for j, _ in held))
    print("requests/s: %.1f total; listing %.1f (bound %.1f), single-job %.1f (bound %.1f)"
          % (total_rps, listing_rps, listing_bound, single_rps, single_bound))
    print("(%.1fs)" % (time.monotonic() - t0))
    for f in failures:
        print("FAIL " + f, flush=True)
    print("soak: %s" % ("FAILED" if failures else "passed"), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
