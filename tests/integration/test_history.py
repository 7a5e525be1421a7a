#!/usr/bin/env python3
"""Issue 12's history, against real mounts of ontap-sim with its clock driven (never a
300 s wait):

  - jobs expired from the simulator stay readable under MOUNT/.history with the bytes
    the live tree showed, after a remount too; .history is never listed in MOUNT;
  - views over the history equal the simulator's own answer (the one evaluator) for
    the same jobs, order_by/max_records included;
  - the recorder lists the cluster every `record` seconds with nobody reading;
  - gaps: the cluster failing for longer than expiry, and the mount stopped for longer
    than expiry, each leave one line naming the cause;
  - two mounts recording into one file: every job once, no error;
  - refusals: a corrupt file, a newer schema, a read-only folder (one line each);
  - a full disk: one log line, the live tree unaffected, recording resumes after;
  - retention: finished jobs older than history_keep pruned at mount;
  - kill -9 loses nothing committed.

Exit status: 0 all passed, 1 a case failed, 77 FUSE or the binaries are missing.
"""

import json
import os
import sqlite3
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

TTL = 1


wait_for = harness.wait_for


def rows(db, sql="SELECT count(*) FROM jobs"):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=10)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def count(db):
    try:
        return rows(db)[0][0]
    except sqlite3.Error:
        return -1


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Case:
    def __init__(self, jobsfs, sim_bin, tmp):
        self.jobsfs, self.sim_bin, self.tmp = jobsfs, sim_bin, tmp
        self.n = 0

    def sim(self, *args):
        return harness.Sim(self.sim_bin, list(args))

    def mount(self, sim, db, *options, name=None):
        self.n += 1
        mp = os.path.join(self.tmp, name or "mnt%d" % self.n)
        os.makedirs(mp, exist_ok=True)
        opts = ["history=" + db, "ttl=%d" % TTL, *options]
        return harness.Mount(self.jobsfs, sim.url, mp, opts)

    def db(self, name):
        return os.path.join(self.tmp, name)

    # ---------------------------------------------------------------------------------
    def expired_stay_readable(self):
        sim = self.sim("--jobs", "40", "--seed", "7")
        sim.workload(paused=True)
        failed = sim.new_job(description="Snapshot delete vol9", state="failure", code=4,
                             message="entry doesn't exist")
        db = self.db("expired.sqlite")
        m = self.mount(sim, db, "record=2")
        mp = m.mountpoint
        live = sorted(os.listdir(mp))
        assert ".history" not in live, live
        assert failed["uuid"] in live
        shown = {u: read(os.path.join(mp, u, "job.json")) for u in live}
        msg = read(os.path.join(mp, failed["uuid"], "message"))
        finished = {u for u in live
                    if read(os.path.join(mp, u, "state")) in (b"success\n", b"failure\n")}
        assert failed["uuid"] in finished and len(finished) > 10, len(finished)
        wait_for("the listing recorded", lambda: count(db) == len(live))

        sim.request("POST", "/_sim/clock", {"advance": 400})  # every finished job expires
        still = wait_for("the finished jobs gone from the live tree",
                         lambda: (lambda names: names if not (set(names) & finished)
                                  else None)(os.listdir(mp)), timeout=10)
        assert len(still) == len(live) - len(finished), (len(still), len(live), len(finished))
        hist = set(os.listdir(os.path.join(mp, ".history")))
        assert hist == set(live), sorted(set(live) ^ hist)
        for u in finished:
            got = read(os.path.join(mp, ".history", u, "job.json"))
            assert got == shown[u], "%s: job.json differs in the history" % u
        assert read(os.path.join(mp, ".history", failed["uuid"], "message")) == msg
        st = os.stat(os.path.join(mp, ".history", failed["uuid"]))
        assert st.st_mtime > 1e9  # from end_time, not 0
        # grep -r over the history finds the failed job's message.
        r = subprocess.run(["grep", "-rl", "entry doesn't exist", os.path.join(mp, ".history")],
                           capture_output=True, text=True, timeout=60)
        assert failed["uuid"] in r.stdout, r.stdout[:500]
        # Read-only like the rest.
        try:
            open(os.path.join(mp, ".history", failed["uuid"], "state"), "w")
            raise AssertionError("a history file opened for writing")
        except OSError as e:
            assert e.errno == 30, e  # EROFS
        assert m.unmount() == 0, m.stderr()

        m2 = self.mount(sim, db, "record=2")
        for u in finished:
            assert read(os.path.join(m2.mountpoint, ".history", u, "job.json")) == shown[u]
        assert m2.unmount() == 0, m2.stderr()
        # history=off: no .history at all.
        off = os.path.join(self.tmp, "off")
        os.makedirs(off, exist_ok=True)
        m3 = harness.Mount(self.jobsfs, sim.url, off, ["history=off"])
        assert not os.path.exists(os.path.join(off, ".history"))
        assert m3.unmount() == 0
        sim.stop()

    # ---------------------------------------------------------------------------------
    def views_equal_the_evaluator(self):
        sim = self.sim("--jobs", "120", "--seed", "11")
        sim.workload(paused=True)
        db = self.db("views.sqlite")
        m = self.mount(sim, db, "record=2")
        mp = m.mountpoint
        n = len(os.listdir(mp))
        wait_for("the listing recorded", lambda: count(db) == n)
        views = [
            [("state", "failure")],
            [("state", "success|failure"), ("description", "*Snapshot*")],
            [("order_by", "end_time desc"), ("max_records", "20")],
            [("state", "success"), ("order_by", "end_time"), ("max_records", "5")],
            [("order_by", "description,uuid"), ("max_records", "15")],
            [("message", "*exist*")],
            [("end_time", "null")],
        ]
        answers = []
        for v in views:
            recs, err = sim.walk(v + [("fields", "uuid")])
            assert err is None, err
            cap = [int(x) for k, x in v if k == "max_records"]
            # A view's max_records is its first page; the walk followed next links.
            answers.append([r["uuid"] for r in recs][:cap[0] if cap else None])
        sim.request("POST", "/_sim/clock", {"advance": 400})
        wait_for("expiry", lambda: len(os.listdir(mp)) < n, timeout=10)
        for v, want in zip(views, answers):
            path = os.path.join(mp, ".history", *["%s=%s" % kv for kv in v])
            got = os.listdir(path)
            ordered = any(k == "order_by" for k, _ in v)
            if ordered:
                assert got == want, "%s:\n history %s\n cluster %s" % (v, got, want)
            else:
                assert sorted(got) == sorted(want), "%s: %s" % (v, sorted(set(got) ^ set(want)))
            assert want, "%s selects nothing: the comparison proves little" % v
        # A view naming fields shows those files only.
        sel = os.path.join(mp, ".history", "state=failure", "fields=state")
        one = os.listdir(sel)[0]
        assert sorted(os.listdir(os.path.join(sel, one))) == ["job.json", "state", "uuid"], \
            os.listdir(os.path.join(sel, one))
        # A bad query is EINVAL with one log line.
        try:
            os.listdir(os.path.join(mp, ".history", "no_such_field=1"))
            raise AssertionError("a bad query was answered")
        except OSError as e:
            assert e.errno == 22, e
        assert m.unmount() == 0
        assert "no_such_field" in m.stderr(), m.stderr()
        sim.stop()

    # ---------------------------------------------------------------------------------
    def records_with_nobody_reading(self):
        sim = self.sim("--jobs", "25", "--seed", "3")
        db = self.db("idle.sqlite")
        sim.request("POST", "/_sim/counters/reset")
        m = self.mount(sim, db, "record=1")
        t0 = time.monotonic()
        wait_for("jobs recorded without a reader", lambda: count(db) >= 25, timeout=10)
        time.sleep(4.2 - (time.monotonic() - t0))
        _, c, _ = sim.request("GET", "/_sim/counters")
        lists = sum(v for k, v in c["by_query"].items()
                    if k.startswith("/api/cluster/jobs?") and "fields=*" in k
                    and "uuid" not in k)
        # One listing a second, the first at mount: 4-6 in 4.2 s (a page each).
        assert 4 <= lists <= 6, c["by_query"]
        assert m.unmount() == 0
        sim.stop()

    # ---------------------------------------------------------------------------------
    def gaps(self):
        sim = self.sim("--jobs", "10", "--expiry", "4")
        db = self.db("gaps.sqlite")
        m = self.mount(sim, db, "record=1", "expiry=4", "timeout=1")
        gaps = os.path.join(m.mountpoint, ".history", "gaps")
        wait_for("a listing recorded", lambda: count(db) > 0)
        assert read(gaps) == b"", read(gaps)
        sim.request("POST", "/_sim/faults", b"status=503")
        time.sleep(6)
        sim.request("DELETE", "/_sim/faults")
        text = wait_for("a gap", lambda: read(gaps), timeout=10).decode()
        lines = text.splitlines()
        assert len(lines) == 1, text
        frm, to, cause = lines[0].split(" ", 2)
        assert frm.endswith("+00:00") and to > frm, lines
        assert "503" in cause and "cluster not listed" in cause, cause
        assert os.stat(gaps).st_size == len(text.encode())
        assert m.unmount() == 0
        # The mount stopped for longer than expiry: a gap at the next mount.
        time.sleep(5)
        m = self.mount(sim, db, "record=1", "expiry=4")
        gaps = os.path.join(m.mountpoint, ".history", "gaps")
        text = wait_for("the unmounted window", lambda: len(read(gaps).splitlines()) == 2
                        and read(gaps), timeout=10).decode()
        assert "no jobsfs was recording" in text.splitlines()[1], text
        assert m.unmount() == 0
        sim.stop()

    # ---------------------------------------------------------------------------------
    def two_mounts_one_file(self):
        sim = self.sim("--jobs", "60", "--rate", "5", "--seed", "5")
        db = self.db("shared.sqlite")
        a = self.mount(sim, db, "record=1")
        b = self.mount(sim, db, "record=1")
        for _ in range(20):  # both read while both record
            os.listdir(a.mountpoint)
            os.listdir(b.mountpoint)
            time.sleep(0.1)
        time.sleep(1.5)
        sim.workload(paused=True)
        time.sleep(2.5)  # the last transitions recorded by both
        ids = [r["uuid"] for r in sim.jobs()]
        wait_for("every job in the file", lambda: set(r[0] for r in rows(
            db, "SELECT uuid FROM jobs")) >= set(ids), timeout=10)
        dup = rows(db, "SELECT uuid, count(*) FROM jobs GROUP BY cluster, uuid "
                       "HAVING count(*) > 1")
        assert not dup, dup
        # Every finished job's row is its final state.
        final = {r["uuid"]: r["state"] for r in sim.jobs()}
        recorded = dict(rows(db, "SELECT uuid, state FROM jobs"))
        for u, s in final.items():
            if s in ("success", "failure"):
                assert recorded[u] == s, (u, recorded[u], s)
        assert len(os.listdir(os.path.join(b.mountpoint, ".history"))) >= len(ids)
        for m in (a, b):
            assert m.unmount() == 0
            assert "locked" not in m.stderr() and "error" not in m.stderr().lower(), m.stderr()
        sim.stop()

    # ---------------------------------------------------------------------------------
    def refusals(self):
        sim = self.sim("--jobs", "3")
        mp = os.path.join(self.tmp, "refused")
        os.makedirs(mp, exist_ok=True)
        bad = self.db("corrupt.sqlite")
        with open(bad, "wb") as f:
            f.write(b"SQLite format 3\0" + os.urandom(3000))
        rc, err, was = harness.run_jobsfs_once(self.jobsfs, sim.url, mp, ["history=" + bad])
        assert rc != 0 and not was, (rc, err)
        lines = [l for l in err.splitlines() if l.strip()]
        assert len(lines) == 1 and bad in lines[0], err

        newer = self.db("newer.sqlite")
        con = sqlite3.connect(newer)
        con.execute("CREATE TABLE jobs (x)")
        con.execute("PRAGMA user_version = 7")
        con.commit()
        con.close()
        rc, err, was = harness.run_jobsfs_once(self.jobsfs, sim.url, mp, ["history=" + newer])
        assert rc != 0 and not was and "schema version 7" in err and newer in err, err

        ro = os.path.join(self.tmp, "ro")
        os.makedirs(ro, exist_ok=True)
        if os.geteuid() == 0:
            subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "ro", ro], check=True)
            harness.on_exit(lambda: subprocess.run(["umount", "-l", ro]))
        else:
            os.chmod(ro, 0o500)
        path = os.path.join(ro, "h.sqlite")
        rc, err, was = harness.run_jobsfs_once(self.jobsfs, sim.url, mp, ["history=" + path])
        assert rc != 0 and not was and path in err, err
        assert "Read-only file system" in err or "Permission denied" in err, err

        rc, err, was = harness.run_jobsfs_once(self.jobsfs, sim.url, mp,
                                               ["history=" + self.db("x.sqlite"),
                                                "record=300", "expiry=300"])
        assert rc != 0 and "record=300 must be below" in err, err
        sim.stop()

    # ---------------------------------------------------------------------------------
    def full_disk(self):
        if os.geteuid() != 0:
            harness.skip("the full-disk case mounts a small tmpfs: needs root")
        small = os.path.join(self.tmp, "small")
        os.makedirs(small, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "small", small], check=True)
        harness.on_exit(lambda: subprocess.run(["umount", "-l", small]))
        db = os.path.join(small, "h.sqlite")
        sim = self.sim("--jobs", "5", "--rate", "20", "--seed", "9")
        m = self.mount(sim, db, "record=1")
        wait_for("recording", lambda: count(db) > 0)
        filler = os.path.join(small, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        for chunk in (65536, 512):  # fill the disk to the last block
            try:
                while True:
                    os.write(fd, b"\0" * chunk)
            except OSError:
                pass
        os.close(fd)
        before = count(db)
        t0 = time.monotonic()
        # The live tree keeps answering, fast, while writes fail.
        while time.monotonic() - t0 < 4:
            names = os.listdir(m.mountpoint)
            assert names and time.monotonic() - t0 < 6
            read(os.path.join(m.mountpoint, names[0], "state"))
            time.sleep(0.2)
        errs = [l for l in m.stderr().splitlines() if "full" in l]
        assert len(errs) == 1, m.stderr()  # one line for the whole window
        assert "live tree is unaffected" in errs[0], errs
        os.unlink(filler)
        wait_for("recording again", lambda: count(db) > before + 20, timeout=10)
        assert m.unmount() == 0
        sim.stop()

    # ---------------------------------------------------------------------------------
    def retention_at_mount(self):
        sim = self.sim("--jobs", "10", "--seed", "17")
        sim.workload(paused=True)
        db = self.db("keep.sqlite")
        m = self.mount(sim, db, "record=1")
        wait_for("recorded", lambda: count(db) >= 10)
        assert m.unmount() == 0
        # Two finished jobs ended long ago (as if recorded weeks back), one active.
        con = sqlite3.connect(db)
        old = [u for (u,) in con.execute(
            "SELECT uuid FROM jobs WHERE state IN ('success', 'failure') LIMIT 2")]
        con.execute("UPDATE jobs SET end_time = '2020-01-01T00:00:00+00:00' WHERE uuid IN "
                    "(?, ?)", old)
        con.commit()
        con.close()
        assert len(old) == 2
        # The same cluster (the history's rows are per cluster). A finished row is
        # never rewritten by recording, so only the prune can remove the old times.
        m = self.mount(sim, db, "record=1", "history_keep=30")
        wait_for("pruned at mount", lambda: not rows(
            db, "SELECT uuid FROM jobs WHERE end_time < '2021'"))
        assert m.unmount() == 0
        assert count(db) >= 8, count(db)
        sim.stop()

    # ---------------------------------------------------------------------------------
    def kill9(self):
        sim = self.sim("--jobs", "30", "--rate", "30", "--seed", "13")
        db = self.db("kill9.sqlite")
        m = self.mount(sim, db, "record=1")
        wait_for("recording", lambda: count(db) > 30)
        time.sleep(1.3)
        m.proc.kill()  # mid-flight: a transaction may be open
        m.proc.wait()
        committed = count(db)
        m.unmount()
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("SELECT count(*) FROM jobs").fetchone()[0] >= committed
        con.close()
        m2 = self.mount(sim, db, "record=1")
        assert len(os.listdir(os.path.join(m2.mountpoint, ".history"))) >= committed
        assert m2.unmount() == 0
        sim.stop()


def main():
    jobsfs, sim_bin = harness.binaries_or_skip()
    tmp = harness.tempdir("jobsfs-history-")
    c = Case(jobsfs, sim_bin, tmp)
    runner = harness.Runner(case_timeout=120)
    for name, fn in [
        ("expired jobs stay readable, same bytes, after a remount", c.expired_stay_readable),
        ("views over the history equal the cluster's evaluator", c.views_equal_the_evaluator),
        ("the recorder lists every record s with nobody reading", c.records_with_nobody_reading),
        ("gaps: cluster failing, mount stopped, each > expiry", c.gaps),
        ("two mounts recording into one file: every job once", c.two_mounts_one_file),
        ("refused: corrupt, newer schema, read-only folder, record>=expiry", c.refusals),
        ("full disk: one line, live tree unaffected, resumes", c.full_disk),
        ("retention: old finished jobs pruned at mount", c.retention_at_mount),
        ("kill -9 loses nothing committed", c.kill9),
    ]:
        runner.run(name, fn)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
