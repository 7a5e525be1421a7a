#!/usr/bin/env python3
"""What waiting costs: W readers of MOUNT/<uuid>/wait over J running jobs of ontap-sim,
against the same W waits done as scripts do them without jobsfs (a curl + jq loop per
job waited, polling GET /api/cluster/jobs/<uuid> every ttl).

For each W it prints: the cluster requests per ttl while they wait (read from the
simulator's counters over --seconds), how long `ls MOUNT` and `cat MOUNT/<uuid>/state`
take meanwhile, jobsfs's RSS per waiter, and, once every job is made to end at once, the
time until the last reader returned (median and max over the readers). Then the curl
loops' requests per ttl and latency for the largest W the machine's process limit
allows (--curl-waiters).

It is not a test: it prints a table (Markdown). Environment: JOBSFS and ONTAP_SIM.
    JOBSFS=build/fs/jobsfs ONTAP_SIM=build/tests/sim/ontap-sim tests/bench/wait_bench.py
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

TTL = 2.0
threading.stack_size(256 * 1024)  # thousands of reader threads
# Each reader, once answered, needs the GIL to note when: at the default 5 ms switch
# interval, 4,000 of them would take 20 s to note the times, whatever jobsfs did.
sys.setswitchinterval(1e-4)


def timed(fn):
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def requests(sim):
    by = sim.request("GET", "/_sim/counters")[1]["by_endpoint"]
    return by.get("GET /api/cluster/jobs", 0) + by.get("GET /api/cluster/jobs/{uuid}", 0)


def count_then_end(sim, uuids, seconds):
    """The cluster's requests per ttl over seconds while they wait; then every job
    ends at once. Returns (requests per ttl, when they ended)."""
    sim.request("POST", "/_sim/counters/reset")
    time.sleep(seconds)
    per_ttl = requests(sim) * TTL / seconds
    for u in uuids:
        sim.update_job(u, state="success")
    return per_ttl, time.monotonic()


def fmt_s(s):
    return "%.0f ms" % (s * 1000) if s < 1 else "%.2f s" % s


def jobsfs_row(jobsfs, sim_bin, tmp, waiters, jobs, seconds):
    sim = harness.Sim(sim_bin, ["--jobs", "50"])
    sim.workload(paused=True)
    mnt = os.path.join(tmp, "m%d" % waiters)
    os.mkdir(mnt)
    m = harness.Mount(jobsfs, sim.url, mnt, ["ttl=%g" % TTL])
    try:
        uuids = [sim.new_job(description="Vol Move", state="running")["uuid"]
                 for _ in range(jobs)]
        rss0 = harness.proc_status(m.proc.pid, "VmRSS")
        done = [None] * waiters

        def reader(i):
            with open(os.path.join(mnt, uuids[i % jobs], "wait"), "rb") as f:
                f.read()
            done[i] = time.monotonic()
        threads = [threading.Thread(target=reader, args=(i,), daemon=True)
                   for i in range(waiters)]
        for t in threads:
            t.start()
        time.sleep(2)
        rss1 = harness.proc_status(m.proc.pid, "VmRSS")
        ls = timed(lambda: os.listdir(mnt))
        cat = timed(lambda: open(os.path.join(mnt, uuids[0], "state"), "rb").read())
        per_ttl, ended = count_then_end(sim, uuids, seconds)
        for t in threads:
            t.join(60)
        lat = [d - ended for d in done if d]
        return {"waiters": waiters, "jobs": jobs, "per_ttl": per_ttl, "ls": ls, "cat": cat,
                "rss_per": (rss1 - rss0) * 1024 / waiters, "p50": statistics.median(lat),
                "max": max(lat), "returned": len(lat)}
    finally:
        m.unmount()
        sim.stop()


def curl_row(sim_bin, waiters, jobs, seconds):
    sim = harness.Sim(sim_bin, ["--jobs", "50"])
    sim.workload(paused=True)
    try:
        uuids = [sim.new_job(description="Vol Move", state="running")["uuid"]
                 for _ in range(jobs)]
        script = ('while [ "$(curl -s "$0/api/cluster/jobs/$1?fields=state" | jq -r .state)" '
                  '= running ]; do sleep %g; done' % TTL)
        procs = [subprocess.Popen(["bash", "-c", script, sim.url, uuids[i % jobs]])
                 for i in range(waiters)]
        time.sleep(2)
        per_ttl, ended = count_then_end(sim, uuids, seconds)
        lat = []
        for p in procs:
            p.wait(120)
            lat.append(time.monotonic() - ended)
        return {"waiters": waiters, "jobs": jobs, "per_ttl": per_ttl, "p50": statistics.median(lat),
                "max": max(lat)}
    finally:
        sim.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--waiters", default="1,100,1000,4000")
    ap.add_argument("--jobs", type=int, default=50, help="jobs waited on (at most)")
    ap.add_argument("--seconds", type=float, default=10, help="counting window")
    ap.add_argument("--curl-waiters", type=int, default=100)
    a = ap.parse_args()
    jobsfs, sim_bin = harness.binaries_or_skip()
    tmp = harness.tempdir("jobsfs-waitbench-")
    print("| waiting | W waiters | J jobs | requests per ttl (%g s) | `ls MOUNT` meanwhile "
          "| `cat state` meanwhile | RSS per waiter | end to return, median | max |" % TTL)
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for w in [int(x) for x in a.waiters.split(",")]:
        j = min(w, a.jobs)
        r = jobsfs_row(jobsfs, sim_bin, tmp, w, j, a.seconds)
        print("| jobsfs `cat wait` | %d | %d | %.1f | %s | %s | %.0f B | %s | %s |" % (
            w, j, r["per_ttl"], fmt_s(r["ls"]), fmt_s(r["cat"]), r["rss_per"],
            fmt_s(r["p50"]), fmt_s(r["max"])), flush=True)
        assert r["returned"] == w, "%d of %d readers returned" % (r["returned"], w)
    w = a.curl_waiters
    j = min(w, a.jobs)
    r = curl_row(sim_bin, w, j, a.seconds)
    print("| curl + jq loop | %d | %d | %.1f | | | | %s | %s |" % (
        w, j, r["per_ttl"], fmt_s(r["p50"]), fmt_s(r["max"])), flush=True)
    print("\nRun %s UTC: `tests/bench/wait_bench.py %s`" % (
        time.strftime("%Y-%m-%d %H:%M", time.gmtime()), " ".join(sys.argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
