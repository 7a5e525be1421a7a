#!/usr/bin/env python3
"""A fleet at scale: C simulated clusters of J jobs each in one mount, against one
cluster of C x J jobs in one mount, and against a tmpfs copy of the fleet's tree.

For each it times, cold (just mounted) and warm (again at once): `ls MOUNT/*/state=failure/`
(for the single cluster: `ls MOUNT/state=failure/`), `cat MOUNT/*/*/state | sort | uniq -c`
(the paths fed to cat by xargs: a glob of a million names is past ARG_MAX) and
`grep -rl PATTERN MOUNT`. Then, on a fresh mount, jobsfs's RSS after listing every job
and after reading every job's state: per job, and beyond the JSON of the records (as
the clusters send them, compact: the mean of a sample of each cluster's first page);
the kernel's slab memory for the tree (its inodes and dentries) apart; its threads and
sockets.

It is not a test: it prints a table (Markdown). Environment: JOBSFS and ONTAP_SIM.
    JOBSFS=build/fs/jobsfs ONTAP_SIM=build/tests/sim/ontap-sim \\
        tests/bench/fleet_bench.py --clusters 20 --jobs 5000
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

PATTERN = "unavailable"
CAT_STATES = "printf '%s\\n' {glob} | xargs -d '\\n' cat | sort | uniq -c"
EXPIRY = 100 * 86400  # the tree stays put during a run (jobs older than 300 s kept)


def sockets(pid):
    n = 0
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)).startswith("socket:"):
                n += 1
        except OSError:
            pass
    return n


def slab_kib():
    """The kernel's slab memory (KiB): where its inodes and dentries of the tree live."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def record_bytes(sim, sample=1000):
    """Mean bytes of a record as the cluster sends it (compact JSON), over its first page."""
    status, body, _ = sim.request("GET", "/api/cluster/jobs?fields=*&max_records=%d" % sample,
                                  timeout=120)
    recs = body["records"] if status == 200 else []
    if not recs:
        return 0, 0
    total = sum(len(json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode())
                for r in recs)
    return total, len(recs)


def drop_caches():
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    except OSError:
        pass


def run(cmd, cwd):
    t0 = time.monotonic()
    r = subprocess.run(["bash", "-c", cmd], cwd=cwd, capture_output=True, timeout=3600)
    took = time.monotonic() - t0
    if r.returncode not in (0, 1):
        raise RuntimeError("%s: exit %d: %s" % (cmd, r.returncode, r.stderr[-300:]))
    return took, r.stdout


def fmt(s):
    return "%.0f ms" % (s * 1000) if s < 1 else "%.2f s" % s


def tmpfs_row(tmp, jobsfs, conf, fleet_cmds, rows):
    """The same commands over a tmpfs copy of the fleet's tree (cp -a from a mount)."""
    copy = os.path.join(tmp, "tmpfs")
    os.mkdir(copy)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8g", "tmpfs", copy], check=True)
    try:
        mnt = os.path.join(tmp, "m-copy")
        os.mkdir(mnt)
        m = harness.Mount(jobsfs, conf, mnt, ["history=off"], timeout=120)
        try:
            subprocess.run("cp -a %s/. %s/" % (mnt, copy), shell=True, check=True)
        finally:
            m.unmount(timeout=120)
        res = {}
        for name, cmd in fleet_cmds:
            drop_caches()
            t1, _ = run(cmd, copy)
            t2, _ = run(cmd, copy)
            res[name] = (t1, t2, True)
        rows.append(("tmpfs copy of the fleet", res))
    finally:
        subprocess.run(["umount", copy])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clusters", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=5000, help="jobs per cluster")
    ap.add_argument("--no-single", action="store_true", help="skip the one-cluster mount")
    ap.add_argument("--no-tmpfs", action="store_true", help="skip the tmpfs copy")
    ap.add_argument("--no-timing", action="store_true", help="only the memory figures")
    ap.add_argument("--no-grep", action="store_true", help="skip grep -r (long at scale)")
    ap.add_argument("--no-cat", action="store_true", help="skip the timed cat of every state")
    a = ap.parse_args()
    jobsfs, sim_bin = harness.binaries_or_skip()
    tmp = harness.tempdir("jobsfs-fleetbench-")
    total = a.clusters * a.jobs

    sims = [harness.Sim(sim_bin, ["--jobs", str(a.jobs), "--seed", str(i + 1), "--expiry",
                                  "86400", "--max-records-default", "1000"], start_timeout=600)
            for i in range(a.clusters)]
    sampled = [record_bytes(s) for s in sims]
    json_per_job = sum(t for t, _ in sampled) / max(1, sum(n for _, n in sampled))
    conf = os.path.join(tmp, "fleet.conf")
    with open(conf, "w") as f:
        f.write("[defaults]\nexpiry = %d\nttl = 3600\n" % EXPIRY)
        for i, s in enumerate(sims):
            f.write("[c%02d]\nurl = %s\n" % (i, s.url))
    os.chmod(conf, 0o600)
    rows = []

    def measure(label, source, opts, cmds, stages):
        mnt = os.path.join(tmp, "m-" + label.split()[0])
        os.makedirs(mnt, exist_ok=True)
        res = {}
        for name, cmd in ([] if a.no_timing else cmds):
            drop_caches()
            m = harness.Mount(jobsfs, source, mnt, opts, timeout=300)
            try:
                cold, out = run(cmd, mnt)
                warm, out2 = run(cmd, mnt)
                res[name] = (cold, warm, out == out2)
            finally:
                m.unmount(timeout=900)
        drop_caches()
        m = harness.Mount(jobsfs, source, mnt, opts, timeout=300)
        try:
            pid = m.proc.pid
            rss0, slab0 = harness.proc_status(pid, "VmRSS"), slab_kib()
            res["mem"] = []
            for stage, cmd in stages:
                took, _ = run(cmd, mnt)
                res["mem"].append((stage, took, harness.proc_status(pid, "VmRSS"), rss0,
                                   slab_kib() - slab0, harness.proc_status(pid, "Threads"),
                                   sockets(pid)))
        finally:
            m.unmount(timeout=900)
        rows.append((label, res))

    fleet_cmds = [("ls */state=failure/", "ls */state=failure/ | wc -l"),
                  ("cat */*/state | sort | uniq -c", CAT_STATES.format(glob="*/*/state"))]
    single_cmds = [("ls */state=failure/", "ls state=failure/ | wc -l"),
                   ("cat */*/state | sort | uniq -c", CAT_STATES.format(glob="*/state"))]
    if a.no_cat:
        fleet_cmds, single_cmds = fleet_cmds[:1], single_cmds[:1]
    if not a.no_grep:
        fleet_cmds.append(("grep -rl P", "grep -rl %s . | wc -l" % PATTERN))
        single_cmds.append(("grep -rl P", "grep -rl %s . | wc -l" % PATTERN))
    measure("fleet %d x %d" % (a.clusters, a.jobs), conf, ["history=off"], fleet_cmds,
            [("listing every job", "ls */ | wc -l"),
             ("reading every state", CAT_STATES.format(glob="*/*/state"))])

    if not a.no_tmpfs:
        tmpfs_row(tmp, jobsfs, conf, fleet_cmds, rows)
    for s in sims:
        s.stop()

    if not a.no_single:
        one = harness.Sim(sim_bin, ["--jobs", str(total), "--seed", "99", "--expiry", "86400",
                                    "--max-records-default", "1000"], start_timeout=1800)
        measure("one cluster of %d" % total, one.url,
                ["history=off", "expiry=%d" % EXPIRY, "ttl=3600"], single_cmds,
                [("listing every job", "ls | wc -l"),
                 ("reading every state", CAT_STATES.format(glob="*/state"))])
        one.stop()

    print("| mount | command | cold | warm | same output |")
    print("|---|---|--:|--:|---|")
    for label, res in rows:
        for name, _ in fleet_cmds:
            if name in res:
                cold, warm, same = res[name]
                print("| %s | `%s` | %s | %s | %s |" % (label, name, fmt(cold), fmt(warm),
                                                     "yes" if same else "no"))
    print()
    print("JSON of a record as sent (compact), mean of %d sampled: %.0f B" % (
        sum(n for _, n in sampled), json_per_job))
    print()
    print("| mount | after | took | RSS (after mount) | per job | beyond the JSON | "
          "kernel slab per job | threads | sockets |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    for label, res in rows:
        for stage, took, rss, rss0, slab, th, so in res.get("mem", []):
            per = (rss - rss0) * 1024 / total
            print("| %s | %s | %s | %.1f MiB (%.1f MiB) | %.0f B | %.0f B | %.0f B | %d | %d |"
                  % (label, stage, fmt(took), rss / 1024, rss0 / 1024, per,
                     per - json_per_job, slab * 1024 / total, th, so))
    print("\nRun %s UTC: `tests/bench/fleet_bench.py %s`" % (
        time.strftime("%Y-%m-%d %H:%M", time.gmtime()), " ".join(sys.argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
