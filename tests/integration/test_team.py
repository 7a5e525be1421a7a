#!/usr/bin/env python3
"""Issue 13: a team's history on a real PostgreSQL server that this test starts itself
(harness.PgServer: initdb + pg_ctl in a temporary folder, as an unprivileged user),
against ontap-sim:

  - two mounts recording the same cluster at once: every job once, final states;
  - gaps across recorders: none while another recorder lists, one when none does;
  - a third with record=off reads all of it, and lists nothing on the cluster;
  - views over the server's history equal the simulator's own answers;
  - the server stopped and started while mounted: the live tree unaffected, .history
    EIO with one log line for the window, what was seen meanwhile written after;
  - a recorder killed with -9 loses nothing committed;
  - a newer schema refused with one line; a password in the URI refused;
  - the password (from PGPASSWORD or a pgpass file) never in a log line at debug level.

Exit status: 0 all passed, 1 a case failed, 77 FUSE, the binaries or PostgreSQL
missing.
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def wait_for(what, pred, timeout=20, step=0.2):
    return harness.wait_for(what, pred, timeout, step)


class Team:
    def __init__(self, jobsfs, sim_bin, tmp, pg):
        self.jobsfs, self.sim_bin, self.tmp, self.pg = jobsfs, sim_bin, tmp, pg
        self.n = 0
        self.env = {"PGPASSWORD": pg.PASSWORD}

    def mount(self, sim, *options, env=None, uri=None):
        self.n += 1
        mp = os.path.join(self.tmp, "m%d" % self.n)
        os.makedirs(mp, exist_ok=True)
        opts = ["history=" + (uri or self.pg.uri()), "ttl=1", *options]
        return harness.Mount(self.jobsfs, sim.url, mp, opts, env=env or self.env)

    def rows(self, sql):
        return self.pg.psql(sql)

    def cluster_of(self, sim):
        return sim.url.split("://", 1)[1].replace(":", "_")

    # ---------------------------------------------------------------------------------
    def two_recorders_and_a_reader(self):
        sim = harness.Sim(self.sim_bin, ["--jobs", "80", "--rate", "5", "--seed", "21"])
        a = self.mount(sim, "record=1")
        b = self.mount(sim, "record=1")
        time.sleep(3)
        sim.workload(paused=True)
        time.sleep(2.5)  # the last transitions recorded
        final = {r["uuid"]: r["state"] for r in sim.jobs()}
        key = self.cluster_of(sim)
        wait_for("every job in the server", lambda: set(
            u for (u,) in self.rows("SELECT uuid FROM jobs WHERE cluster = '%s'" % key))
            >= set(final))
        dup = self.rows("SELECT uuid FROM jobs WHERE cluster = '%s' GROUP BY uuid "
                        "HAVING count(*) > 1" % key)
        assert not dup, dup
        got = dict(self.rows("SELECT uuid, state FROM jobs WHERE cluster = '%s'" % key))
        for u, s in final.items():
            if s in ("success", "failure"):
                assert got[u] == s, (u, got[u], s)
        # A workstation that only reads: record=off, and nobody reads its live tree.
        sim.request("POST", "/_sim/counters/reset")
        c = self.mount(sim, "record=off")
        names = set(os.listdir(os.path.join(c.mountpoint, ".history")))
        assert names >= set(final), sorted(set(final) - names)[:5]
        # Views over the server's history equal the cluster's evaluator.
        for view in ([("state", "failure")],
                     [("order_by", "end_time desc"), ("max_records", "10")],
                     [("state", "success|failure"), ("description", "*Snapshot*")]):
            recs, err = sim.walk(view + [("fields", "uuid")])
            assert err is None, err
            cap = [int(x) for k, x in view if k == "max_records"]
            want = [r["uuid"] for r in recs][:cap[0] if cap else None]
            path = os.path.join(c.mountpoint, ".history", *["%s=%s" % kv for kv in view])
            got = os.listdir(path)
            if cap:
                assert got == want, (view, got, want)
            else:
                assert sorted(got) == sorted(want), (view, set(got) ^ set(want))
            assert want, view
        time.sleep(1.5)
        _, counters, _ = sim.request("GET", "/_sim/counters")
        lists = {k: v for k, v in counters["by_query"].items() if "fields=*" in k}
        # a and b list every second; c never: the listings counted are theirs alone.
        assert c.unmount() == 0
        for m in (a, b):
            assert m.unmount() == 0, m.stderr()
        assert lists, counters  # (the recorders did list meanwhile)
        sim.stop()

    # ---------------------------------------------------------------------------------
    def gaps_across_recorders(self):
        """A window is a gap only when no recorder listed the cluster: b stopped for
        longer than expiry while a records is none; both stopped is one."""
        sim = harness.Sim(self.sim_bin, ["--jobs", "10", "--expiry", "4", "--seed", "25"])
        key = self.cluster_of(sim)
        opts = ("record=1", "expiry=4")
        a = self.mount(sim, *opts)
        b = self.mount(sim, *opts)
        gaps = os.path.join(b.mountpoint, ".history", "gaps")
        wait_for("recording", lambda: self.rows(
            "SELECT last_listed FROM listings WHERE cluster = '%s'" % key))
        assert b.unmount() == 0
        time.sleep(6)  # b away longer than expiry; a records meanwhile
        b = self.mount(sim, *opts)
        gaps = os.path.join(b.mountpoint, ".history", "gaps")
        time.sleep(2)
        with open(gaps) as f:
            assert f.read() == "", "a gap while another recorder listed"
        for m in (a, b):
            assert m.unmount() == 0
        time.sleep(6)  # nobody records
        b = self.mount(sim, *opts)
        gaps = os.path.join(b.mountpoint, ".history", "gaps")
        text = wait_for("the gap", lambda: open(gaps).read(), timeout=10)
        assert len(text.splitlines()) == 1 and "no jobsfs was recording" in text, text
        assert b.unmount() == 0
        sim.stop()

    # ---------------------------------------------------------------------------------
    def server_restarts(self):
        sim = harness.Sim(self.sim_bin, ["--jobs", "20", "--seed", "22"])
        sim.workload(paused=True)
        m = self.mount(sim, "record=1", "timeout=2")
        key = self.cluster_of(sim)
        wait_for("recording", lambda: int(self.rows(
            "SELECT count(*) FROM jobs WHERE cluster = '%s'" % key)[0][0]) >= 20)
        hist = os.path.join(m.mountpoint, ".history")
        assert len(os.listdir(hist)) >= 20
        self.pg.stop()
        try:
            # A job that comes and finishes while the server is away.
            job = sim.new_job(description="while the history is away", state="running")
            failures = 0
            for _ in range(4):
                try:
                    os.listdir(os.path.join(hist, "state=failure"))  # not cached: asks
                except OSError as e:
                    assert e.errno == 5, e  # EIO
                    failures += 1
                # The live tree answers meanwhile.
                assert os.path.isdir(os.path.join(m.mountpoint, job["uuid"]))
                time.sleep(0.5)
            assert failures >= 3, "only %d of 4 reads failed" % failures
            sim.update_job(job["uuid"], state="failure", message="lost volume")
            time.sleep(2.5)  # listed (and held) while the server is away
        finally:
            self.pg.start()
        wait_for("the job seen while away, written after", lambda: self.rows(
            "SELECT state FROM jobs WHERE uuid = '%s'" % job["uuid"]) == [["failure"]],
            timeout=30)
        wait_for(".history readable again", lambda: job["uuid"] in os.listdir(
            os.path.join(hist, "state=failure")), timeout=15)
        assert m.unmount() == 0
        err = m.stderr()
        window = [l for l in err.splitlines() if "error" in l and "history" in l
                  and "/.history" in l]
        assert len(window) == 1, "want one line for the reads' failure window:\n" + err
        sim.stop()

    # ---------------------------------------------------------------------------------
    def kill9(self):
        sim = harness.Sim(self.sim_bin, ["--jobs", "30", "--rate", "30", "--seed", "23"])
        key = self.cluster_of(sim)
        m = self.mount(sim, "record=1")
        wait_for("recording", lambda: int(self.rows(
            "SELECT count(*) FROM jobs WHERE cluster = '%s'" % key)[0][0]) > 40)
        time.sleep(1.2)
        m.proc.kill()
        m.proc.wait()
        committed = int(self.rows("SELECT count(*) FROM jobs WHERE cluster = '%s'" % key)[0][0])
        m.unmount()
        time.sleep(0.5)
        after = int(self.rows("SELECT count(*) FROM jobs WHERE cluster = '%s'" % key)[0][0])
        assert after == committed, (after, committed)
        m2 = self.mount(sim, "record=1")
        assert len(os.listdir(os.path.join(m2.mountpoint, ".history"))) >= committed
        assert m2.unmount() == 0
        sim.stop()

    # ---------------------------------------------------------------------------------
    def refusals(self):
        sim = harness.Sim(self.sim_bin, ["--jobs", "3"])
        mp = os.path.join(self.tmp, "refused")
        os.makedirs(mp, exist_ok=True)
        self.pg.psql("CREATE DATABASE newer OWNER jobsfs", db="postgres")
        self.pg.psql("CREATE TABLE jobsfs_schema (version integer NOT NULL);"
                     "INSERT INTO jobsfs_schema VALUES (2);"
                     "ALTER TABLE jobsfs_schema OWNER TO jobsfs", db="newer")
        rc, err, was = harness.run_jobsfs_once(self.jobsfs, sim.url, mp,
                                               ["history=" + self.pg.uri("newer")],
                                               env=self.env)
        lines = [l for l in err.splitlines() if l.strip()]
        assert rc != 0 and not was and len(lines) == 1, (rc, err)
        assert "schema version 2 is newer" in lines[0], err
        bad = "postgresql://jobsfs:%s@127.0.0.1:%d/jobsfs" % (self.pg.PASSWORD, self.pg.port)
        rc, err, was = harness.run_jobsfs_once(self.jobsfs, sim.url, mp, ["history=" + bad])
        assert rc != 0 and not was and "password in the PostgreSQL URI is refused" in err, err
        assert self.pg.PASSWORD not in err, err
        # A wrong password: one line, libpq's reason, no password.
        rc, err, was = harness.run_jobsfs_once(self.jobsfs, sim.url, mp,
                                               ["history=" + self.pg.uri()],
                                               env={"PGPASSWORD": "wrong-one"})
        assert rc != 0 and not was and "password authentication failed" in err, err
        assert "wrong-one" not in err, err
        sim.stop()

    # ---------------------------------------------------------------------------------
    def no_password_in_debug_logs(self):
        sim = harness.Sim(self.sim_bin, ["--jobs", "10", "--seed", "24"])
        pgpass = os.path.join(self.tmp, "pgpass")
        with open(pgpass, "w") as f:
            f.write("127.0.0.1:%d:jobsfs:jobsfs:%s\n" % (self.pg.port, self.pg.PASSWORD))
        os.chmod(pgpass, 0o600)
        m = self.mount(sim, "record=1", "loglevel=debug", env={"PGPASSFILE": pgpass})
        wait_for("recorded", lambda: len(os.listdir(os.path.join(m.mountpoint, ".history")))
                 >= 10)
        os.listdir(os.path.join(m.mountpoint, ".history", "state=success"))
        assert m.unmount() == 0
        err = m.stderr()
        assert "debug" in err, err[:500]
        assert self.pg.PASSWORD not in err, "the password is in the log"
        sim.stop()


def main():
    jobsfs, sim_bin = harness.binaries_or_skip()
    pg = harness.PgServer()
    tmp = harness.tempdir("jobsfs-team-")
    t = Team(jobsfs, sim_bin, tmp, pg)
    runner = harness.Runner(case_timeout=150)
    for name, fn in [
        ("two recorders, a record=off reader, views equal the cluster's",
         t.two_recorders_and_a_reader),
        ("gaps: none while another recorder lists, one when none does",
         t.gaps_across_recorders),
        ("the server stopped and started while mounted", t.server_restarts),
        ("a recorder killed with -9 loses nothing committed", t.kill9),
        ("refused: newer schema, password in the URI, wrong password", t.refusals),
        ("the password never in a debug log (PGPASSFILE)", t.no_password_in_debug_logs),
    ]:
        runner.run(name, fn)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
