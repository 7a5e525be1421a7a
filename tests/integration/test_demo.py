#!/usr/bin/env python3
"""scripts/demo --tour, run against the built binaries in a temporary directory, so the
demo never rots: it must mount, show every tour command with its output, then unmount,
stop the simulator and exit 0.   usage: test_demo.py PATH/TO/scripts/demo"""

import os
import re
import subprocess
import sys
import urllib.request
from datetime import datetime

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TOUR = [
    "$ ls {d} | head",
    "$ ls -l {d}/",
    "$ cat {d}/",
    "$ grep -rl \"entry doesn't exist\" {d} | head",
    "$ ls {d}/state=failure/ | head",
    "$ ls -U '{d}/order_by=start_time desc/max_records=5/'",
    "$ for j in $(ls -U '{d}/order_by=start_time desc/max_records=5/'); do",
    "$ echo pause > {d}/",
    "$ (sleep 1; echo cancel > {d}/",
    "$ cat {d}/.history/",
    "$ ls '{d}/.history/state=failure/description=*vol_demo*/'",
]
# A job of the order_by view and its start_time, as the tour's last command prints them.
STARTED = re.compile(r"^([0-9a-f-]{36}) (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S*)$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def main():
    harness.binaries_or_skip()
    demo = sys.argv[1]
    runner = harness.Runner()
    tmp = harness.tempdir("jobsfs-demo-test-")
    mnt = os.path.join(tmp, "jobs")  # does not exist: the demo creates and removes it
    result = {}

    def run_demo():
        env = dict(os.environ, JOBSFS_DEMO_SEED="4242")
        try:
            r = subprocess.run([demo, "jobs", "--tour"], cwd=tmp, env=env,
                               capture_output=True, timeout=240)
        except subprocess.TimeoutExpired as e:
            subprocess.run(["fusermount3", "-u", "-z", mnt], capture_output=True)
            raise AssertionError("scripts/demo --tour still running after %ds: %s" % (
                e.timeout, (e.stdout or b"").decode("utf-8", "replace")[-1500:]))
        result["out"] = r.stdout.decode("utf-8", "replace")
        result["err"] = r.stderr.decode("utf-8", "replace")
        assert r.returncode == 0, "scripts/demo jobs --tour exited %d\nstdout:\n%s\nstderr:\n%s" % (
            r.returncode, result["out"][-2000:], result["err"][-2000:])

    def tour_shown():
        out = result.get("out")
        assert out is not None, "the demo did not run"
        for cmd in TOUR:
            line = cmd.format(d="jobs")
            assert any(l.startswith(line) for l in out.splitlines()), \
                "tour line %r missing from:\n%s" % (line, out[:2000])
        uuids = [l for l in out.splitlines() if UUID.match(l)]
        assert len(uuids) >= 10, "the tour printed %d job uuids, want at least 10 " \
            "(ls | head, and the five newest):\n%s" % (len(uuids), out[:2000])
        assert "demo: that command failed" not in result["err"], result["err"][:2000]
        # A job paused through ctl; a wait that ends when it is canceled.
        acted = out.split("$ echo pause > jobs/", 1)[1].splitlines()
        assert acted[1] == "paused", acted[:3]
        waited = out.split("$ (sleep 1; echo cancel > jobs/", 1)[1].splitlines()
        assert waited[1:3] == ["failure", "Operation canceled by user request."], waited[:4]
        # The failed job, gone from the cluster (ENOENT), still in the history.
        hist = out.split("$ cat jobs/.history/", 1)[1].splitlines()
        assert hist[1:3] == ["failure", "entry doesn't exist"], hist[:4]
        assert "No such file or directory" in result["err"], result["err"][:2000]
        shown = out.split("$ ls 'jobs/.history/state=failure/", 1)[1].splitlines()
        assert UUID.match(shown[1]) and shown[1] in out.split("$ cat jobs/.history/", 1)[1], \
            shown[:3]
        # The view newest first, in the order the directory lists it (ls -U).
        started = [m.group(2) for m in map(STARTED.match, out.splitlines()) if m]
        assert len(started) == 5, "want the five newest jobs with their start_time:\n%s" % (
            out[-1500:])
        times = [datetime.fromisoformat(t) for t in started]
        assert times == sorted(times, reverse=True), \
            "order_by=start_time desc listed out of order: %s" % started

    def nothing_unmeant():
        """A clean demo prints nothing it did not mean: no unmount of what is already
        unmounted ("fusermount3: failed to unmount ...: Invalid argument")."""
        text = result.get("out", "") + result.get("err", "")
        assert "out" in result, "the demo did not run"
        for bad in ("fusermount", "failed to unmount", "Invalid argument"):
            lines = [l for l in text.splitlines() if bad in l]
            assert not lines, "the demo printed %r" % lines

    def all_stopped():
        out = result.get("out")
        assert out is not None, "the demo did not run"
        assert not harness.mounted(mnt), "%s is still mounted" % mnt
        assert not os.path.exists(mnt), "the demo created %s and left it" % mnt
        m = re.search(r"ontap-sim: (http://[0-9.]+:[0-9]+)", out)
        assert m, "the demo did not print the simulator's URL:\n%s" % out[:500]
        try:
            urllib.request.urlopen(m.group(1) + "/_sim/clock", timeout=5)
        except OSError:
            pass
        else:
            raise AssertionError("the simulator at %s still answers" % m.group(1))
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    if mnt.encode() in f.read():
                        left.append(pid)
            except OSError:
                pass
        assert not left, "processes still running on %s: %s" % (mnt, left)

    def fleet_tour():
        fleet_mnt = os.path.join(tmp, "fleet")
        r = subprocess.run([demo, "fleet", "--fleet", "--tour"], cwd=tmp, capture_output=True,
                           timeout=240, env=dict(os.environ, JOBSFS_DEMO_SEED="4242"))
        out = r.stdout.decode("utf-8", "replace")
        assert r.returncode == 0, "demo --fleet exited %d:\n%s\n%s" % (
            r.returncode, out[-1500:], r.stderr.decode("utf-8", "replace")[-1500:])
        assert out.split("$ ls fleet\n", 1)[1].splitlines()[:3] == ["east", "lab", "west"], out
        counts = re.findall(r"^fleet/(east|lab|west) (\d+) jobs$", out, re.M)
        assert [c for c, _ in counts] == ["east", "lab", "west"], out[-1500:]
        assert all(int(n) >= 100 for _, n in counts), counts
        assert "fleet/east/state=failure/:" in out, out[-1500:]
        assert not harness.mounted(fleet_mnt) and not os.path.exists(fleet_mnt)

    runner.run("demo --tour exits 0", run_demo)
    runner.run("demo shows every tour command", tour_shown)
    runner.run("demo prints nothing it did not mean", nothing_unmeant)
    runner.run("demo unmounts and stops everything", all_stopped)
    runner.run("demo --fleet: three clusters in one mount", fleet_tour)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
