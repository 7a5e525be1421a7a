#!/usr/bin/env python3
"""Where the benchmark's time goes: the FUSE requests and HTTP requests behind each of
bench.py's operations, cold and warm.

Mounts jobsfs with -d (libfuse prints one "opcode: NAME" line per request it receives,
jobsfs one "attempt: GET ..." line per HTTP request) over ontap-sim, runs each operation
of bench.py on a fresh mount (cold) and again (warm), and prints per operation the
count of each FUSE opcode and of HTTP requests, and the wall time (slowed by the debug
output: for counting, not timing).

    JOBSFS=build/fs/jobsfs ONTAP_SIM=build/tests/sim/ontap-sim \
        tests/bench/fuse_ops.py --jobs 10000 [-o max_threads=1] [-s]

Extra arguments are passed to jobsfs (e.g. -s for the single-threaded loop).
"""

import argparse
import collections
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (its operations, PATTERN, EXPIRY; it imports harness)
harness = bench.harness

OPCODE = re.compile(rb"opcode: ([A-Z_]+)")
HTTP = re.compile(rb"attempt: GET (\S+)")


class DebugMount(harness.Mount):
    """harness.Mount whose log (jobsfs's stdout and stderr) we read by offset. The file
    description is shared with jobsfs: pread, never seek, or its writes would move."""

    def log_size(self):
        return os.fstat(self.errlog.fileno()).st_size

    def log_from(self, offset):
        chunks = []
        while True:
            chunk = os.pread(self.errlog.fileno(), 1 << 20, offset)
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            offset += len(chunk)


REQUEST = re.compile(rb"opcode: ([A-Z_]+) \(\d+\), nodeid: (\d+)")


def count(text):
    """(FUSE opcode counts, HTTP request count, what each HTTP request followed: the
    last FUSE request logged before it, as "OPCODE nodeid N")."""
    ops = collections.Counter(m.decode() for m in OPCODE.findall(text))
    http = 0
    after = collections.Counter()
    last = "-"
    for line in text.split(b"\n"):
        m = REQUEST.search(line)
        if m:
            last = "%s nodeid %s" % (m.group(1).decode(), m.group(2).decode())
        elif HTTP.search(line):
            http += 1
            after[last] += 1
    return ops, http, after


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=10000)
    ap.add_argument("extra", nargs="*", help="more jobsfs arguments (after --)")
    args = ap.parse_args()
    jobsfs, ontap_sim = harness.binaries_or_skip()

    base = harness.tempdir("jobsfs-fuse-ops-")
    sim, t_epoch = bench.start_sim(ontap_sim, args.jobs, base)
    t_find = "@%d" % t_epoch
    mnt = os.path.join(base, "mnt")
    os.mkdir(mnt)

    # harness.Mount has no way to add -d: put it in front of the options through argv.
    real_popen = harness.subprocess.Popen

    def popen_with_debug(argv, *a, **kw):
        if argv and argv[0] == jobsfs:
            argv = [argv[0], "-d", *args.extra, *argv[1:]]
        return real_popen(argv, *a, **kw)

    harness.subprocess.Popen = popen_with_debug
    print("N=%d, jobsfs %s" % (args.jobs, " ".join(["-d"] + args.extra)))
    for name, command, _ in bench.OPERATIONS:
        m = DebugMount(jobsfs, sim.url, mnt, options=["expiry=%d" % bench.EXPIRY])
        for when in ("cold", "warm"):
            start = m.log_size()
            r = bench.run_in_tree(mnt, command, t_find)
            time.sleep(0.2)  # let the last log lines land
            ops, http, after = count(m.log_from(start))
            total = sum(ops.values())
            print("%-20s %s %7.2fs rc %d  http %3d  fuse %7d: %s" % (
                name, when, r.seconds, r.rc, http, total,
                ", ".join("%s %d" % kv for kv in ops.most_common())), flush=True)
            if http:
                print("%-20s      HTTP after: %s" % ("", ", ".join(
                    "%s (x%d)" % kv for kv in after.most_common(4))), flush=True)
        m.unmount()
    return 0


if __name__ == "__main__":
    sys.exit(main())
