"""Shared helpers for the jobsfs mount tests: start ontap-sim, mount jobsfs,
talk to the simulator, and always clean up (unmount, reap) even when a test fails.

Standard library only. The binaries come from the environment (set by meson):
    JOBSFS     path of the jobsfs executable
    ONTAP_SIM  path of the ontap-sim executable
"""

import atexit
import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77  # meson's "skipped" exit code


def wait_for(what, pred, timeout=15, step=0.1):
    """pred()'s first true value, polled every step seconds; AssertionError naming what
    after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = pred()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)


def proc_status(pid, field):
    """A number field of /proc/PID/status (VmRSS in KiB, Threads, ...); 0 when absent.
    For the benchmarks' figures of jobsfs's memory and threads."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def skip(reason):
    print("SKIP: " + reason, flush=True)
    sys.exit(SKIP)


def binaries_or_skip():
    """Return (jobsfs, ontap_sim) or exit 77 with the reason: never pass silently."""
    if not os.path.exists("/dev/fuse"):
        skip("/dev/fuse is missing (no FUSE in this environment)")
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        skip("/dev/fuse cannot be opened: %s" % e.strerror)
    if not shutil.which("fusermount3"):
        skip("fusermount3 is not installed (package fuse3)")
    found = []
    for var in ("JOBSFS", "ONTAP_SIM"):
        path = os.environ.get(var, "")
        if not path or not os.access(path, os.X_OK):
            skip("%s is not built (%s=%r)" % (var.lower(), var, path))
        found.append(path)
    return tuple(found)


# Everything started here is stopped at exit, in reverse order, even on failure or SIGTERM
# (meson sends SIGTERM on a timeout: turn it into a normal exit so atexit runs).
_cleanups = []


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning the rest
            print("cleanup: %r" % e, file=sys.stderr)


atexit.register(_run_cleanups)


def _on_signal(signum, frame):
    raise SystemExit(128 + signum)


signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


def on_exit(fn):
    _cleanups.append(fn)


def tempdir(prefix="jobsfs-it-"):
    path = tempfile.mkdtemp(prefix=prefix)

    def remove():
        # Runs after the mounts' own cleanups (reverse order); never walk into a mount
        # that is somehow still alive.
        if any(mounted(os.path.join(path, d)) for d in os.listdir(path)):
            print("cleanup: leaving %s, something is still mounted in it" % path,
                  file=sys.stderr)
            return
        # cp -a copies 0555 directories: make them writable again before removing.
        for root, dirs, _ in os.walk(path):
            for d in dirs:
                os.chmod(os.path.join(root, d), 0o755)
        shutil.rmtree(path, ignore_errors=True)

    on_exit(remove)
    return path


def mounted(path):
    """True when something is mounted on path, from /proc/self/mountinfo: unlike
    os.path.ismount this never asks the filesystem, so a hung, dead or failing jobsfs
    still counts as mounted."""
    path = os.path.abspath(path)
    # Resolve the parent only: resolving path itself would stat the mount's root.
    path = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            point = line.split(b" ")[4]
            # Octal escapes for space, tab, newline, backslash.
            point = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), point)
            if point == os.fsencode(path):
                return True
    return False


def mount_device(path):
    """The "major:minor" of what is mounted on path (/proc/self/mountinfo), or None."""
    path = os.path.abspath(path)
    path = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            fields = line.split(b" ")
            point = re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), fields[4])
            if point == os.fsencode(path):
                return fields[2].decode()
    return None


def abort_connection(path):
    """Abort the FUSE connection of the mount on path (fusectl's abort file): every
    request in it fails, so threads the kernel holds in D state (readers, and jobsfs's
    own writes to /dev/fuse) return. kill -9 alone does not free a jobsfs thread stuck
    in a notification. Returns True when the connection was aborted."""
    dev = mount_device(path)
    if not dev:
        return False
    ctl = "/sys/fs/fuse/connections"
    if not os.path.isdir(os.path.join(ctl, dev.split(":")[1])):
        subprocess.run(["mount", "-t", "fusectl", "fusectl", ctl], capture_output=True)
    try:
        with open(os.path.join(ctl, dev.split(":")[1], "abort"), "w") as f:
            f.write("1")
        return True
    except OSError:
        return False


def closed_port():
    """A local TCP port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc, timeout=10):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class Sim:
    """A running ontap-sim on a free port."""

    def __init__(self, path, args=(), start_timeout=15):
        self.errlog = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([path, "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=self.errlog, stdin=subprocess.DEVNULL)
        on_exit(self.stop)
        first = self._first_line(start_timeout)
        if not first.startswith("http"):
            raise RuntimeError("ontap-sim %s printed no URL (got %r, exit %s): %s"
                               % (" ".join(args), first, self.proc.poll(), self.stderr()))
        self.url = first.strip()
        # Keep draining stdout so the simulator never blocks on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _first_line(self, timeout):
        box = []
        t = threading.Thread(target=lambda: box.append(self.proc.stdout.readline()), daemon=True)
        t.start()
        t.join(timeout)
        if not box:
            return ""
        return box[0].decode("utf-8", "replace")

    def _drain(self):
        for _ in self.proc.stdout:
            pass

    def stderr(self):
        self.errlog.seek(0)
        return self.errlog.read().decode("utf-8", "replace")[-2000:]

    def stop(self):
        return _stop(self.proc)

    # HTTP ------------------------------------------------------------------------
    def request(self, method, path, body=None, auth=None, timeout=30):
        """(status, parsed JSON or None, headers) of one request to the simulator."""
        data = None
        headers = {}
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = "Basic " + base64.b64encode(
                ("%s:%s" % auth).encode()).decode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                status, raw, hdrs = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, raw, hdrs = e.code, e.read(), e.headers
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        return status, parsed, hdrs

    def jobs(self):
        """Every job the simulator holds, as /_sim/jobs returns them."""
        status, body, _ = self.request("GET", "/_sim/jobs")
        if status != 200 or not isinstance(body, dict):
            raise RuntimeError("GET /_sim/jobs: HTTP %s" % status)
        return body["records"]

    def new_job(self, **fields):
        status, body, _ = self.request("POST", "/_sim/jobs", fields)
        if status != 201:
            raise RuntimeError("POST /_sim/jobs: HTTP %s %r" % (status, body))
        return body

    def update_job(self, uuid, **fields):
        status, body, _ = self.request("POST", "/_sim/jobs/" + uuid, fields)
        if status != 200:
            raise RuntimeError("POST /_sim/jobs/%s: HTTP %s %r" % (uuid, status, body))
        return body

    def workload(self, **fields):
        status, body, _ = self.request("POST", "/_sim/workload", fields)
        if status != 200:
            raise RuntimeError("POST /_sim/workload: HTTP %s %r" % (status, body))

    def walk(self, params, max_pages=1000):
        """The cluster's own answer to GET /api/cluster/jobs?params, following next links
        (same origin, stop when absent or repeated). params: list of (name, value).
        Returns (records, None) or (None, (status, error body)) when rejected."""
        path = "/api/cluster/jobs?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        records, seen = [], set()
        for _ in range(max_pages):
            status, body, _ = self.request("GET", path)
            if status != 200:
                return None, (status, body)
            records.extend(body.get("records", []))
            nxt = body.get("_links", {}).get("next", {}).get("href")
            if not nxt or nxt in seen:
                return records, None
            seen.add(nxt)
            path = nxt
        raise RuntimeError("more than %d pages for %r" % (max_pages, params))


class Mount:
    """jobsfs -f URL MOUNTPOINT in the background, ready once MOUNTPOINT is a mount."""

    def __init__(self, path, url, mountpoint, options=(), env=None, timeout=20):
        self.mountpoint = mountpoint
        self.errlog = tempfile.TemporaryFile()
        argv = [path, "-f"]
        for opt in with_history_default(options):
            argv += ["-o", opt]
        argv += [url, mountpoint]
        self.argv = argv
        full_env = dict(os.environ)
        full_env.pop("JOBSFS_PASSWORD", None)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self.errlog,
                                     stderr=self.errlog, env=full_env)
        self.exit_code = None
        on_exit(self.unmount)
        deadline = time.monotonic() + timeout
        while not mounted(mountpoint):
            if self.proc.poll() is not None:
                raise RuntimeError("jobsfs exited %s before mounting: %s"
                                   % (self.proc.returncode, self.stderr().strip()))
            if time.monotonic() > deadline:
                raise RuntimeError("%s is not a mount after %ss: %s"
                                   % (mountpoint, timeout, self.stderr().strip()))
            time.sleep(0.05)

    def stderr(self):
        self.errlog.seek(0)
        return self.errlog.read().decode("utf-8", "replace")[-4000:]

    def kill(self):
        """Last resort when the filesystem hangs: the kernel then fails pending calls."""
        if self.proc.poll() is None:
            self.proc.kill()

    def unmount(self, timeout=15):
        """fusermount3 -u, then reap jobsfs; returns its exit status."""
        if self.exit_code is not None:
            return self.exit_code
        # Never decide by stat'ing the mount (os.path.ismount): with the cluster gone
        # that can fail. jobsfs alive means mounted; a dead one may have left its mount.
        for attempt in range(20):
            r = subprocess.run(["fusermount3", "-u", self.mountpoint], capture_output=True)
            if r.returncode == 0 or self.proc.poll() is not None:
                break
            time.sleep(0.1 * (attempt + 1))  # busy: a reader is still inside
        else:
            subprocess.run(["fusermount3", "-u", "-z", self.mountpoint], capture_output=True)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if mounted(self.mountpoint):  # jobsfs died without unmounting
            subprocess.run(["fusermount3", "-u", "-z", self.mountpoint], capture_output=True)
        self.exit_code = self.proc.returncode
        return self.exit_code


def with_history_default(options):
    """The options a test mount gets: history=off unless the test names a history, so
    that mounts of tests that are not about it write no file (as root the default
    one would be /var/lib/jobsfs/HOST.sqlite) and send no recorder's listings."""
    options = list(options)
    if not any(o.startswith("history=") for o in options):
        options.append("history=off")
    return options


def run_jobsfs_once(path, url, mountpoint, options=(), env=None, timeout=30):
    """Run jobsfs -f expecting it to refuse: (exit code, stderr, mounted?). If it mounts
    after all, it is unmounted and reaped here."""
    argv = [path, "-f"]
    for opt in with_history_default(options):
        argv += ["-o", opt]
    argv += [url, mountpoint]
    full_env = dict(os.environ)
    full_env.pop("JOBSFS_PASSWORD", None)
    full_env.update(env or {})
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=full_env)
    is_mounted = False
    deadline = time.monotonic() + timeout
    while proc.poll() is None and time.monotonic() < deadline:
        if mounted(mountpoint):
            is_mounted = True
            break
        time.sleep(0.05)
    if is_mounted or proc.poll() is None:
        is_mounted = is_mounted or mounted(mountpoint)
        subprocess.run(["fusermount3", "-u", mountpoint], capture_output=True)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    out, err = proc.communicate()
    return proc.returncode, (err + out).decode("utf-8", "replace"), is_mounted


class Runner:
    """Runs named test cases, each under a watchdog, and prints one line per case and
    "N passed, N failed" at the end."""

    def __init__(self, case_timeout=90):
        self.case_timeout = case_timeout
        self.passed = 0
        self.failed = []

    def run(self, name, fn, on_hang=None):
        timer = None
        if on_hang:
            # A hung FUSE call cannot be interrupted from here; killing jobsfs makes the
            # kernel fail it (ENOTCONN), so the case fails instead of blocking forever.
            timer = threading.Timer(self.case_timeout, on_hang)
            timer.daemon = True
            timer.start()
        t0 = time.monotonic()
        try:
            fn()
        except AssertionError as e:
            self._fail(name, str(e) or "assertion failed")
        except Exception as e:
            self._fail(name, "%s: %s" % (type(e).__name__, e))
        else:
            self.passed += 1
            print("ok   %-44s (%.2fs)" % (name, time.monotonic() - t0), flush=True)
        finally:
            if timer:
                timer.cancel()

    def _fail(self, name, reason):
        self.failed.append(name)
        lines = reason.strip().splitlines() or [""]
        print("FAIL %s: %s" % (name, lines[0]), flush=True)
        for line in lines[1:40]:
            print("     " + line, flush=True)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, len(self.failed)), flush=True)
        if self.failed:
            print("failed: " + ", ".join(self.failed), flush=True)
        return 1 if self.failed else 0


class PgServer:
    """A PostgreSQL server of the test's own: initdb and pg_ctl in a temporary folder,
    listening on 127.0.0.1 at a free port (and a Unix socket in the folder), stopped at
    exit. Run as an unprivileged user (PostgreSQL refuses root): the `postgres` user
    of Debian's package, or `jobsfs-pg`, created here, when running as root. Role
    `jobsfs` logs in over TCP with a password (scram-sha-256): PASSWORD, which tests
    hand to jobsfs through libpq's own PGPASSWORD or PGPASSFILE. Skips (77) only when
    the server's binaries are missing or it cannot start."""

    PASSWORD = "pg-secret-7f3c9e"

    def __init__(self):
        import glob
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            skip("PostgreSQL's server is not installed (package postgresql)")
        self.bindir = os.path.dirname(found[-1])
        self.user = None
        if os.geteuid() == 0:
            self.user = "postgres"
            if subprocess.run(["id", "-u", self.user], capture_output=True).returncode != 0:
                self.user = "jobsfs-pg"
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                                "/usr/sbin/nologin", self.user], capture_output=True)
        self.dir = tempfile.mkdtemp(prefix="jobsfs-pg-")
        os.chmod(self.dir, 0o755)
        if self.user:
            shutil.chown(self.dir, self.user)
        on_exit(lambda: shutil.rmtree(self.dir, ignore_errors=True))
        self.data = os.path.join(self.dir, "data")
        self.port = closed_port()
        pwfile = os.path.join(self.dir, "pw")
        with open(pwfile, "w") as f:
            f.write("admin-only-local\n")
        if self.user:
            shutil.chown(pwfile, self.user)
        r = self._as_pg([os.path.join(self.bindir, "initdb"), "-D", self.data, "-U", "admin",
                         "--auth-local=trust", "--auth-host=scram-sha-256",
                         "--pwfile=" + pwfile, "-E", "UTF8", "--locale=C.UTF-8"])
        if r.returncode != 0:
            skip("initdb failed: %s" % (r.stdout + r.stderr)[-500:])
        self.started = False
        on_exit(self.stop)
        self.start()
        self.psql("CREATE ROLE jobsfs LOGIN PASSWORD '%s'" % self.PASSWORD, db="postgres")
        self.psql("CREATE DATABASE jobsfs OWNER jobsfs", db="postgres")

    def _as_pg(self, argv, timeout=60):
        if self.user:
            argv = ["runuser", "-u", self.user, "--"] + argv
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              cwd=self.dir)

    def start(self):
        r = self._as_pg([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-l",
                         os.path.join(self.dir, "log"), "-o",
                         "-k %s -h 127.0.0.1 -p %d -c fsync=on" % (self.dir, self.port),
                         "start"])
        if r.returncode != 0:
            log = ""
            try:
                with open(os.path.join(self.dir, "log")) as f:
                    log = f.read()[-800:]
            except OSError:
                pass
            if not self.started:
                skip("PostgreSQL did not start: %s %s" % (r.stdout + r.stderr, log))
            raise RuntimeError("PostgreSQL did not start again: %s %s" % (r.stderr, log))
        self.started = True

    def stop(self):
        if not getattr(self, "started", False):
            return
        self._as_pg([os.path.join(self.bindir, "pg_ctl"), "-D", self.data, "-w", "-m",
                     "fast", "stop"])
        self.started = False

    def uri(self, db="jobsfs"):
        return "postgresql://jobsfs@127.0.0.1:%d/%s" % (self.port, db)

    def psql(self, sql, db="jobsfs"):
        """Rows of sql (as the superuser, over the Unix socket), '|'-separated."""
        r = subprocess.run(["psql", "-h", self.dir, "-p", str(self.port), "-U", "admin",
                            "-d", db, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError("psql %r: %s" % (sql, r.stderr.strip()))
        return [line.split("|") for line in r.stdout.splitlines() if line]

