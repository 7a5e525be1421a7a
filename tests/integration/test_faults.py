#!/usr/bin/env python3
"""Issue 6's faults, one case each, against a mounted jobsfs with ontap-sim's fault
injection switched on at run time (POST /_sim/faults).

For every fault:
  - jobsfs stays alive and the mount keeps answering;
  - no call takes longer than one request's worst case (CALL_BOUND below);
  - the failing calls get the errno README's "Errors" table promises, and jobsfs's
    stderr gets one error line per failing call, naming the request and the cause;
  - a finished job read before the fault is still readable (README, "Caching");
  - an active job's file after ttl is an error, never the old value served as fresh;
  - once the fault is cleared, the listing and the active job are right within ttl.

Stopping: SIGTERM and SIGINT while a request stalls end jobsfs at once (the blocked
call gets ECANCELED); SIGTERM during two `grep -r` ends it every time.

Small limits keep it quick: -o ttl=1,timeout=2,page_size=10.
JOBSFS_FAULTS_GONE=SECONDS sets how long the cluster is away in the "gone" case
(5 in the suite; issue 6 asks for 30 by hand).

Exit status: 0 all passed (notes on odd but accepted behaviour are printed at the end),
1 a case failed, 77 FUSE or the binaries are missing.
"""

import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "jobs.json")

TTL = 1
TIMEOUT = 2
PAGE = 10
OPTIONS = ["ttl=%d" % TTL, "timeout=%d" % TIMEOUT, "page_size=%d" % PAGE]
# One request's worst case, from src/http.c as fs/main.c configures a mounted jobsfs
# (the defaults): 1 + DEFAULT_MAX_RETRIES (4) attempts of at most `timeout` each, and
# jittered back-off of at most 100 + 200 + 400 + 800 ms between them (the 30 s retry
# budget, DEFAULT_RETRY_BUDGET_MS, is never the limit with timeout=2).
MAX_RETRIES = 4
RETRY_BUDGET = 30.0
BACKOFF_MS = sum(100 << k for k in range(MAX_RETRIES))
REQUEST_BOUND = TIMEOUT * (MAX_RETRIES + 1) + BACKOFF_MS / 1000.0 + 1.0
# Issue 6's limit on one call: the timeout plus the retry budget (+1 s of scheduling).
# Each call is held to REQUEST_BOUND too: for one open() the kernel sends a
# revalidating FUSE_LOOKUP and, when it fails, a fresh one, which must get the first
# one's failure (remembered for a moment) rather than make a second request.
CALL_BOUND = TIMEOUT + RETRY_BUDGET + 1.0
# How long to wait for cached data to be stale: jobsfs's ttl runs from the end of a
# walk, and the kernel's entry and attribute timeouts (also ttl) from its own replies,
# so a listing can be served up to a few hundred ms past ttl (measured: about 1.3 s
# with ttl=1). Twice ttl is past both.
STALE = 2 * TTL + 0.3
GONE_SECONDS = float(os.environ.get("JOBSFS_FAULTS_GONE", "5"))


def read(path):
    with open(path, "rb") as f:
        return f.read()


def text(value):
    """A scalar field's file content (README, "The tree")."""
    if value is None:
        return b"\n"
    if value is True or value is False:
        return b"true\n" if value else b"false\n"
    if isinstance(value, int):
        return b"%d\n" % value
    return value.encode("utf-8") + b"\n"


def errname(n):
    return errno.errorcode.get(n, str(n))


NOTES = set()  # behaviours worth a line in the summary, not failures


class Session:
    """One sim (the fixture's 41 jobs, plus jobs made here) and one jobsfs -f over it."""

    def __init__(self, jobsfs, sim_path, tmp, name, sim_args=(), options=(), env=None):
        self.jobsfs, self.sim_path, self.env = jobsfs, sim_path, env
        self.sim_args = ["--fixture", FIXTURE, *sim_args]
        self.mp = os.path.join(tmp, name)
        os.mkdir(self.mp)
        self.sim = harness.Sim(sim_path, self.sim_args)
        self.url = self.sim.url
        self.mount = harness.Mount(jobsfs, self.url, self.mp, OPTIONS + list(options),
                                   env=env)
        # The active job: a running one of the fixture (fixture jobs never change).
        self.active = next(r for r in self.sim.jobs() if r["state"] == "running")
        # A finished job ending now, so it is cached until now + expiry (300 s).
        self.finished = self.sim.new_job(
            description="jobsfs faults: finished", state="failure", code=4,
            message="entry doesn't exist")
        self.log_at = 0

    def p(self, *parts):
        return os.path.join(self.mp, *parts)

    # -- the simulator -----------------------------------------------------------------
    def fault(self, spec):
        status, body, _ = self.sim.request("POST", "/_sim/faults", spec.encode())
        assert status == 200, "POST /_sim/faults %s: HTTP %s %r" % (spec, status, body)

    def clear(self):
        status, _, _ = self.sim.request("DELETE", "/_sim/faults")
        assert status == 204, "DELETE /_sim/faults: HTTP %s" % status

    def counters(self):
        status, body, _ = self.sim.request("GET", "/_sim/counters")
        assert status == 200, "GET /_sim/counters: HTTP %s" % status
        return body

    def uuids(self):
        return {r["uuid"] for r in self.sim.jobs()}

    # -- jobsfs ------------------------------------------------------------------------
    def alive(self):
        rc = self.mount.proc.poll()
        assert rc is None, "jobsfs is gone (exit %s): %s" % (rc, self.mount.stderr())
        t0 = time.monotonic()
        os.stat(self.mp)  # the mount answers (its root is never fetched)
        assert time.monotonic() - t0 < CALL_BOUND, "stat MOUNT took too long"

    def new_log(self):
        """jobsfs's stderr written since the last call."""
        f = self.mount.errlog
        f.seek(self.log_at)
        data = f.read()
        self.log_at += len(data)
        return data.decode("utf-8", "replace")

    def timed(self, what, fn):
        """(result, OSError or None) of fn(), failing when it takes longer than one
        request's worst case (and, by far, than the issue's bound)."""
        t0 = time.monotonic()
        try:
            result, err = fn(), None
        except OSError as e:
            result, err = None, e
        took = time.monotonic() - t0
        assert took <= CALL_BOUND, "%s took %.1fs, bound %.1fs (timeout + retry budget)" % (
            what, took, CALL_BOUND)
        # One failing call costs one failing fetch: the kernel's second lookup gets
        # the first one's answer (remembered for a moment), not a second fetch.
        assert took <= REQUEST_BOUND, "%s took %.1fs: more than one request's worst case " \
            "(%.1fs), so it made two failing requests in a row" % (what, took, REQUEST_BOUND)
        return result, err

    def warm(self):
        """Listing, the active job and the finished job in every cache."""
        names = os.listdir(self.mp)
        assert self.finished["uuid"] in names and self.active["uuid"] in names, \
            "warm-up listing lacks the test jobs"
        assert read(self.p(self.finished["uuid"], "message")) == b"entry doesn't exist\n"
        assert read(self.p(self.active["uuid"], "state")) == b"running\n"

    def recovered(self, what):
        """Within a few ttl of the fault's end, the listing and the active job are the
        cluster's again."""
        want = self.uuids()
        deadline = time.monotonic() + 4 * TTL + 2
        last = None
        while time.monotonic() < deadline:
            try:
                got = set(os.listdir(self.mp))
                state = read(self.p(self.active["uuid"], "state"))
                if got == want and state == text(self.active["state"]):
                    return
                last = "listing %d names (want %d; missing %s, extra %s), state %r" % (
                    len(got), len(want), sorted(want - got)[:3], sorted(got - want)[:3],
                    state)
            except OSError as e:
                last = "%s: %s" % (errname(e.errno), e)
            time.sleep(0.25)
        raise AssertionError("%s: not recovered %ds after the fault ended: %s" % (
            what, 4 * TTL + 2, last))

    def unmount(self):
        rc = self.mount.unmount()
        assert rc == 0, "jobsfs exited %s after fusermount3 -u: %s" % (rc, self.mount.stderr())
        log = self.mount.stderr()
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "ThreadSanitizer"):
            assert bad not in log, "sanitizer report in jobsfs stderr:\n%s" % log


def error_lines(log):
    return [line for line in log.splitlines() if line.startswith("jobsfs: error:")]


def check_failing(s, spec, errnos, causes):
    """The fault is on: the listing and the active job fail with one of errnos, each
    failure logged once naming the request and one of causes; the finished job is
    still served."""
    time.sleep(STALE)  # past ttl: the listing and the active job must ask
    s.new_log()
    failed = []
    _, err = s.timed("ls MOUNT under %s" % spec, lambda: os.listdir(s.mp))
    assert err is not None, "ls MOUNT under %s succeeded (cluster failing, ttl over)" % spec
    assert err.errno in errnos, "ls MOUNT under %s: %s, want %s" % (
        spec, errname(err.errno), "/".join(map(errname, errnos)))
    failed.append("GET /api/cluster/jobs?")
    a = s.active["uuid"]
    got, err = s.timed("cat MOUNT/A/state under %s" % spec, lambda: read(s.p(a, "state")))
    assert err is not None, ("cat MOUNT/%s/state (a running job, ttl over) under %s served "
                             "%r: old data served as fresh" % (a, spec, got))
    assert err.errno in errnos, "cat MOUNT/%s/state under %s: %s, want %s" % (
        a, spec, errname(err.errno), "/".join(map(errname, errnos)))
    # The kernel asks twice for one failing open (FUSE_LOOKUP to revalidate the cached
    # dentry, then a fresh FUSE_LOOKUP once it is dropped): the second gets the first
    # one's answer, remembered for a moment, with no request and no second line.
    failed.append("GET /api/cluster/jobs/" + a)
    f = s.finished["uuid"]
    got, err = s.timed("cat MOUNT/F/message", lambda: read(s.p(f, "message")))
    assert err is None and got == b"entry doesn't exist\n", (
        "finished job %s under %s: %r %s; cached finished jobs stay readable" % (
            f, spec, got, err))
    s.alive()
    lines = error_lines(s.new_log())
    for request in failed:
        mine = [line for line in lines if request in line]
        assert len(mine) == 1, "want one error line naming %s, got %d:\n%s" % (
            request, len(mine), "\n".join(lines))
    assert len(lines) == len(failed), "too many error lines:\n%s" % "\n".join(lines)
    for line in lines:
        assert any(c.lower() in line.lower() for c in causes), \
            "log line %r names no cause among %s" % (line, causes)


def failing_case(s, spec, errnos, causes):
    def case():
        s.warm()
        s.fault(spec)
        try:
            check_failing(s, spec, errnos, causes)
        finally:
            s.clear()
        s.recovered(spec)
    return case


def burst_case(s, spec):
    """A burst shorter than the retries is absorbed: every call succeeds, no error."""
    def case():
        s.warm()
        time.sleep(STALE)
        s.new_log()
        s.fault(spec)
        try:
            names, err = s.timed("ls MOUNT under %s" % spec, lambda: set(os.listdir(s.mp)))
            assert err is None, "ls MOUNT under %s: %s; a burst of %s is within the retries" % (
                spec, err, spec)
            assert names == s.uuids(), "listing after %s differs from the cluster" % spec
            left = s.sim.request("GET", "/_sim/faults")[1]
            assert left and spec.split("*")[0] not in left.get("spec", ""), \
                "the burst was not consumed: %r" % left
        finally:
            s.clear()
        lines = error_lines(s.new_log())
        assert not lines, "errors logged for an absorbed burst: %s" % lines
        s.alive()
    return case


def bigfield_case(s):
    """A 1 MiB message: listed, stat'ed and read whole, with the right size."""
    def case():
        s.warm()
        s.fault("bigfield")
        try:
            time.sleep(STALE)
            a = s.active["uuid"]
            # The fault enlarges the collection's records (not GET of one job).
            served, err = s.sim.walk([("fields", "*"), ("uuid", a)])
            assert err is None and len(served) == 1, "sim walk under bigfield: %r" % (err,)
            want = text(served[0]["message"])
            assert len(want) == 1048577, "the sim's big message is %d bytes" % len(want)
            names, err = s.timed("ls MOUNT under bigfield", lambda: set(os.listdir(s.mp)))
            assert err is None, "ls MOUNT under bigfield: %s" % err
            assert a in names, "the active job left the listing under bigfield"
            st, err = s.timed("stat message", lambda: os.stat(s.p(a, "message")))
            assert err is None, "stat MOUNT/A/message under bigfield: %s" % err
            got, err = s.timed("cat message", lambda: read(s.p(a, "message")))
            assert err is None, "cat MOUNT/A/message under bigfield: %s: %s" % (
                err, s.new_log()[-500:])
            assert (st.st_size, len(got), got == want) == (len(want), len(want), True), \
                "1 MiB message: st_size %d, read %d bytes, equal %s; want %d" % (
                    st.st_size, len(got), got == want, len(want))
            s.alive()
        finally:
            s.clear()
        s.recovered("bigfield")
    return case


def hostile_name(uuid):
    """What a uuid that is not a safe file name shows as (jobsfs's encoding: '%' and
    '/' as %XX, '.' and '..' and "" spelled out), None when it cannot be shown."""
    if uuid == "":
        return "%"
    if uuid in (".", ".."):
        return "%2E" * len(uuid)
    name = uuid.replace("%", "%25").replace("/", "%2F")
    return None if len(name.encode()) > 255 else name


def hostile_case(s):
    """Names from the cluster never escape: no entry is '', '.', '..', holds '/', or is
    over NAME_MAX; each hostile uuid shows under its encoded name (or not at all when
    too long, with a warning), and its uuid file holds the real uuid."""
    def case():
        s.fault("hostile")
        try:
            time.sleep(STALE)
            s.new_log()
            served, err = s.sim.walk([("fields", "*")])
            assert err is None, "sim walk under hostile: %r" % (err,)
            hostile = [r.get("uuid") for r in served if r.get("uuid") not in s.uuids()]
            assert len(hostile) >= 5, "the sim served %d hostile records" % len(hostile)
            names, err = s.timed("ls MOUNT under hostile", lambda: os.listdir(s.mp))
            assert err is None, "ls MOUNT under hostile: %s" % err
            assert s.uuids() <= set(names), "normal jobs missing under hostile"
            bad = []
            for root, dirs, files in os.walk(s.mp):
                for n in dirs + files:
                    if n in ("", ".", "..") or "/" in n or len(n.encode()) > 255:
                        bad.append(os.path.join(root, n))
            assert not bad, "unsafe names: %r" % bad[:5]
            skipped = 0
            for u in hostile:
                if not isinstance(u, str):
                    continue
                shown = hostile_name(u)
                if shown is None:
                    skipped += 1
                    continue
                assert shown in names, "uuid %r not shown as %r; hostile names: %s" % (
                    u, shown, sorted(set(names) - s.uuids()))
                assert read(s.p(shown, "uuid")) == u.encode() + b"\n", \
                    "MOUNT/%s/uuid is not %r" % (shown, u)
            assert not os.path.exists(os.path.join(s.mp, "a", "b")), "MOUNT/a/b exists"
            assert not os.path.exists(s.p("..%2F..%2Fetc", "passwd")), "../../etc escaped"
            log = s.new_log()
            if skipped:
                assert "cannot be a file name" in log, \
                    "the %d-byte uuid was skipped without a warning: %r" % (300, log)
            assert not error_lines(log), "errors under hostile: %s" % error_lines(log)
            s.alive()
        finally:
            s.clear()
        s.recovered("hostile")
    return case


def repeat_next_case(s):
    """A next link back to a page already read: the walk stops at once (no loop, a
    bounded number of requests) with one warning, and what is listed is the cluster's
    (no job twice, none invented)."""
    def case():
        s.warm()
        time.sleep(STALE)
        s.new_log()
        s.sim.request("POST", "/_sim/counters/reset")
        s.fault("repeat-next")
        try:
            names, err = s.timed("ls MOUNT under repeat-next", lambda: os.listdir(s.mp))
            requests = s.counters()["by_endpoint"].get("GET /api/cluster/jobs", 0)
        finally:
            s.clear()
        log = s.new_log()
        assert requests <= 4, "%d collection requests for a repeated next link" % requests
        warned = [line for line in log.splitlines() if "next link" in line]
        assert len(warned) == 1, "want one line about the next link, got: %r" % log
        if err is not None:
            assert err.errno == errno.EIO, "ls under repeat-next: %s, want EIO" % err
        else:
            assert len(names) == len(set(names)), "a job listed twice"
            assert set(names) <= s.uuids(), "jobs the cluster does not hold: %s" % (
                set(names) - s.uuids())
            if len(names) < len(s.uuids()):
                NOTES.add("repeat-next: ls succeeds with the first page only (%d of %d "
                          "jobs), logged as a warning, not an error" % (
                              len(names), len(s.uuids())))
        s.alive()
        s.recovered("repeat-next")
    return case


def empty_pages_case(s):
    """Empty pages that carry a next link are followed: the listing is complete."""
    def case():
        s.warm()
        s.fault("empty-pages=3")
        try:
            time.sleep(STALE)
            s.new_log()
            names, err = s.timed("ls MOUNT under empty-pages", lambda: set(os.listdir(s.mp)))
            assert err is None, "ls MOUNT under empty-pages=3: %s" % err
            assert names == s.uuids(), "listing under empty-pages=3: %d names, want %d" % (
                len(names), len(s.uuids()))
            assert not error_lines(s.new_log()), "errors under empty-pages"
        finally:
            s.clear()
        s.alive()
    return case


class Listener:
    """A TCP listener that records every connection and every byte sent to it."""

    def __init__(self, host):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.origin = "http://%s:%d" % (host, self.sock.getsockname()[1])
        self.connections, self.data = 0, b""
        self.stopped = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        harness.on_exit(self.stop)

    def _serve(self):
        while not self.stopped:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.connections += 1
            c.settimeout(1)
            try:
                self.data += c.recv(65536)
            except OSError:
                pass
            c.close()

    def stop(self):
        self.stopped = True
        self.thread.join(2)
        self.sock.close()


def foreign_next_case(s, password):
    """A next link to another origin: not followed (no connection reaches it, so no
    credential either), the listing fails with EIO and one error line."""
    def case():
        try:
            listener = Listener("127.0.0.2")
        except OSError:
            listener = Listener("127.0.0.1")  # no 127.0.0.2 here: another port
        s.warm()
        s.fault("foreign-next=" + listener.origin)
        try:
            time.sleep(STALE)
            s.new_log()
            _, err = s.timed("ls MOUNT under foreign-next", lambda: os.listdir(s.mp))
            time.sleep(0.3)
        finally:
            s.clear()
            listener.stop()
        log = s.new_log()
        assert listener.connections == 0, "%d connections reached %s; sent %r" % (
            listener.connections, listener.origin, listener.data[:300])
        assert password.encode() not in listener.data
        assert err is not None and err.errno == errno.EIO, \
            "ls under foreign-next: %s, want EIO" % (err or "success")
        lines = error_lines(log)
        assert len(lines) == 1, "want one error line, got:\n%s" % log
        assert "GET /api/cluster/jobs?" in lines[0] and listener.origin in lines[0], \
            "error line %r names neither the request nor %s" % (lines[0], listener.origin)
        if len(log.strip().splitlines()) > 1:
            NOTES.add("foreign-next: %d log lines for one failure (a warning and the "
                      "error)" % len(log.strip().splitlines()))
        assert password not in log, "the password is in jobsfs's log"
        s.alive()
        s.recovered("foreign-next")
    return case


def restart_sim(s, args, gone=0.0):
    """Stop the sim, wait `gone` seconds, start it again on the same port."""
    port = s.url.rsplit(":", 1)[1]
    rc = s.sim.stop()
    assert rc == 0, "ontap-sim exited %s on SIGTERM" % rc
    time.sleep(gone)
    deadline = time.monotonic() + 10
    while True:
        try:
            s.sim = harness.Sim(s.sim_path, args + ["--port", port])
            break
        except RuntimeError:  # the port may linger a moment
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    assert s.sim.url == s.url, "restarted sim at %s, want %s" % (s.sim.url, s.url)


def unauthorized_case(s):
    """401 while mounted, as the fault status=401 (the sim reads its password file only
    at start; see the next case for a real password change): EACCES, one line."""
    return failing_case(s, "status=401", (errno.EACCES,), ["401", "authoriz", "authentic"])


def password_changed_case(s, server_pw):
    """The cluster's password changes under the mount (the sim restarted on the same
    port with another password): EACCES; back with the old password: recovered."""
    def case():
        s.warm()
        with open(server_pw, "w") as f:
            f.write("another password")
        args = s.sim_args
        restart_sim(s, args)
        try:
            check_failing(s, "password changed", (errno.EACCES,),
                          ["401", "authoriz", "authentic"])
        finally:
            with open(server_pw, "w") as f:
                f.write(s.password)
            restart_sim(s, args)
        s.finished = s.sim.new_job(description="jobsfs faults: finished", state="failure",
                                   code=4, message="entry doesn't exist")
        s.recovered("password changed back")
    return case


def gone_case(s):
    """The cluster gone for GONE_SECONDS, then back on the same port with the same
    jobs: every call fails fast (ECONNREFUSED), the finished job is still served, the
    active job is an error, and everything is right again within ttl of the return."""
    def case():
        s.warm()
        args = s.sim_args
        port = s.url.rsplit(":", 1)[1]
        rc = s.sim.stop()
        assert rc == 0, "ontap-sim exited %s on SIGTERM" % rc
        t0 = time.monotonic()
        try:
            check_failing(s, "cluster gone", (errno.ECONNREFUSED, errno.EIO),
                          ["refused", "connect"])
            rounds = 0
            while time.monotonic() - t0 < GONE_SECONDS:
                _, err = s.timed("ls MOUNT, cluster gone", lambda: os.listdir(s.mp))
                assert err is not None, "ls MOUNT succeeded with the cluster gone past ttl"
                f = s.finished["uuid"]
                got, err = s.timed("cat F/message", lambda: read(s.p(f, "message")))
                assert err is None and got == b"entry doesn't exist\n", \
                    "finished job with the cluster gone: %r %s" % (got, err)
                rounds += 1
                time.sleep(0.5)
            s.alive()
        finally:
            deadline = time.monotonic() + 10
            while True:
                try:
                    s.sim = harness.Sim(s.sim_path, args + ["--port", port])
                    break
                except RuntimeError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)
        away = time.monotonic() - t0
        # The restarted sim holds the fixture only (the finished job made here is gone
        # with the old process): recovery = the fixture's listing.
        s.recovered("cluster back after %.0fs" % away)
        print("     (cluster away %.1fs, %d rounds of ls + cat)" % (away, rounds), flush=True)
    return case


def stop_case(jobsfs, sim_path, tmp, sig):
    """A stop signal while a request stalls: jobsfs cancels it and exits 0 at once,
    nothing stays mounted, and the blocked call fails with ECANCELED rather than
    hanging on. Without the cancel, libfuse waits for its worker: the attempt (30 s
    here, so that only cancelling it in flight is fast enough), then every retry."""
    def case():
        name = "stop-" + signal.Signals(sig).name.lower()
        s = Session(jobsfs, sim_path, tmp, name, options=["timeout=30"])
        try:
            s.warm()
            s.fault("stall=60")
            result = {}

            def blocked():
                t0 = time.monotonic()
                try:
                    os.listdir(s.p("state=running"))  # a new view: a request, stalled
                    result["err"] = None
                except OSError as e:
                    result["err"] = e
                result["took"] = time.monotonic() - t0
            t = threading.Thread(target=blocked, daemon=True)
            t.start()
            time.sleep(1.0)
            assert t.is_alive(), "the listing did not block on the stalled cluster"
            t0 = time.monotonic()
            s.mount.proc.send_signal(sig)
            try:
                rc = s.mount.proc.wait(REQUEST_BOUND)
            except Exception:
                rc = None
            took = time.monotonic() - t0
            assert rc == 0, "jobsfs after %s: exit %s: %s" % (
                signal.Signals(sig).name, rc, s.mount.stderr())
            assert took < 3.0, "jobsfs took %.1fs to exit on %s while a request stalled" % (
                took, signal.Signals(sig).name)
            t.join(5)
            assert not t.is_alive(), "the blocked listing still hangs after jobsfs exited"
            err = result["err"]
            assert isinstance(err, OSError) and err.errno == errno.ECANCELED, \
                "the blocked listing: %r, want ECANCELED" % (err,)
            assert not harness.mounted(s.mp), "still mounted after jobsfs exited"
            log = s.mount.stderr()
            for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
                assert bad not in log, "sanitizer report in jobsfs stderr:\n%s" % log
        finally:
            s.clear()
            s.mount.unmount()
            s.sim.stop()
    return case


def run_session(runner, name, make, cases):
    made = []
    runner.run(name + ": setup (sim + mount)", lambda: made.append(make()))
    if not made:
        return
    s = made[0]
    for case_name, fn in cases(s):
        def checked(fn=fn):
            s.alive()
            fn()
        runner.run(case_name, checked, on_hang=s.mount.kill)
    runner.run(name + ": unmount, jobsfs exits 0", s.unmount)


def unlisted_root_case(jobsfs, sim_path, tmp):
    """A root never listed, while the cluster fails its listing: stat, ls -ld and df of
    the mount point answer (a directory's own attributes never need the cluster); ls
    fails with EIO; once the cluster answers, ls works, with no remount."""
    def case():
        s = Session(jobsfs, sim_path, tmp, "unlisted-root")
        try:
            s.fault("status=503")
            st = os.stat(s.mp)
            assert stat.S_ISDIR(st.st_mode) and st.st_nlink >= 2, st
            for argv in (["ls", "-ld", s.mp], ["df", s.mp], ["stat", s.mp]):
                r = subprocess.run(argv, capture_output=True, timeout=30)
                assert r.returncode == 0, "%s: exit %d: %s" % (
                    " ".join(argv[:2]), r.returncode, r.stderr.decode()[-300:])
            try:
                os.listdir(s.mp)
                raise AssertionError("ls MOUNT answered while every listing fails")
            except OSError as e:
                assert e.errno == errno.EIO, "ls MOUNT: %r, want EIO" % (e,)
            s.clear()
            deadline = time.monotonic() + 5
            while True:  # a failure is recalled for a moment (the store's failure window)
                try:
                    names = os.listdir(s.mp)
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
            assert s.finished["uuid"] in names, "ls MOUNT after the cluster came back"
        finally:
            s.unmount()
    return case


def stop_during_keeper_case(jobsfs, sim_path, tmp):
    """SIGTERM while the keeper is about to invalidate an entry of the root, with
    lookups in the root going on: jobsfs exits. The keeper's inval_entry waits for the
    root's lock, which a LOOKUP in flight holds until a worker answers it; joined after
    the loop ended (nothing answers then), it held the exit for ever (issue 11, item
    2). JOBSFS_TEST_KEEPER_DELAY_MS makes the keeper sleep before each notification,
    so that the signal comes while it has one to make."""
    delay_ms = 1500

    def case():
        s = Session(jobsfs, sim_path, tmp, "stop-keeper", options=["ttl=1"],
                    env={"JOBSFS_TEST_KEEPER_DELAY_MS": str(delay_ms)})
        stop = threading.Event()
        try:
            job = s.sim.new_job(description="jobsfs faults: keeper", state="running")
            state = s.p(job["uuid"], "state")
            assert read(state) == b"running\n", read(state)
            s.sim.update_job(job["uuid"], state="success")
            time.sleep(1.2)  # past ttl: the next read fetches and sees the change
            read(state)  # the store sees the change and kicks the keeper, which waits
            os.stat(s.p(job["uuid"]))

            def looker():  # LOOKUPs in the root, one after the other
                i = 0
                while not stop.is_set():
                    try:
                        os.stat(s.p("00000000-0000-0000-0000-%012d" % i))
                    except OSError:
                        pass
                    i += 1
            t = threading.Thread(target=looker, daemon=True)
            t.start()
            time.sleep(0.3)
            t0 = time.monotonic()
            s.mount.proc.send_signal(signal.SIGTERM)
            bound = 4 * delay_ms / 1000 + 8
            try:
                rc = s.mount.proc.wait(bound)
            except subprocess.TimeoutExpired:
                harness.abort_connection(s.mp)
                s.mount.kill()
                raise AssertionError("jobsfs did not exit within %.0fs of SIGTERM (the "
                                     "keeper waits on the kernel)" % bound)
            took = time.monotonic() - t0
            assert rc == 0, "jobsfs exited %s: %s" % (rc, s.mount.stderr())
            print("     exited %.1fs after SIGTERM" % took, flush=True)
        finally:
            stop.set()
            s.mount.unmount()
    return case


WALK_JOBS, WALK_STOPS = 3000, 6


def stop_during_walk_case(jobsfs, sim_path, tmp):
    """SIGTERM while two `grep -r` read the tree: jobsfs exits 0 within seconds, every
    time. jobsfs pushes the files of a directory a reader walks into the page cache
    from a thread of its own (fs/push.c); a push that waited for a READ nobody answers
    once the loop has ended would hold the exit for ever, so the stopper ends the pusher
    while the workers still answer (fs/stop.h)."""
    def case():
        sim = harness.Sim(sim_path, ["--jobs", str(WALK_JOBS), "--expiry", "86400"])
        try:
            for i in range(WALK_STOPS):
                mp = os.path.join(tmp, "walk-stop-%d" % i)
                os.mkdir(mp)
                m = harness.Mount(jobsfs, sim.url, mp, ["expiry=86400", "ttl=3600"])
                greps = [subprocess.Popen(["grep", "-r", "-c", "", mp],
                                          stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL) for _ in range(2)]
                try:
                    time.sleep(0.4 + 0.3 * i)  # at different points of the walk
                    t0 = time.monotonic()
                    m.proc.send_signal(signal.SIGTERM)
                    try:
                        rc = m.proc.wait(10)
                    except subprocess.TimeoutExpired:
                        rc = None
                    assert rc == 0, "stop %d of %d: jobsfs %s 10 s after SIGTERM during " \
                        "grep -r: %s" % (i + 1, WALK_STOPS, "still running" if rc is None
                                         else "exited %s" % rc, m.stderr()[-1500:])
                    print("  stop %d: exit 0 in %.2fs" % (i + 1, time.monotonic() - t0),
                          flush=True)
                finally:
                    m.kill()
                    for g in greps:
                        try:
                            g.wait(30)
                        except subprocess.TimeoutExpired:
                            g.kill()
                            g.wait()
                    m.unmount()
        finally:
            sim.stop()
    return case


def main():
    jobsfs, sim_path = harness.binaries_or_skip()
    t0 = time.monotonic()
    tmp = harness.tempdir("jobsfs-faults-")
    runner = harness.Runner(case_timeout=120)
    print("bounds: one call %.0fs (timeout + retry budget); one request %.1fs (timeout %ds, "
          "%d retries, back-off <= %d ms)" % (CALL_BOUND, REQUEST_BOUND, TIMEOUT,
                                              MAX_RETRIES, BACKOFF_MS), flush=True)

    EIO, ETIMEDOUT = (errno.EIO,), (errno.ETIMEDOUT,)
    run_session(runner, "faults", lambda: Session(jobsfs, sim_path, tmp, "faults"),
                lambda s: [
        ("500 burst (status=500*3) absorbed by retries", burst_case(s, "status=500*3")),
        ("503 burst (status=503*3) absorbed by retries", burst_case(s, "status=503*3")),
        ("503 throughout: EIO", failing_case(s, "status=503", EIO, ["503"])),
        ("500 throughout: EIO", failing_case(s, "status=500", EIO, ["500"])),
        ("reset burst (reset*2) absorbed", burst_case(s, "reset*2")),
        ("connection reset throughout: EIO",
         failing_case(s, "reset", EIO, ["empty reply", "reset", "closed"])),
        ("stall past the timeout: ETIMEDOUT",
         failing_case(s, "stall=%d" % (TIMEOUT + 3), ETIMEDOUT, ["timed out", "timeout"])),
        ("truncated JSON: EIO",
         failing_case(s, "truncate", EIO, ["transfer closed", "truncat", "partial"])),
        ("invalid JSON: EIO", failing_case(s, "badjson", EIO, ["invalid JSON", "JSON"])),
        ("1 MiB field (bigfield)", bigfield_case(s)),
        ("hostile names never escape", hostile_case(s)),
        ("repeated next link", repeat_next_case(s)),
        ("empty pages with a next link", empty_pages_case(s)),
        ("401 while mounted (status=401): EACCES", unauthorized_case(s)),
        ("cluster gone %gs and back" % GONE_SECONDS, gone_case(s)),
    ])

    password = "pw for faults: s3cret"
    server_pw = os.path.join(tmp, "sim-password")
    with open(os.open(server_pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(password)

    def auth_session():
        s = Session(jobsfs, sim_path, tmp, "auth",
                    ["--user", "admin", "--password-file", server_pw],
                    options=["user=admin"], env={"JOBSFS_PASSWORD": password})
        s.password = password
        return s
    run_session(runner, "auth", auth_session, lambda s: [
        ("foreign next link: nothing reaches the other origin", foreign_next_case(s, password)),
        ("401 while mounted (password changed): EACCES",
         password_changed_case(s, server_pw)),
    ])

    for sig in (signal.SIGTERM, signal.SIGINT):
        runner.run("%s while the cluster stalls: exits at once" % signal.Signals(sig).name,
                   stop_case(jobsfs, sim_path, tmp, sig))

    runner.run("SIGTERM while the keeper invalidates and lookups go on: exits",
               stop_during_keeper_case(jobsfs, sim_path, tmp))
    runner.run("root never listed, cluster failing: stat/ls -ld/df answer, ls EIO",
               unlisted_root_case(jobsfs, sim_path, tmp))
    runner.run("SIGTERM during grep -r, %d times: exits at once" % WALK_STOPS,
               stop_during_walk_case(jobsfs, sim_path, tmp))

    for note in sorted(NOTES):
        print("note: " + note, flush=True)
    print("(%.1fs)" % (time.monotonic() - t0), flush=True)
    return runner.finish()


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
