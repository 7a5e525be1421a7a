#!/usr/bin/env python3
"""jobsfs mounted the way /etc/fstab and systemd mount it: mount(8) -> mount.fuse3 ->
`jobsfs URL MOUNTPOINT -o OPTIONS`, daemonized; and the environment libcurl honours.

What mount(8) does on the way (util-linux 2.38, libfuse 3.14), which these cases pin:
  - mount(8) runs the helper with PATH reset to the system's and HOME reset to the
    caller's home from passwd; other variables (JOBSFS_PASSWORD...) pass through;
  - mount(8) keeps _netdev, nofail, noauto, comment=, x-* to itself; mount.fuse3 drops
    user, users, nouser, auto, noauto, nofail, _netdev; `user=NAME` reaches jobsfs
    (mount(8) also reads it as its own "user" keyword: hence the username= alias).

mount(8) finds jobsfs only in the system's PATH, so the whole test runs in a private
mount namespace (unshare --mount) where a directory holding a link to the built jobsfs
is bind-mounted over /usr/local/sbin (or /usr/local/bin): nothing outside changes, and
every mount made here disappears with the namespace.

Cases: mount -t fuse.jobsfs -o user=,password_file= lists the jobs and umount ends the
daemon; the same from fstab lines (user=, and username= with systemd's keywords); a
password file others can read, a wrong password and allow_other alone are refused
with their one line; netrc_file= and JOBSFS_PASSWORD through mount(8); ~/.netrc found
through HOME; -d logs each HTTP exchange without a credential; CURL_CA_BUNDLE and
SSL_CERT_FILE verify a TLS cluster; http_proxy and no_proxy are followed.
Exit status: 0 all passed, 1 a case failed, 77 not root, no FUSE, no mount.fuse3.
"""

import base64
import http.server
import os
import re
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "jobs.json")
IN_NAMESPACE = "JOBSFS_FSTAB_NAMESPACE"
PASSWORD = "fst4b-S3cret"
CMD_TIMEOUT = 60
# mount(8)'s PATH for helpers, in order; a bind mount over one of the first two puts
# jobsfs first without hiding mount.fuse3 (in /usr/sbin, /sbin).
PATH_DIRS = ("/usr/local/sbin", "/usr/local/bin")


def preconditions():
    """Exit 77 with the reason when this cannot run here."""
    if os.geteuid() != 0:
        harness.skip("needs root: mount -t fuse.jobsfs (fstab) mounts as root")
    paths = harness.binaries_or_skip()
    helper = shutil.which("mount.fuse3") or next(
        (p for p in ("/sbin/mount.fuse3", "/usr/sbin/mount.fuse3") if os.access(p, os.X_OK)),
        None)
    if not helper:
        harness.skip("mount.fuse3 is not installed (package fuse3)")
    for tool in ("mount", "umount", "unshare"):
        if not shutil.which(tool):
            harness.skip("%s is not installed (package util-linux / mount)" % tool)
    return paths


def enter_namespace():
    """Re-run this script in a private mount namespace (once)."""
    if os.environ.get(IN_NAMESPACE) == "1":
        return
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        harness.skip("cannot make a private mount namespace: %s" % probe.stderr.strip())
    env = dict(os.environ, **{IN_NAMESPACE: "1"})
    sys.stdout.flush()
    os.execvpe("unshare", ["unshare", "--mount", "--propagation", "private",
                           sys.executable, os.path.abspath(__file__)], env)


def put_on_mount_path(jobsfs, tmp):
    """jobsfs first on mount(8)'s PATH, in this namespace only."""
    target = next((d for d in PATH_DIRS if os.path.isdir(d)), None)
    if not target:
        harness.skip("none of %s exists to bind jobsfs over" % ", ".join(PATH_DIRS))
    bindir = os.path.join(tmp, "bin")
    os.mkdir(bindir)
    os.symlink(os.path.abspath(jobsfs), os.path.join(bindir, "jobsfs"))
    r = subprocess.run(["mount", "--bind", bindir, target], capture_output=True, text=True)
    if r.returncode != 0:
        harness.skip("mount --bind %s %s: %s" % (bindir, target, r.stderr.strip()))
    harness.on_exit(lambda: subprocess.run(["umount", "-l", target], capture_output=True))


def write_secret(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text + "\n")
    os.chmod(path, mode)
    return path


def fstype(mountpoint):
    """The filesystem type and super options of what is mounted on mountpoint."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == mountpoint:
                rest = fields[fields.index("-") + 1:]
                return rest[0], rest[2], fields[5]
    return None


def daemons(mountpoint):
    """pids of the jobsfs processes serving mountpoint."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"jobsfs" and \
                os.fsencode(mountpoint) in argv:
            pids.append(int(pid))
    return pids


class Fstab:
    def __init__(self, jobsfs, sim_path, tmp):
        self.jobsfs = jobsfs
        self.sim_path = sim_path
        self.tmp = tmp
        self.passfile = write_secret(os.path.join(tmp, "cluster.pass"), PASSWORD)
        self.sim = harness.Sim(sim_path, ["--fixture", FIXTURE, "--user", "admin",
                                          "--password-file", self.passfile])
        auth = ("admin", PASSWORD)
        status, body, _ = self.sim.request("GET", "/api/cluster/jobs?fields=uuid,state",
                                           auth=auth)
        assert status == 200, "the simulator refuses its own credentials: %s" % status
        self.states = {r["uuid"]: r["state"] for r in self.sim.jobs()}
        self.n = 0

    def mountpoint(self):
        self.n += 1
        path = os.path.join(self.tmp, "mnt%d" % self.n)
        os.mkdir(path)
        harness.on_exit(lambda: self.force_unmount(path))
        return path

    @staticmethod
    def force_unmount(path):
        if harness.mounted(path):
            subprocess.run(["umount", "-l", path], capture_output=True)
        for pid in daemons(path):
            try:
                os.kill(pid, 9)
            except OSError:
                pass

    def mount(self, argv, env=None):
        full_env = dict(os.environ)
        full_env.pop("JOBSFS_PASSWORD", None)
        full_env.pop("JOBSFS_LOG", None)
        full_env.update(env or {})
        return subprocess.run(argv, capture_output=True, text=True, timeout=CMD_TIMEOUT,
                              env=full_env, stdin=subprocess.DEVNULL)

    def check_mounted_and_unmount(self, mp, r):
        """The mount made by mount(8) serves the cluster's jobs; umount ends jobsfs."""
        assert r.returncode == 0, "mount exited %d: %s" % (r.returncode, r.stderr + r.stdout)
        info = fstype(mp)
        assert info and info[0] == "fuse.jobsfs", "%s: mounted as %r" % (mp, info)
        assert info[2].split(",")[0] == "ro", "%s is not read-only: %s" % (mp, info[2])
        pids = daemons(mp)
        assert len(pids) == 1, "jobsfs daemons serving %s: %s" % (mp, pids)
        names = set(os.listdir(mp))
        assert names == set(self.states), "ls %s: %d names, the cluster has %d jobs" % (
            mp, len(names), len(self.states))
        uuid = sorted(self.states)[0]
        with open(os.path.join(mp, uuid, "state")) as f:
            assert f.read() == self.states[uuid] + "\n"
        u = subprocess.run(["umount", mp], capture_output=True, text=True)
        assert u.returncode == 0, "umount: %s" % u.stderr
        deadline = time.monotonic() + 15
        while daemons(mp) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not daemons(mp), "jobsfs still runs after umount %s" % mp
        assert not harness.mounted(mp)

    def refused(self, argv, mp, env=None):
        r = self.mount(argv, env)
        assert r.returncode != 0, "mount succeeded: %s" % " ".join(argv)
        assert not harness.mounted(mp), "%s got mounted" % mp
        assert not daemons(mp), "a jobsfs is left behind for %s" % mp
        return r.stderr + r.stdout

    # -----------------------------------------------------------------------------------

    def t_mount_user_password_file(self):
        mp = self.mountpoint()
        r = self.mount(["mount", "-t", "fuse.jobsfs", self.sim.url, mp, "-o",
                        "user=admin,password_file=" + self.passfile])
        self.check_mounted_and_unmount(mp, r)

    def fstab(self, options, mp):
        path = os.path.join(self.tmp, "fstab%d" % self.n)
        with open(path, "w") as f:
            f.write("# jobsfs test\n%s %s fuse.jobsfs %s 0 0\n" % (self.sim.url, mp, options))
        return path

    def t_fstab_user(self):
        """The line of issue 7: user=, password_file=, _netdev."""
        mp = self.mountpoint()
        tab = self.fstab("user=admin,password_file=%s,_netdev" % self.passfile, mp)
        self.check_mounted_and_unmount(mp, self.mount(["mount", "--fstab", tab, mp]))

    def t_fstab_username_systemd(self):
        """username= and every keyword systemd's fstab generator and mount(8) know."""
        mp = self.mountpoint()
        tab = self.fstab("username=admin,password_file=%s,_netdev,nofail,noauto,"
                         "x-systemd.automount,x-systemd.requires=network-online.target,"
                         "comment=jobs,ttl=3" % self.passfile, mp)
        self.check_mounted_and_unmount(mp, self.mount(["mount", "--fstab", tab, mp]))

    def t_fleet_config(self):
        """A fleet: `CONFIG DIR fuse.jobsfs _netdev,nofail` (issue 15), the source a
        config file; its cluster's directory holds the jobs."""
        mp = self.mountpoint()
        conf = os.path.join(self.tmp, "fleet.conf")
        with open(conf, "w") as f:
            f.write("[defaults]\nhistory = off\n[c1]\nurl = %s\nusername = admin\n"
                    "password_file = %s\n" % (self.sim.url, self.passfile))
        os.chmod(conf, 0o600)
        path = os.path.join(self.tmp, "fstab-fleet")
        with open(path, "w") as f:
            f.write("%s %s fuse.jobsfs _netdev,nofail 0 0\n" % (conf, mp))
        r = self.mount(["mount", "--fstab", path, mp])
        assert r.returncode == 0, "mount exited %d: %s" % (r.returncode, r.stderr + r.stdout)
        try:
            assert os.listdir(mp) == ["c1"], os.listdir(mp)
            assert set(os.listdir(os.path.join(mp, "c1"))) == set(self.states)
        finally:
            u = subprocess.run(["umount", mp], capture_output=True, text=True)
        assert u.returncode == 0, u.stderr
        deadline = time.monotonic() + 15
        while daemons(mp) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not daemons(mp), "jobsfs still runs after umount %s" % mp

    def t_password_file_others_refused(self):
        mp = self.mountpoint()
        loose = write_secret(os.path.join(self.tmp, "loose.pass"), PASSWORD, 0o644)
        out = self.refused(["mount", "-t", "fuse.jobsfs", self.sim.url, mp, "-o",
                            "user=admin,password_file=" + loose], mp)
        line = "password file %s is readable by group or others (mode 0644): chmod 600 it" \
            % loose
        assert line in out, "expected %r in %r" % (line, out)
        assert PASSWORD not in out

    def t_wrong_password_refused(self):
        mp = self.mountpoint()
        wrong = write_secret(os.path.join(self.tmp, "wrong.pass"), "not-" + PASSWORD)
        out = self.refused(["mount", "-t", "fuse.jobsfs", self.sim.url, mp, "-o",
                            "username=admin,password_file=" + wrong], mp)
        assert "authentication failed (HTTP 401)" in out, out
        assert PASSWORD not in out

    def t_unknown_option(self):
        """A typo in an fstab line: mount fails with jobsfs's one line and its hint."""
        mp = self.mountpoint()
        tab = self.fstab("username=admin,password_file=%s,_netdev,tll=5" % self.passfile, mp)
        out = self.refused(["mount", "--fstab", tab, mp], mp)
        assert "jobsfs: unknown option -o tll=5; see jobsfs -h" in out, out

    def t_allow_other(self):
        mp = self.mountpoint()
        opts = "user=admin,password_file=%s,allow_other" % self.passfile
        out = self.refused(["mount", "-t", "fuse.jobsfs", self.sim.url, mp, "-o", opts], mp)
        assert "allow_other needs -o default_permissions" in out, out
        r = self.mount(["mount", "-t", "fuse.jobsfs", self.sim.url, mp, "-o",
                        opts + ",default_permissions"])
        assert r.returncode == 0, r.stderr
        supers = fstype(mp)[1].split(",")
        assert "allow_other" in supers and "default_permissions" in supers, supers
        self.check_mounted_and_unmount(mp, r)

    def t_netrc_file(self):
        mp = self.mountpoint()
        netrc = write_secret(os.path.join(self.tmp, "netrc"),
                             "machine 127.0.0.1 login admin password " + PASSWORD)
        r = self.mount(["mount", "-t", "fuse.jobsfs", self.sim.url, mp, "-o",
                        "netrc_file=" + netrc])
        self.check_mounted_and_unmount(mp, r)

    def t_jobsfs_password_env(self):
        mp = self.mountpoint()
        r = self.mount(["mount", "-t", "fuse.jobsfs", self.sim.url, mp, "-o", "username=admin"],
                       env={"JOBSFS_PASSWORD": PASSWORD})
        self.check_mounted_and_unmount(mp, r)

    def t_home_netrc(self):
        """~/.netrc, found through HOME (mount(8) resets HOME: jobsfs run directly)."""
        mp = self.mountpoint()
        home = os.path.join(self.tmp, "home")
        os.mkdir(home, 0o700)
        write_secret(os.path.join(home, ".netrc"),
                     "machine 127.0.0.1\n  login admin\n  password " + PASSWORD)
        for options in ((), ("user=admin",)):
            m = harness.Mount(self.jobsfs, self.sim.url, mp, options, env={"HOME": home})
            try:
                assert set(os.listdir(mp)) == set(self.states)
            finally:
                assert m.unmount() == 0, m.stderr()
        # Without it: refused, the way a wrong password is.
        os.unlink(os.path.join(home, ".netrc"))
        code, err, mounted = harness.run_jobsfs_once(self.jobsfs, self.sim.url, mp,
                                                     env={"HOME": home})
        assert code == 1 and not mounted and "HTTP 401" in err, (code, err)

    def t_debug_log(self):
        """-d: each HTTP exchange one line (path, status, bytes, time, connection);
        never the password or an Authorization header. Without it: no debug line."""
        mp = self.mountpoint()
        opts = ["user=admin", "password_file=" + self.passfile]
        # Small pages: the listing's pages follow one another on one connection.
        m = harness.Mount(self.jobsfs, self.sim.url, mp, opts + ["debug", "page_size=7"])
        try:
            assert set(os.listdir(mp)) == set(self.states)
            uuid = sorted(self.states)[0]
            with open(os.path.join(mp, uuid, "state")) as f:
                f.read()
        finally:
            assert m.unmount() == 0, m.stderr()
        m.errlog.seek(0)
        log = m.errlog.read().decode("utf-8", "replace")
        exchange = re.compile(r"^jobsfs: debug: \S+ attempt: GET (/api/cluster/jobs\S*) -> "
                              r"200, (\d+) bytes, [\d.]+ ms, (new|reused) connection$", re.M)
        seen = exchange.findall(log)
        assert len(seen) >= 2, "fewer than 2 exchanges logged: %r" % log[-1500:]
        assert any(c == "new" for _, _, c in seen) and any(c == "reused" for _, _, c in seen), \
            "connections logged: %s" % sorted({c for _, _, c in seen})
        assert all(int(n) > 0 for _, n, _ in seen)
        basic = base64.b64encode(("admin:" + PASSWORD).encode()).decode()
        for secret in (PASSWORD, basic, "Authorization", "authorization"):
            assert secret not in log, "the -d log holds %r" % secret
        quiet = harness.Mount(self.jobsfs, self.sim.url, mp, opts)
        try:
            os.listdir(mp)
        finally:
            assert quiet.unmount() == 0
        assert "debug:" not in quiet.stderr(), quiet.stderr()

    def t_ca_bundle_env(self):
        """CURL_CA_BUNDLE, else SSL_CERT_FILE, name the CA when cacert= is not given."""
        if not shutil.which("openssl"):
            raise AssertionError("openssl is not installed (package openssl)")
        cert = os.path.join(self.tmp, "sim.pem")
        key = os.path.join(self.tmp, "sim.key")
        r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"],
                           capture_output=True, text=True, timeout=CMD_TIMEOUT)
        assert r.returncode == 0, r.stderr
        sim = harness.Sim(self.sim_path, ["--fixture", FIXTURE, "--tls-cert", cert,
                                          "--tls-key", key])
        assert sim.url.startswith("https://"), sim.url
        mp = self.mountpoint()
        system = "/nonexistent/ca-bundle.crt"  # neither variable names our CA
        for env in ({"CURL_CA_BUNDLE": cert, "SSL_CERT_FILE": system},
                    {"CURL_CA_BUNDLE": "", "SSL_CERT_FILE": cert}):
            m = harness.Mount(self.jobsfs, sim.url, mp, (), env=env)
            try:
                assert set(os.listdir(mp)) == set(self.states)
            finally:
                assert m.unmount() == 0, m.stderr()
        for env in ({"CURL_CA_BUNDLE": "", "SSL_CERT_FILE": ""},
                    {"CURL_CA_BUNDLE": system, "SSL_CERT_FILE": cert}):
            code, err, mounted = harness.run_jobsfs_once(self.jobsfs, sim.url, mp, env=env)
            assert code == 1 and not mounted, "mounted with %r: %s" % (env, err)
        sim.stop()

    def t_proxy_env(self):
        """http_proxy is followed (http:// cluster; https_proxy is the same for https),
        no_proxy bypasses it."""
        proxy = Proxy()
        mp = self.mountpoint()
        opts = ["user=admin", "password_file=" + self.passfile]
        env = {"http_proxy": proxy.url, "HTTP_PROXY": "", "no_proxy": "", "NO_PROXY": ""}
        m = harness.Mount(self.jobsfs, self.sim.url, mp, opts, env=env)
        try:
            assert set(os.listdir(mp)) == set(self.states)
        finally:
            assert m.unmount() == 0, m.stderr()
        through = list(proxy.paths)
        assert any(p.startswith(self.sim.url + "/api/cluster/jobs") for p in through), \
            "the proxy saw %r" % through[:5]
        proxy.paths.clear()
        env["no_proxy"] = "127.0.0.1"
        m = harness.Mount(self.jobsfs, self.sim.url, mp, opts, env=env)
        try:
            assert set(os.listdir(mp)) == set(self.states)
        finally:
            assert m.unmount() == 0, m.stderr()
        assert not proxy.paths, "no_proxy=127.0.0.1, yet the proxy saw %r" % proxy.paths[:5]
        proxy.stop()

    def t_syslog_when_daemonized(self):
        """Once detached, jobsfs logs to syslog: "mounted" at info, and a failure as one
        line with the request, the HTTP status, the cluster's code and message. The
        syslog socket is ours: /dev is a tmpfs in this namespace (the devices jobsfs
        needs bound into it), /dev/log a datagram socket read here."""
        dev = DevWithLog(self.tmp)
        try:
            mp = self.mountpoint()
            r = self.mount(["mount", "-t", "fuse.jobsfs", self.sim.url, mp, "-o",
                            "username=admin,password_file=%s,loglevel=info" % self.passfile])
            assert r.returncode == 0, r.stderr
            try:
                os.listdir(os.path.join(mp, "foo=bar"))
            except OSError as e:
                assert e.errno == 22, "ls foo=bar: %s" % e
            else:
                raise AssertionError("ls foo=bar succeeded")
            self.check_mounted_and_unmount(mp, r)
            lines = dev.lines(until=lambda ls: any("Unexpected argument" in x for x in ls))
        finally:
            dev.close()
        tagged = [x for x in lines if re.match(r"<\d+>.*jobsfs\[\d+\]: ", x)]
        assert any(x.endswith("jobsfs[%s]: mounted %s" % (x.split("[")[1].split("]")[0], mp))
                   for x in tagged), "no 'mounted' line in syslog: %r" % lines
        failure = [x for x in tagged if "GET /api/cluster/jobs?foo=bar" in x]
        assert len(failure) == 1, "failure lines in syslog: %r" % lines
        for part in ("/foo=bar: ", "Invalid argument", "HTTP 400", "ONTAP code 262179",
                     "Unexpected argument"):
            assert part in failure[0], "%r not in %r" % (part, failure[0])
        # <27> = daemon.err: the facility and the level.
        assert failure[0].startswith("<27>"), failure[0]
        for x in lines:
            assert PASSWORD not in x

    def cases(self):
        return [
            ("mount -t fuse.jobsfs -o user=,password_file=", self.t_mount_user_password_file),
            ("fstab: user=, password_file=, _netdev", self.t_fstab_user),
            ("fstab: username=, nofail, noauto, x-systemd.*", self.t_fstab_username_systemd),
            ("fstab: a fleet config as the source", self.t_fleet_config),
            ("mount: password file others can read", self.t_password_file_others_refused),
            ("mount: wrong password", self.t_wrong_password_refused),
            ("fstab: unknown option", self.t_unknown_option),
            ("mount: allow_other needs default_permissions", self.t_allow_other),
            ("mount: netrc_file=", self.t_netrc_file),
            ("mount: JOBSFS_PASSWORD", self.t_jobsfs_password_env),
            ("~/.netrc through HOME", self.t_home_netrc),
            ("-d: HTTP exchanges, no credentials", self.t_debug_log),
            ("CURL_CA_BUNDLE / SSL_CERT_FILE", self.t_ca_bundle_env),
            ("http_proxy / no_proxy", self.t_proxy_env),
            ("daemonized: syslog", self.t_syslog_when_daemonized),
        ]


class DevWithLog:
    """A tmpfs over /dev (this namespace only) with the real device nodes bound into it
    and /dev/log a datagram socket: what syslog(3) writes to, read here."""

    DEVICES = ("fuse", "null", "zero", "full", "random", "urandom", "tty")

    def __init__(self, tmp):
        self.real = os.path.join(tmp, "realdev")
        os.mkdir(self.real)
        self.sock = None
        self.mounts = []
        self._mount("--rbind", "/dev", self.real)
        self._mount("-t", "tmpfs", "-o", "mode=755", "jobsfs-test-dev", "/dev")
        for name in self.DEVICES:
            if os.path.exists(os.path.join(self.real, name)):
                open(os.path.join("/dev", name), "w").close()
                self._mount("--bind", os.path.join(self.real, name), os.path.join("/dev", name))
        for name in ("pts", "shm"):
            if os.path.isdir(os.path.join(self.real, name)):
                os.mkdir(os.path.join("/dev", name))
                self._mount("--rbind", os.path.join(self.real, name),
                            os.path.join("/dev", name))
        os.symlink("/proc/self/fd", "/dev/fd")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("/dev/log")
        self.sock.settimeout(0.2)
        self.received = []

    def _mount(self, *args):
        r = subprocess.run(["mount", *args], capture_output=True, text=True)
        assert r.returncode == 0, "mount %s: %s" % (" ".join(args), r.stderr)
        self.mounts.append(args[-1])

    def lines(self, until, timeout=10):
        deadline = time.monotonic() + timeout
        while not until(self.received) and time.monotonic() < deadline:
            try:
                self.received.append(self.sock.recv(65536).decode("utf-8", "replace"))
            except socket.timeout:
                pass
        return list(self.received)

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None
        for target in reversed(self.mounts):  # /dev last but one, realdev last
            if target in ("/dev", self.real):
                continue
            subprocess.run(["umount", "-l", target], capture_output=True)
        for target in ("/dev", self.real):
            if target in self.mounts:
                subprocess.run(["umount", "-l", target], capture_output=True)
        self.mounts = []


class Proxy:
    """A forwarding HTTP proxy on a free port (GET only), recording the URLs asked."""

    def __init__(self):
        paths = self.paths = []

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                paths.append(self.path)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("proxy-connection", "connection", "host")}
                req = urllib.request.Request(self.path, headers=headers)
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                try:
                    with opener.open(req, timeout=30) as r:
                        status, body, hdrs = r.status, r.read(), r.headers
                except urllib.error.HTTPError as e:
                    status, body, hdrs = e.code, e.read(), e.headers
                self.send_response(status)
                for k, v in hdrs.items():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        harness.on_exit(self.stop)

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def main():
    jobsfs, sim = preconditions()
    enter_namespace()
    tmp = harness.tempdir("jobsfs-fstab-")
    os.chmod(tmp, 0o755)
    put_on_mount_path(jobsfs, tmp)
    runner = harness.Runner(case_timeout=120)
    session = Fstab(jobsfs, sim, tmp)

    def on_hang():
        for n in range(1, session.n + 1):
            for pid in daemons(os.path.join(tmp, "mnt%d" % n)):
                os.kill(pid, 9)

    for name, fn in session.cases():
        runner.run(name, fn, on_hang=on_hang)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
