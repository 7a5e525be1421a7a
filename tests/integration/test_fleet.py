#!/usr/bin/env python3
"""Issue 15: a fleet of clusters in one mount, from one config file.

Four simulators behind one mount: one with HTTP Basic credentials (from a password
file), one over TLS with a self-signed CA, one down when jobsfs starts (started
later, no remount), one that stalls. Checked:
  - jobsfs mounts, with one line for the cluster that failed its start check;
  - MOUNT lists the clusters; stat of MOUNT and of each cluster never waits on them;
  - each cluster's tree: its jobs, a view equal to its own answer, .history keyed by
    cluster in one file, wait, ctl only where control is set;
  - the cluster that was down works once it answers; the stalled one fails with its
    errno while the others list at once, threads free; sixty readers of it hold 8
    workers, the rest answered EAGAIN once it has been silent for 3 s;
  - a glob over the fleet (ls -d */VIEW/) asks the clusters at once, each once; a
    view of one cluster asks no other;
  - refusals at mount: a bad key, a bad value, a group-writable file, each one line
    with file:line.

Exit status: 0 all passed, 1 a case failed, 77 FUSE or the binaries are missing.
"""

import errno
import os
import socket
import ssl
import sqlite3
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

PASSWORD = "fleet-secret-1"
TTL = 1


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0


def listing_errno(path):
    try:
        os.listdir(path)
        return 0
    except OSError as e:
        return e.errno


class Fleet:
    def __init__(self, jobsfs, sim_bin, tmp):
        self.jobsfs, self.sim_bin, self.tmp = jobsfs, sim_bin, tmp
        self.passfile = os.path.join(tmp, "alpha.pass")
        with open(self.passfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.passfile, 0o600)
        self.alpha = harness.Sim(sim_bin, ["--jobs", "30", "--seed", "11", "--user", "admin",
                                           "--password-file", self.passfile])
        self.cert = os.path.join(tmp, "beta.pem")
        key = os.path.join(tmp, "beta.key")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", self.cert, "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr[-300:]
        # The test's own requests to beta trust its CA (jobsfs gets it as cacert).
        ssl._create_default_https_context = lambda: ssl.create_default_context(cafile=self.cert)
        self.beta = harness.Sim(sim_bin, ["--jobs", "20", "--seed", "12", "--tls-cert",
                                          self.cert, "--tls-key", key])
        self.gamma_port = free_port()
        self.gamma = None  # down at start
        self.delta = harness.Sim(sim_bin, ["--jobs", "10", "--seed", "14"])
        for s in (self.alpha, self.beta, self.delta):
            s.workload(paused=True)
        self.db = os.path.join(tmp, "fleet.sqlite")
        self.config = os.path.join(tmp, "fleet.conf")
        self.write_config(self.config, """\
; four clusters, one mount
[defaults]
ttl = %(ttl)d
history = %(db)s

[alpha]
url = %(alpha)s
username = admin
password_file = %(pass)s
control = true

[beta]
url = %(beta)s
cacert = %(cert)s

[gamma]
url = http://127.0.0.1:%(port)d

[delta]
url = %(delta)s
timeout = 2
""" % {"ttl": TTL, "db": self.db, "alpha": self.alpha.url, "pass": self.passfile,
       "beta": self.beta.url, "cert": self.cert, "port": self.gamma_port,
       "delta": self.delta.url})
        self.mnt = os.path.join(tmp, "mnt")
        os.mkdir(self.mnt)
        self.m = harness.Mount(jobsfs, self.config, self.mnt, [])

    @staticmethod
    def write_config(path, text, mode=0o600):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    def uuids(self, sim, params=()):
        """The cluster's own answer (alpha wants its credentials)."""
        query = "".join("&%s=%s" % p for p in params)
        status, body, _ = sim.request("GET", "/api/cluster/jobs?fields=uuid&max_records=10000"
                                      + query, auth=("admin", PASSWORD))
        assert status == 200, status
        return {r["uuid"] for r in body["records"]}

    # ---------------------------------------------------------------------------------

    def starts_and_lists(self):
        err = self.m.stderr()
        lines = [l for l in err.splitlines() if "[gamma]" in l]
        assert len(lines) == 1 and "cannot connect" in lines[0], err[-800:]
        assert sorted(os.listdir(self.mnt)) == ["alpha", "beta", "delta", "gamma"]
        # stat never waits on a cluster, even one down or stalled.
        self.delta.request("POST", "/_sim/faults", b"stall=20")
        try:
            for name in ("", "alpha", "beta", "gamma", "delta"):
                st, took = timed(lambda: os.stat(os.path.join(self.mnt, name)))
                assert took < 0.5, "stat %s took %.2fs" % (name, took)
                assert st.st_mode & 0o170000 == 0o040000
        finally:
            self.delta.request("DELETE", "/_sim/faults")
        assert set(os.listdir(os.path.join(self.mnt, "alpha"))) == self.uuids(self.alpha)
        assert set(os.listdir(os.path.join(self.mnt, "beta"))) == self.uuids(self.beta)
        assert set(os.listdir(os.path.join(self.mnt, "delta"))) == self.uuids(self.delta)
        got = set(os.listdir(os.path.join(self.mnt, "beta", "state=failure")))
        assert got == self.uuids(self.beta, [("state", "failure")]), got

    def down_then_up(self):
        gamma = os.path.join(self.mnt, "gamma")
        assert listing_errno(gamma) == errno.ECONNREFUSED
        self.gamma = self.start_gamma()
        deadline = time.monotonic() + TTL + 5
        while listing_errno(gamma) != 0:
            assert time.monotonic() < deadline, "gamma still fails after it came up"
            time.sleep(0.2)
        assert set(os.listdir(gamma)) == self.uuids(self.gamma)

    def start_gamma(self):
        # harness.Sim passes --port 0; a later --port wins with getopt.
        return harness.Sim(self.sim_bin, ["--port", str(self.gamma_port), "--jobs", "7",
                                          "--seed", "13"])

    def stalled_holds_no_other(self):
        self.delta.request("POST", "/_sim/faults", b"stall=60")
        result = {}

        def stalled(i):  # distinct views: each its own request
            result[i] = timed(lambda: listing_errno(
                os.path.join(self.mnt, "delta", "description=stalled%d*" % i)))
        threads = [threading.Thread(target=stalled, args=(i,), daemon=True) for i in range(3)]
        try:
            for t in threads:
                t.start()
            time.sleep(0.5)
            # Requests wait on delta: the other clusters still answer at once.
            for name in ("alpha", "beta", "alpha/state=failure", "beta/state=success"):
                names, took = timed(lambda: os.listdir(os.path.join(self.mnt, name)))
                assert took < 1.5, "%s took %.2fs while delta stalls" % (name, took)
            self.delta.request("DELETE", "/_sim/faults")
            for t in threads:
                t.join(90)
            assert len(result) == 3, "a listing of delta never returned"
            for err, took in result.values():  # waited on delta, then its answer
                assert err in (errno.ETIMEDOUT, errno.EIO, 0), errno.errorcode.get(err, err)
                assert took >= 1.0, result
        finally:
            self.delta.request("DELETE", "/_sim/faults")

    def stalled_takes_its_share_only(self):
        """More readers of a stalled cluster than the mount has workers (10 + 8 per
        cluster = 42 here): it keeps 8 of them; the rest are answered EAGAIN once it has
        been silent for 3 s, and the other clusters answer at once after that."""
        n = 60
        views = [os.path.join(self.mnt, "delta", "description=crowd%d*" % i) for i in range(n)]
        # Looked up (and listed) while delta answers: the kernel serializes lookups in
        # one directory, but readdirs of distinct directories reach jobsfs at once.
        for v in views:
            assert listing_errno(v) == 0
        time.sleep(TTL + 0.2)  # their listings go stale
        self.delta.request("POST", "/_sim/faults", b"stall=60")
        result = {}

        def stalled(i):  # distinct views: each its own request
            result[i] = timed(lambda: listing_errno(views[i]))
        threads = [threading.Thread(target=stalled, args=(i,), daemon=True) for i in range(n)]
        try:
            for t in threads:
                t.start()
            time.sleep(4.5)
            for name in ("alpha", "beta", "alpha/state=success", "beta/state=failure"):
                names, took = timed(lambda: os.listdir(os.path.join(self.mnt, name)))
                assert took < 1.5, "%s took %.2fs while 60 readers wait on delta" % (
                    name, took)
            refused = [took for err, took in result.values() if err == errno.EAGAIN]
            assert len(refused) >= n - 8 - 2, (len(refused), sorted(
                errno.errorcode.get(e, e) for e, _ in result.values()))
            assert max(refused) < 4.5, refused
            lines = [l for l in self.m.stderr().splitlines() if "not one more" in l]
            assert len(lines) == 1 and self.delta.url in lines[0], lines
            assert "Resource temporarily unavailable" in lines[0], lines
        finally:
            self.delta.request("DELETE", "/_sim/faults")
        for t in threads:
            t.join(60)
        assert len(result) == n, "a reader of delta never returned"
        # Answering again, delta lists for everyone.
        deadline = time.monotonic() + 10
        while listing_errno(os.path.join(self.mnt, "delta")) != 0:
            assert time.monotonic() < deadline, "delta still fails after the stall"
            time.sleep(0.3)

    @staticmethod
    def asked(sim, word):
        """How many requests sim was sent whose query names word."""
        status, body, _ = sim.request("GET", "/_sim/counters")
        assert status == 200, status
        return sum(n for k, n in body["by_query"].items() if word in k)

    def glob_asks_clusters_at_once(self):
        sims = (self.alpha, self.beta, self.gamma, self.delta)
        # A view of one cluster alone asks no other.
        assert listing_errno(os.path.join(self.mnt, "alpha", "description=solo")) == 0
        time.sleep(0.5)
        assert self.asked(self.alpha, "solo") == 1
        for s in sims[1:]:
            assert self.asked(s, "solo") == 0, s.url
        # A glob over the fleet, every cluster slow (0.5 s an answer). bash walks
        # */VIEW/ twice (the names, then the trailing slash), and with ttl 1 s the
        # views go stale in between: one cluster after another it took 4.1 s
        # (JOBSFS_NO_PREFETCH=1). The prefetcher asks the other two at once when the
        # second cluster is looked up: 1.0 s, and the second pass finds them fresh.
        for s in sims:
            s.request("POST", "/_sim/faults", b"latency=500")
        try:
            t0 = time.monotonic()
            # The shell's own glob: a lookup of the view in each cluster, in turn.
            r = subprocess.run(["bash", "-c", "echo */description=globbed/"], cwd=self.mnt,
                               capture_output=True, text=True, timeout=60)
            took = time.monotonic() - t0
        finally:
            for s in sims:
                s.request("DELETE", "/_sim/faults")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["%s/description=globbed/" % n for n in
                                    ("alpha", "beta", "delta", "gamma")], r.stdout
        assert took < 2.2, "the glob took %.2fs" % took
        for s in sims:  # once a pass at most: the lookups found prefetched listings
            assert 1 <= self.asked(s, "globbed") <= 2, (s.url, self.asked(s, "globbed"))

    def history_wait_ctl(self):
        a = os.path.join(self.mnt, "alpha")
        uuid = self.alpha.new_job(description="Vol Move", state="running")["uuid"]
        assert os.path.isdir(os.path.join(a, uuid))
        # ctl where control is set, and only there.
        assert "ctl" in os.listdir(os.path.join(a, uuid))
        b_uuid = sorted(os.listdir(os.path.join(self.mnt, "beta")))[0]
        assert "ctl" not in os.listdir(os.path.join(self.mnt, "beta", b_uuid))
        # wait through the fleet's tree.
        box = []
        t = threading.Thread(target=lambda: box.append(
            open(os.path.join(a, uuid, "wait"), "rb").read()), daemon=True)
        t.start()
        time.sleep(0.5)
        with open(os.path.join(a, uuid, "ctl"), "w") as f:
            f.write("cancel\n")
        t.join(TTL + 5)
        assert box == [b"failure\n"], box
        # .history per cluster, one file keyed by cluster.
        deadline = time.monotonic() + 10
        while not os.path.isdir(os.path.join(a, ".history", uuid)):
            assert time.monotonic() < deadline, "alpha's history lacks the job"
            time.sleep(0.2)
        assert not os.path.exists(os.path.join(self.mnt, "beta", ".history", uuid))
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True, timeout=10)
        try:
            clusters = {r[0] for r in con.execute("SELECT DISTINCT cluster FROM jobs")}
        finally:
            con.close()
        assert len(clusters) >= 3, clusters  # alpha, beta, delta (gamma too once up)

    def refusals(self):
        mp = os.path.join(self.tmp, "refused")
        os.mkdir(mp)
        bad = os.path.join(self.tmp, "bad.conf")
        for text, mode, says in (
            ("[a]\nurl = %s\nfoo = 1\n" % self.delta.url, 0o600, "bad.conf:3: unknown key"),
            ("[a]\nurl = %s\nttl = soon\n" % self.delta.url, 0o600, "bad.conf:3: -o ttl=soon"),
            ("[a]\nurl = ftp://x\n", 0o600, "bad.conf:2: ftp://x"),
            ("[a]\nurl = %s\n" % self.delta.url, 0o664, "group or others may write it"),
            ("[a]\nurl = %s\n[a]\nurl = %s\n" % (self.delta.url, self.delta.url), 0o600,
             "bad.conf:3: [a] a second time"),
        ):
            self.write_config(bad, text, mode)
            code, err, mounted = harness.run_jobsfs_once(self.jobsfs, bad, mp)
            assert code == 1 and not mounted, (text, code, err)
            lines = [l for l in err.strip().splitlines() if l]
            assert len(lines) == 1 and says in lines[0], (says, err)

    def unmounts(self):
        assert self.m.unmount() == 0, self.m.stderr()[-1500:]


def main():
    jobsfs, sim_bin = harness.binaries_or_skip()
    tmp = harness.tempdir("jobsfs-fleet-")
    f = Fleet(jobsfs, sim_bin, tmp)
    runner = harness.Runner(case_timeout=150)
    for name, fn in [
        ("mounts with one cluster down; lists; stat never waits", f.starts_and_lists),
        ("a cluster down at start works once up, no remount", f.down_then_up),
        ("a stalled cluster holds none of the others", f.stalled_holds_no_other),
        ("a stalled cluster takes its share of workers only", f.stalled_takes_its_share_only),
        ("a glob over the fleet asks the clusters at once", f.glob_asks_clusters_at_once),
        ("history keyed by cluster, wait and ctl in the fleet", f.history_wait_ctl),
        ("refused: key, value, url, permissions, duplicate", f.refusals),
        ("unmounts, exit 0", f.unmounts),
    ]:
        runner.run(name, fn, on_hang=f.m.kill)
    rc = runner.finish()
    if rc:
        print(f.m.stderr()[-3000:], flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
