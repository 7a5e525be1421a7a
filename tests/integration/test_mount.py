#!/usr/bin/env python3
"""Real-mount tests of jobsfs against ontap-sim.

Every byte read through the mount is compared with what the simulator serves:
  - a fixture session (tests/integration/fixtures/jobs.json: every job shape), where
    names, sizes, modes, times, file contents, views and errors are checked exactly;
  - a scale session (--jobs N, workload paused): listings over many pages, parallel
    readers, jobs created, changed and deleted while mounted, cluster faults;
  - a hostile session (uuids and field names that are not safe file names);
  - lifecycle cases: retention (expiry), a cluster that goes away;
  - credential and reachability cases, where jobsfs must refuse to mount.
Exit status: 0 all passed, 1 a case failed, 77 FUSE or the binaries are missing.
"""

import datetime
import errno
import grp
import http.server
import io
import json
import os
import pwd
import stat
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "jobs.json")
C_ENV = dict(os.environ, LC_ALL="C")  # byte semantics for ls, grep, find, sort
CMD_TIMEOUT = 60


# ---------------------------------------------------------------------------------------
# The expected tree, derived from a job record as the simulator holds it.

def strip_links(value):
    """The record without `_links` anywhere (jobsfs never shows them as files)."""
    if isinstance(value, dict):
        return {k: strip_links(v) for k, v in value.items() if k != "_links"}
    if isinstance(value, list):
        return [strip_links(v) for v in value]
    return value


def scalar_text(value):
    if value is None:
        return b"\n"
    if value is True:
        return b"true\n"
    if value is False:
        return b"false\n"
    if isinstance(value, int):
        return b"%d\n" % value
    if isinstance(value, str):
        return value.encode("utf-8") + b"\n"
    raise ValueError("no contract for the text of %r" % (value,))


def expected_tree(record):
    """(files, dirs) of one job directory: files maps a relative path to its bytes
    (job.json excluded), dirs maps a relative path ('' = the job dir) to its names."""
    files, dirs = {}, {}

    def visit(rel, value):
        items = value.items() if isinstance(value, dict) else \
            ((str(i), v) for i, v in enumerate(value))
        names = set()
        for name, child in items:
            if name == "_links":
                continue
            names.add(name)
            path = rel + "/" + name if rel else name
            if isinstance(child, (dict, list)):
                visit(path, child)
            else:
                files[path] = scalar_text(child)
        dirs[rel] = names

    visit("", record)
    dirs[""].add("job.json")
    return files, dirs


def iso_epoch(text):
    return int(datetime.datetime.fromisoformat(text).timestamp())


def job_time(record):
    return iso_epoch(record.get("end_time") or record["start_time"])


def read(path):
    with open(path, "rb") as f:
        return f.read()


def run(argv, ok=(0,), **kw):
    """Run a command; fail with its stderr unless its status is in ok."""
    r = subprocess.run(argv, capture_output=True, timeout=CMD_TIMEOUT, env=C_ENV, **kw)
    assert r.returncode in ok, "%s exited %d: %s" % (
        " ".join(argv), r.returncode, r.stderr.decode("utf-8", "replace")[:1500])
    return r


def set_diff(name, got, want):
    """Assert two sets are equal, saying what is missing and what is extra."""
    got, want = set(got), set(want)
    if got == want:
        return
    missing, extra = sorted(want - got), sorted(got - want)
    raise AssertionError("%s: %d expected, %d got; missing %s; unexpected %s" % (
        name, len(want), len(got), missing[:8], extra[:8]))


def expect_errno(fn, allowed, what):
    try:
        fn()
    except OSError as e:
        assert e.errno in allowed, "%s: errno %s (%s), want %s" % (
            what, errno.errorcode.get(e.errno, e.errno), e.strerror,
            "/".join(errno.errorcode[a] for a in allowed))
        return
    raise AssertionError("%s: succeeded, want %s" % (
        what, "/".join(errno.errorcode[a] for a in allowed)))


# ---------------------------------------------------------------------------------------
# Fixture session: exact contents.

class FixtureSession:
    def __init__(self, jobsfs, sim_path, tmp):
        self.tmp = tmp
        self.mp = os.path.join(tmp, "mnt")
        os.mkdir(self.mp)
        self.sim = harness.Sim(sim_path, ["--fixture", FIXTURE])
        self.records = {r["uuid"]: r for r in self.sim.jobs()}
        self.trees = {u: expected_tree(r) for u, r in self.records.items()}
        # A small page size so the root listing and the views span several pages.
        self.mount = harness.Mount(jobsfs, self.sim.url, self.mp,
                                   ["ttl=2", "page_size=7", "timeout=10"])

    def p(self, *parts):
        return os.path.join(self.mp, *parts)

    def alive(self):
        rc = self.mount.proc.poll()
        assert rc is None, "jobsfs is gone (exit %s): %s" % (rc, self.mount.stderr())

    def cases(self):
        return [
            ("sim serves the fixture", self.t_sim_serves_fixture),
            ("root ls == sim uuids", self.t_root_listing),
            ("root ls -l", self.t_root_ls_l),
            ("stat: modes sizes owner mtimes", self.t_stat_tree),
            ("readdir of every directory", self.t_readdir_tree),
            ("stat(1) of every file", self.t_stat_command),
            ("cat every field of every job", self.t_cat_all),
            ("job.json == record", self.t_job_json),
            ("reads at offsets (long message)", self.t_partial_reads),
            ("attributes stable across ttl", self.t_stable),
            ("grep -r over messages", self.t_grep),
            ("find -newermt", self.t_find_newermt),
            ("tar -cf - MOUNT", self.t_tar),
            ("cp -a + diff -r", self.t_cp_diff),
            ("views: every query operator", self.t_views_operators),
            ("views: chained (AND)", self.t_views_chained),
            ("views: order_by + max_records", self.t_views_order),
            ("views: jobs in views are full dirs", self.t_view_job_dirs),
            ("views are not listed in the root", self.t_views_unlisted),
            ("views: rejected filter fails", self.t_views_rejected),
            ("EROFS on every write", self.t_erofs),
            ("EROFS from the shell tools", self.t_erofs_shell),
            ("ENOENT for unknown names", self.t_enoent),
            ("names of no job reach no other endpoint", self.t_names_reach_no_other_endpoint),
        ]

    # -- the simulator itself, so the other cases are not vacuous ----------------------
    def t_sim_serves_fixture(self):
        with open(FIXTURE, encoding="utf-8") as f:
            fixture = {r["uuid"]: strip_links(r) for r in json.load(f)["records"]}
        held = {u: strip_links(r) for u, r in self.records.items()}
        set_diff("/_sim/jobs uuids vs fixture", held, fixture)
        for u in fixture:
            assert held[u] == fixture[u], "/_sim/jobs %s differs from the fixture:\n%s\n%s" % (
                u, json.dumps(held[u], sort_keys=True), json.dumps(fixture[u], sort_keys=True))
        api, err = self.sim.walk([("fields", "*"), ("max_records", "7")])
        assert err is None, "GET /api/cluster/jobs?fields=*: %r" % (err,)
        served = {r["uuid"]: strip_links(r) for r in api}
        assert len(served) == len(api), "the sim's walk returned a job twice"
        set_diff("/api walk uuids vs fixture", served, fixture)
        for u in fixture:
            assert served[u] == fixture[u], "GET /api/cluster/jobs?fields=* %s differs:\n%s\n%s" % (
                u, json.dumps(served[u], sort_keys=True), json.dumps(fixture[u], sort_keys=True))

    # -- listing and attributes ----------------------------------------------------------
    def t_root_listing(self):
        names = os.listdir(self.mp)
        assert len(names) == len(set(names)), "readdir returned duplicates: %s" % sorted(
            n for n in names if names.count(n) > 1)[:5]
        set_diff("os.listdir(MOUNT)", names, self.records)
        out = run(["ls", "-1", self.mp]).stdout.decode().split("\n")[:-1]
        assert out == sorted(self.records), "ls MOUNT: %r..., want %r..." % (
            out[:3], sorted(self.records)[:3])

    def t_root_ls_l(self):
        out = run(["ls", "-l", "--time-style=+%s", self.mp]).stdout.decode().splitlines()
        assert out and out[0].startswith("total "), "ls -l: no total line: %r" % out[:1]
        user = pwd.getpwuid(os.getuid()).pw_name
        group = grp.getgrgid(os.getgid()).gr_name
        seen = set()
        for line in out[1:]:
            f = line.split()
            assert len(f) == 7, "ls -l: unexpected line %r" % line
            mode, _, owner, grp_, _, mtime, name = f
            assert name in self.records, "ls -l lists %r, not a sim uuid" % name
            assert mode == "dr-xr-xr-x", "ls -l %s: mode %s, want dr-xr-xr-x" % (name, mode)
            assert (owner, grp_) == (user, group), "ls -l %s: owner %s:%s, want %s:%s" % (
                name, owner, grp_, user, group)
            want = job_time(self.records[name])
            assert int(mtime) == want, "ls -l %s: mtime %s, want %d (%s)" % (
                name, mtime, want, self.records[name].get("end_time") or
                self.records[name]["start_time"])
            seen.add(name)
        set_diff("ls -l MOUNT names", seen, self.records)

    def t_stat_tree(self):
        uid, gid = os.getuid(), os.getgid()
        for u, (files, dirs) in sorted(self.trees.items()):
            t = job_time(self.records[u])
            for rel in dirs:
                st = os.lstat(self.p(u, rel) if rel else self.p(u))
                assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o555, \
                    "%s/%s: mode %o, want dir 0555" % (u, rel, st.st_mode)
                assert (st.st_uid, st.st_gid) == (uid, gid), "%s/%s: owner %d:%d, want %d:%d" % (
                    u, rel, st.st_uid, st.st_gid, uid, gid)
                if rel == "":
                    assert int(st.st_mtime) == t, "%s: mtime %d, want %d" % (u, st.st_mtime, t)
            for rel, data in list(files.items()) + [("job.json", None)]:
                st = os.lstat(self.p(u, rel))
                assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o444, \
                    "%s/%s: mode %o, want file 0444" % (u, rel, st.st_mode)
                assert (st.st_uid, st.st_gid) == (uid, gid), "%s/%s: owner %d:%d" % (
                    u, rel, st.st_uid, st.st_gid)
                if data is not None:
                    assert st.st_size == len(data), "%s/%s: st_size %d, want %d (%r)" % (
                        u, rel, st.st_size, len(data), data[:60])
                assert int(st.st_mtime) == t, "%s/%s: mtime %d, want %d" % (
                    u, rel, st.st_mtime, t)

    def t_readdir_tree(self):
        for u, (_, dirs) in sorted(self.trees.items()):
            for rel, names in dirs.items():
                got = os.listdir(self.p(u, rel) if rel else self.p(u))
                set_diff("readdir %s/%s" % (u, rel), got, names)

    def t_stat_command(self):
        paths, want = [], []
        user = pwd.getpwuid(os.getuid()).pw_name
        for u, (files, _) in sorted(self.trees.items()):
            t = job_time(self.records[u])
            for rel, data in sorted(files.items()):
                paths.append(self.p(u, rel))
                want.append("%s|%d|444|%s|%d|regular file" % (paths[-1], len(data), user, t))
        out = run(["stat", "-c", "%n|%s|%a|%U|%Y|%F"] + paths).stdout.decode().splitlines()
        for got, exp in zip(out, want):
            assert got == exp, "stat: %r, want %r" % (got, exp)
        assert len(out) == len(want), "stat printed %d lines for %d files" % (len(out), len(want))

    # -- contents --------------------------------------------------------------------------
    def t_cat_all(self):
        for u, (files, _) in sorted(self.trees.items()):
            rels = sorted(files)
            for rel in rels:
                got = read(self.p(u, rel))
                assert got == files[rel], "read %s/%s: %r, want %r" % (
                    u, rel, got[:200], files[rel][:200])
            out = run(["cat"] + [self.p(u, rel) for rel in rels]).stdout
            want = b"".join(files[rel] for rel in rels)
            assert out == want, "cat %s/*: %d bytes, want %d" % (u, len(out), len(want))

    def t_job_json(self):
        for u, rec in sorted(self.records.items()):
            data = read(self.p(u, "job.json"))
            size = os.stat(self.p(u, "job.json")).st_size
            assert size == len(data), "%s/job.json: st_size %d, read %d bytes" % (u, size, len(data))
            assert data.endswith(b"}\n"), "%s/job.json does not end with a newline: %r" % (
                u, data[-20:])
            assert data.count(b"\n") > 3, "%s/job.json is not pretty-printed: %r" % (u, data[:80])
            got = json.loads(data)
            assert strip_links(got) == strip_links(rec), "%s/job.json differs from the record:\n%s\n%s" % (
                u, json.dumps(strip_links(got), sort_keys=True)[:600],
                json.dumps(strip_links(rec), sort_keys=True)[:600])

    def t_partial_reads(self):
        longest = max(((u, rel, d) for u, (fs, _) in self.trees.items() for rel, d in fs.items()),
                      key=lambda x: len(x[2]))
        u, rel, data = longest
        assert len(data) > 4096 + 1000, "fixture has no long field (longest %d)" % len(data)
        fd = os.open(self.p(u, rel), os.O_RDONLY)
        try:
            for off, n in [(0, 1), (1, 4095), (4095, 2), (4096, 4096), (len(data) - 1, 10),
                           (len(data), 10), (len(data) + 100, 10), (123, len(data))]:
                got = os.pread(fd, n, off)
                assert got == data[off:off + n], "pread(%s/%s, %d, %d): %r, want %r" % (
                    u, rel, n, off, got[:40], data[off:off + n][:40])
            chunks = []
            while True:  # a sequential reader with an odd buffer size
                c = os.read(fd, 1000)
                if not c:
                    break
                chunks.append(c)
        finally:
            os.close(fd)
        assert b"".join(chunks) == data, "sequential 1000-byte reads differ"

    def t_stable(self):
        """Times, sizes and modes do not move while the jobs do not change, even
        once the ttl (2s) has passed and jobsfs has asked the cluster again."""
        def snapshot():
            out = {}
            for root, dirs, files in os.walk(self.mp):
                for n in dirs + files:
                    st = os.lstat(os.path.join(root, n))
                    out[os.path.join(root, n)] = (st.st_mtime, st.st_size, st.st_mode)
            return out
        before = snapshot()
        time.sleep(2.5)
        os.listdir(self.mp)
        after = snapshot()
        set_diff("paths after ttl", after, before)
        moved = [(p, before[p], after[p]) for p in before if before[p] != after[p]]
        assert not moved, "%d entries changed (mtime, size, mode), e.g. %s" % (
            len(moved), moved[:3])

    def t_grep(self):
        patterns = ["entry doesn't exist", "quota", "slow link", "données", "容量不足", "Cutover"]
        for pat in patterns:
            r = run(["grep", "-rl", "--", pat, self.mp], ok=(0, 1))
            got = set(r.stdout.decode("utf-8").splitlines())
            want = set()
            needle = pat.encode("utf-8")
            for u, (files, _) in self.trees.items():
                want |= {self.p(u, rel) for rel, d in files.items() if needle in d}
                # job.json: already proven equal to the record as JSON; whether it holds
                # the text verbatim depends on its escaping, so ask the file itself.
                text = read(self.p(u, "job.json"))
                if needle in text:
                    want.add(self.p(u, "job.json"))
                elif pat.isascii() and needle in json.dumps(strip_links(self.records[u])).encode():
                    raise AssertionError("%s/job.json lacks %r though the record holds it" % (u, pat))
            assert want, "fixture has nothing matching %r" % pat
            set_diff("grep -rl %r MOUNT" % pat, got, want)

    def t_find_newermt(self):
        times = sorted(set(job_time(r) for r in self.records.values()))
        cuts = [times[len(times) // 3], times[2 * len(times) // 3] - 1, times[0] - 1]
        # -newermt is strict: also check a cut equal to a job's own time.
        for t in cuts:
            out = run(["find", self.mp, "-mindepth", "1", "-maxdepth", "1",
                       "-newermt", "@%d" % t]).stdout.decode().splitlines()
            newer = {u for u, r in self.records.items() if job_time(r) > t}
            set_diff("find MOUNT -maxdepth 1 -newermt @%d" % t, out, {self.p(u) for u in newer})
            out = run(["find", self.mp, "-type", "f", "-newermt", "@%d" % t]).stdout
            want = {self.p(u, rel) for u in newer for rel in list(self.trees[u][0]) + ["job.json"]}
            set_diff("find MOUNT -type f -newermt @%d" % t, out.decode().splitlines(), want)
        out = run(["find", self.mp, "-type", "d"]).stdout.decode().splitlines()
        want = {self.mp} | {self.p(u, rel) if rel else self.p(u)
                            for u, (_, dirs) in self.trees.items() for rel in dirs}
        set_diff("find MOUNT -type d", out, want)

    def t_tar(self):
        parent, base = os.path.split(self.mp)
        r = subprocess.run(["tar", "-C", parent, "-cf", "-", base], capture_output=True,
                           timeout=CMD_TIMEOUT, env=C_ENV)
        err = r.stderr.decode("utf-8", "replace")
        assert "changed as we read it" not in err, "tar: %s" % err[:800]
        assert r.returncode == 0, "tar exited %d: %s" % (r.returncode, err[:800])
        members = {}
        with tarfile.open(fileobj=io.BytesIO(r.stdout)) as tar:
            for m in tar.getmembers():
                members[m.name] = (m, tar.extractfile(m).read() if m.isfile() else None)
        want_files, want_dirs = {}, {base}
        for u, (files, dirs) in self.trees.items():
            want_files.update({"%s/%s/%s" % (base, u, rel): d for rel, d in files.items()})
            want_dirs |= {"%s/%s/%s" % (base, u, rel) if rel else "%s/%s" % (base, u)
                          for rel in dirs}
        got_files = {n for n, (m, _) in members.items() if m.isfile()}
        got_dirs = {n.rstrip("/") for n, (m, _) in members.items() if m.isdir()}
        set_diff("tar directories", got_dirs, want_dirs)
        set_diff("tar files", got_files,
                 set(want_files) | {"%s/%s/job.json" % (base, u) for u in self.records})
        for name, data in want_files.items():
            m, got = members[name]
            assert got == data, "tar %s: %r, want %r" % (name, got[:80], data[:80])
            u = name.split("/")[1]
            assert m.mtime == job_time(self.records[u]), "tar %s: mtime %d, want %d" % (
                name, m.mtime, job_time(self.records[u]))
            assert m.mode & 0o777 == 0o444, "tar %s: mode %o" % (name, m.mode)

    def t_cp_diff(self):
        dest = os.path.join(self.tmp, "copy")
        run(["cp", "-a", self.mp, dest])
        r = subprocess.run(["diff", "-r", self.mp, dest], capture_output=True,
                           timeout=CMD_TIMEOUT, env=C_ENV)
        assert r.returncode == 0, "diff -r MOUNT copy exited %d: %s%s" % (
            r.returncode, r.stdout.decode("utf-8", "replace")[:800],
            r.stderr.decode("utf-8", "replace")[:400])
        set_diff("cp -a copy", os.listdir(dest), self.records)
        for u, (files, _) in self.trees.items():
            t = job_time(self.records[u])
            assert int(os.stat(os.path.join(dest, u)).st_mtime) == t, \
                "cp -a %s: directory mtime not the job's time" % u
            for rel, data in files.items():
                assert read(os.path.join(dest, u, rel)) == data, "copy of %s/%s differs" % (u, rel)

    # -- query views -------------------------------------------------------------------------
    def view_matches(self, segments, sim_params, first_page_only=False):
        """ls MOUNT/seg1/seg2/... == the uuids of the sim's own answer to sim_params."""
        path = self.p(*segments)
        if first_page_only:
            status, body, _ = self.sim.request(
                "GET", "/api/cluster/jobs?" + "&".join(
                    "%s=%s" % (k, urllib.parse.quote(v, safe="")) for k, v in sim_params))
            assert status == 200, "the sim rejected %r: HTTP %s %r" % (sim_params, status, body)
            want = [r["uuid"] for r in body["records"]]
        else:
            records, err = self.sim.walk(sim_params)
            assert err is None, "the sim rejected %r: HTTP %s %r" % (sim_params, err[0], err[1])
            want = [r["uuid"] for r in records]
        try:
            got = os.listdir(path)
        except OSError as e:
            raise AssertionError("ls %r: %s (the sim answers %d jobs)" % (
                "/".join(segments), e.strerror, len(want)))
        set_diff("ls MOUNT/%s vs GET ?%s" % ("/".join(segments), "&".join(
            "%s=%s" % kv for kv in sim_params)), got, want)
        return want

    # segment value, and a lower bound on how many fixture jobs must match (not vacuous)
    OPERATOR_QUERIES = [
        ("description", "*Snapshot*", 5),
        ("description", "Snapshot*", 3),
        ("state", "!success", 10),
        ("state", "queued|running", 5),
        ("state", "failure|paused", 5),
        ("code", "<5", 20),
        ("code", ">1000", 5),
        ("code", "<=4", 20),
        ("code", ">=1638555", 3),
        ("code", "1..100000", 5),
        ("code", "!0", 10),
        ("end_time", "null", 8),
        ("end_time", "!null", 25),
        ("error.message", "!null", 5),
        ("svm.name", "vs1", 4),
        ("svm.name", "vs-ünï", 2),
        ("node.name", "node-02|node-03", 5),
        ("description", "Rename *star*", 2),
        ("description", '"Rename *star* job"', 1),
        ("description", "{Copy a|b}", 1),
        ("description", "Copy a|Copy a|b", 1),
        ("message", "*données*", 1),
        ("description", "*a&b*", 1),  # & # % + ? = must reach the cluster encoded
        ("description", "*#1: 100%*", 1),
        ("description", "*+ro?rw=x", 1),
        ("message", "*100% of*", 1),
        ("uuid", "3a1e*", 3),
        ("message", "*doesn't*", 5),
        ("start_time", ">=2026-10-28T00:00:00+05:30", 5),
        ("start_time", "<2026-10-26T20:00:00-04:00", 3),
        ("end_time", "2026-10-27T00:00:00+05:30..2026-10-28T00:00:00-07:00", 3),
    ]

    def t_views_operators(self):
        failures = []
        for field, query, at_least in self.OPERATOR_QUERIES:
            try:
                want = self.view_matches(["%s=%s" % (field, query)], [(field, query)])
                assert len(want) >= at_least, "the sim's answer to %s=%s has %d jobs, " \
                    "the fixture holds at least %d" % (field, query, len(want), at_least)
            except AssertionError as e:
                failures.append(str(e))
        assert not failures, "%d of %d views wrong:\n%s" % (
            len(failures), len(self.OPERATOR_QUERIES), "\n".join(failures))

    def t_views_chained(self):
        chains = [
            [("state", "failure"), ("description", "*Snapshot*")],
            [("state", "!success"), ("svm.name", "vs1"), ("code", ">0")],
            [("description", "*"), ("node.name", "node-01"), ("state", "success|running")],
            [("state", "success"), ("code", ">0")],  # nothing matches both
        ]
        for chain in chains:
            want = self.view_matches(["%s=%s" % kv for kv in chain], chain)
        assert want == [], "the sim matched state=success AND code=>0: %s" % want
        # A field given twice in one chain is refused (include/jobsfs/query.h).
        twice = self.p("state=!success", "state=!failure")
        expect_errno(lambda: os.listdir(twice), (errno.ENOENT, errno.EINVAL),
                     "ls state=!success/state=!failure")
        # Not vacuous: the first chain is narrower than each of its parts.
        a, _ = self.sim.walk(chains[0][:1])
        b, _ = self.sim.walk(chains[0])
        assert 0 < len(b) < len(a), "fixture: chained view does not narrow (%d, %d)" % (
            len(b), len(a))

    def t_views_order(self):
        by_start = sorted(self.records.values(), key=lambda r: iso_epoch(r["start_time"]),
                          reverse=True)
        want = self.view_matches(["order_by=start_time desc", "max_records=5"],
                                 [("order_by", "start_time desc"), ("max_records", "5")],
                                 first_page_only=True)
        set_diff("the sim's five newest by start_time vs the records", want,
                 [r["uuid"] for r in by_start[:5]])
        terminal = [r for r in self.records.values() if r.get("end_time")]
        oldest_end = sorted(terminal, key=lambda r: iso_epoch(r["end_time"]))[:3]
        want = self.view_matches(["state=success|failure", "order_by=end_time", "max_records=3"],
                                 [("state", "success|failure"), ("order_by", "end_time"),
                                  ("max_records", "3")], first_page_only=True)
        set_diff("the sim's three oldest ends vs the records", want,
                 [r["uuid"] for r in oldest_end])
        self.view_matches(["order_by=code desc", "max_records=4"],
                          [("order_by", "code desc"), ("max_records", "4")], first_page_only=True)

    def t_view_job_dirs(self):
        fails = [u for u, r in self.records.items() if r["state"] == "failure"]
        for u in fails:
            files, dirs = self.trees[u]
            base = self.p("state=failure", u)
            set_diff("readdir MOUNT/state=failure/%s" % u, os.listdir(base), dirs[""])
            for rel, data in files.items():
                got = read(os.path.join(base, rel))
                assert got == data, "state=failure/%s/%s: %r, want %r" % (u, rel, got[:80], data[:80])
            st = os.stat(base)
            assert int(st.st_mtime) == job_time(self.records[u]), \
                "state=failure/%s: mtime %d, want %d" % (u, st.st_mtime, job_time(self.records[u]))
        u = sorted(fails)[0]
        got = read(self.p("state=failure", "description=*", u, "message"))
        assert got == self.trees[u][0]["message"], "chained view job file differs"

    def t_views_unlisted(self):
        os.listdir(self.p("state=failure"))
        os.stat(self.p("code=>0"))
        names = os.listdir(self.mp)
        views = [n for n in names if "=" in n]
        assert not views, "views listed in the root: %s" % views
        set_diff("root after using views", names, self.records)
        r = run(["find", self.mp, "-maxdepth", "1", "-name", "*=*"])
        assert r.stdout == b"", "find sees views: %r" % r.stdout[:200]

    def t_views_rejected(self):
        for field, query in [("foo", "bar"), ("code", "<abc")]:
            records, err = self.sim.walk([(field, query)])
            assert err is not None and 400 <= err[0] < 500, \
                "the sim accepts %s=%s (%s): cannot test the rejection" % (
                    field, query, "%d jobs" % len(records) if records is not None else err)
            seg = self.p("%s=%s" % (field, query))
            expect_errno(lambda: os.listdir(seg), (errno.ENOENT, errno.EINVAL), "ls %s=%s" % (field, query))
            expect_errno(lambda: os.stat(seg), (errno.ENOENT, errno.EINVAL), "stat %s=%s" % (field, query))
            r = subprocess.run(["ls", seg], capture_output=True, timeout=CMD_TIMEOUT, env=C_ENV)
            assert r.returncode != 0 and r.stderr, "ls %s=%s: exit %d" % (field, query, r.returncode)
        self.alive()

    # -- errors ----------------------------------------------------------------------------
    def t_erofs(self):
        u = sorted(self.records)[0]
        f, d = self.p(u, "state"), self.p(u)
        ops = [
            ("create in root", lambda: os.close(os.open(self.p("newfile"), os.O_WRONLY | os.O_CREAT, 0o644))),
            ("create in job dir", lambda: os.close(os.open(self.p(u, "new"), os.O_WRONLY | os.O_CREAT, 0o644))),
            ("open O_WRONLY", lambda: os.close(os.open(f, os.O_WRONLY))),
            ("open O_RDWR", lambda: os.close(os.open(f, os.O_RDWR))),
            ("open O_TRUNC", lambda: os.close(os.open(f, os.O_WRONLY | os.O_TRUNC))),
            ("truncate", lambda: os.truncate(f, 0)),
            ("mkdir in root", lambda: os.mkdir(self.p("newdir"))),
            ("mkdir in job dir", lambda: os.mkdir(self.p(u, "newdir"))),
            ("unlink", lambda: os.unlink(f)),
            ("rmdir job dir", lambda: os.rmdir(d)),
            ("rename file", lambda: os.rename(f, self.p(u, "state2"))),
            ("rename job dir", lambda: os.rename(d, self.p("renamed"))),
            ("chmod", lambda: os.chmod(f, 0o644)),
            ("chown", lambda: os.chown(f, os.getuid(), os.getgid())),
            ("utime", lambda: os.utime(f, (0, 0))),
            ("symlink", lambda: os.symlink("state", self.p(u, "link"))),
            ("link", lambda: os.link(f, self.p(u, "hard"))),
        ]
        failures = []
        for what, fn in ops:
            try:
                expect_errno(fn, (errno.EROFS,), what)
            except AssertionError as e:
                failures.append(str(e))
        assert read(f) == self.trees[u][0]["state"], "the file changed after the write attempts"
        assert not failures, "\n".join(failures)

    def t_erofs_shell(self):
        u = sorted(self.records)[1]
        f = self.p(u, "message")
        cmds = [["touch", f], ["touch", self.p("x")], ["mkdir", self.p(u, "d")],
                ["rm", "-f", f], ["mv", f, self.p(u, "m2")], ["chmod", "644", f],
                ["sh", "-c", 'echo hi > "$1"', "sh", f], ["sh", "-c", 'echo hi >> "$1"', "sh", f]]
        for argv in cmds:
            r = subprocess.run(argv, capture_output=True, timeout=CMD_TIMEOUT, env=C_ENV)
            err = r.stderr.decode("utf-8", "replace")
            assert r.returncode != 0 and "Read-only file system" in err, \
                "%s: exit %d, stderr %r, want Read-only file system" % (
                    " ".join(argv[:3]), r.returncode, err[:300])

    def t_enoent(self):
        u = sorted(self.records)[0]
        for name in ["00000000-0000-0000-0000-000000000000",
                     "ffffffff-ffff-4fff-8fff-ffffffffffff", "not-a-uuid", "job.json"]:
            expect_errno(lambda: os.stat(self.p(name)), (errno.ENOENT,), "stat MOUNT/" + name)
            expect_errno(lambda: open(self.p(name, "state")), (errno.ENOENT,),
                         "open MOUNT/%s/state" % name)
        for rel in ["nosuchfield", "svm/nosuch", "_links", "error/arguments/99",
                    "state/child", "job.json/x"]:
            expect_errno(lambda: os.stat(self.p(u, rel)), (errno.ENOENT, errno.ENOTDIR),
                         "stat MOUNT/%s/%s" % (u, rel))
        self.alive()

    def t_names_reach_no_other_endpoint(self):
        """Names that decode to "..", "." or "" (and a second name for a uuid) are no
        job's: ENOENT, with no request at all. Before, `stat MOUNT/%2E%2E` asked for
        GET /api/cluster/ (libcurl removed the dot segments) and showed the cluster
        object as a job; `%` and `%2E` fetched the whole collection."""
        u = sorted(self.records)[0]
        self.sim.request("POST", "/_sim/counters/reset")
        for name in ["%2E%2E", "%2E", "%", "%2E%2E%2F%2E%2E", u.replace("-", "%2D", 1),
                     u[:8] + "%2E" + u[9:]]:
            expect_errno(lambda: os.stat(self.p(name)), (errno.ENOENT,), "stat MOUNT/" + name)
            expect_errno(lambda: os.listdir(self.p(name)), (errno.ENOENT,), "ls MOUNT/" + name)
        _, c, _ = self.sim.request("GET", "/_sim/counters")
        asked = {k: v for k, v in c["by_endpoint"].items() if v}
        assert not asked, "names that are no job's were requested: %r" % asked
        self.alive()


# ---------------------------------------------------------------------------------------
# Scale session: many jobs over many pages, and jobs created while mounted.

class ScaleSession:
    N = 2000

    def __init__(self, jobsfs, sim_path, tmp):
        self.mp = os.path.join(tmp, "scale")
        os.mkdir(self.mp)
        self.sim = harness.Sim(sim_path, ["--jobs", str(self.N), "--seed", "11",
                                          "--expiry", "100000"])
        self.sim.workload(paused=True, rate=0)
        self.records = {r["uuid"]: r for r in self.sim.jobs()}
        # The mount's expiry is the sim's: with ONTAP's 300 s, a fixture job that ended
        # just under 300 s before would expire mid-session and leave the listings the
        # cases compare with the sim's (a flake seen under load).
        self.mount = harness.Mount(jobsfs, self.sim.url, self.mp,
                                   ["ttl=1", "page_size=97", "timeout=10", "expiry=100000"])

    def p(self, *parts):
        return os.path.join(self.mp, *parts)

    def cases(self):
        return [
            ("scale: sim holds N jobs", self.t_count),
            ("scale: one request per page, none per job", self.t_requests),
            ("scale: root ls == sim uuids", self.t_listing),
            ("scale: ls -l mtimes", self.t_ls_l),
            ("scale: every state/code file", self.t_states),
            ("scale: 8 parallel readers", self.t_parallel),
            ("scale: new job reachable at once", self.t_new_job),
            ("scale: listing and active job fresh in ttl", self.t_fresh),
            ("scale: a deleted job leaves the listing", self.t_deleted),
            ("scale: cluster errors, then recovery", self.t_recovery),
        ]

    def t_count(self):
        assert len(self.records) == self.N, "--jobs %d: /_sim/jobs holds %d" % (
            self.N, len(self.records))

    def t_requests(self):
        """ls -l and a read of every job over a fresh mount cost one request per page
        (fields=*, max_records=page_size), never one per job (design.md, Caching)."""
        status, _, _ = self.sim.request("POST", "/_sim/counters/reset")
        assert status == 204, "POST /_sim/counters/reset: HTTP %d" % status
        run(["ls", "-l", self.mp])
        for u in self.records:
            read(self.p(u, "state"))
        _, c, _ = self.sim.request("GET", "/_sim/counters")
        pages = -(-self.N // 97)
        active = sum(r["state"] not in ("success", "failure") for r in self.records.values())
        per_job = c["by_endpoint"].get("GET /api/cluster/jobs/{uuid}", 0)
        listing = c["by_endpoint"].get("GET /api/cluster/jobs", 0)
        # Against one request per job (2000 here): a few single GETs may come from a
        # listing refreshed mid-walk (ttl=1, slow sanitizer builds).
        singles = sorted(q for q in c["by_query"] if not q.startswith("/api/cluster/jobs?"))
        assert per_job <= active + 5, "%d GETs of single jobs (%d jobs are active): %s" % (
            per_job, active, singles[:5])
        # A walk longer than ttl=1 (a slow sanitizer build) may be repeated once or twice.
        assert pages <= listing <= 3 * pages, "%d collection requests for %d pages" % (
            listing, pages)
        for q in c["by_query"]:
            if q.startswith("/api/cluster/jobs?"):
                assert "fields=*" in q and "max_records=97" in q, \
                    "a listing request without fields=* or page_size: %s" % q

    def t_listing(self):
        set_diff("os.listdir(MOUNT), %d jobs" % self.N, os.listdir(self.mp), self.records)

    def t_ls_l(self):
        out = run(["ls", "-l", "--time-style=+%s", self.mp]).stdout.decode().splitlines()[1:]
        got = {}
        for line in out:
            f = line.split()
            got[f[-1]] = int(f[-2])
        set_diff("ls -l MOUNT", got, self.records)
        bad = [(u, got[u], job_time(r)) for u, r in self.records.items() if got[u] != job_time(r)]
        assert not bad, "%d jobs with a wrong mtime, e.g. %s" % (len(bad), bad[:3])

    def t_states(self):
        bad = []
        for u, r in self.records.items():
            for field in ("state", "code", "description"):
                if field in r:
                    got = read(self.p(u, field))
                    if got != scalar_text(r[field]):
                        bad.append("%s/%s: %r, want %r" % (u, field, got, scalar_text(r[field])))
        assert not bad, "%d files differ:\n%s" % (len(bad), "\n".join(bad[:10]))

    def t_parallel(self):
        """Several readers at once over the whole mount (a multi-threaded jobsfs):
        every byte still equals the simulator's."""
        uuids = sorted(self.records)
        errors = []

        def reader(k):
            try:
                for u in uuids[k::8] + uuids[(k * 250) % len(uuids):][:250]:
                    r = self.records[u]
                    for field in ("state", "start_time", "uuid"):
                        got = read(self.p(u, field))
                        if got != scalar_text(r[field]):
                            errors.append("%s/%s: %r" % (u, field, got))
                    json.loads(read(self.p(u, "job.json")))
            except Exception as e:  # report, do not kill the thread silently
                errors.append("%s: %s" % (type(e).__name__, e))

        threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads), "readers still blocked after 120s"
        assert not errors, "%d errors, e.g.:\n%s" % (len(errors), "\n".join(errors[:10]))

    def t_new_job(self):
        os.listdir(self.mp)  # the listing is cached now; the new job is not in it
        job = self.sim.new_job(description="jobsfs integration: new job", state="running",
                               message="just created")
        u = job["uuid"]
        assert os.path.isdir(self.p(u)), "new job %s not reachable by path at once" % u
        assert read(self.p(u, "description")) == b"jobsfs integration: new job\n"
        assert read(self.p(u, "state")) == b"running\n", "state %r" % read(self.p(u, "state"))
        done = self.sim.new_job(description="jobsfs integration: failed", state="failure",
                                message="entry doesn't exist", code=4,
                                error={"code": "4", "message": "entry doesn't exist"})
        d = done["uuid"]
        assert read(self.p(d, "message")) == b"entry doesn't exist\n"
        assert read(self.p(d, "code")) == b"4\n"
        assert read(self.p(d, "error", "code")) == b"4\n"
        assert int(os.stat(self.p(d)).st_mtime) == iso_epoch(done["end_time"]), \
            "new terminal job: mtime %d, end_time %s" % (os.stat(self.p(d)).st_mtime,
                                                       done["end_time"])
        self.created = [u, d]

    def t_fresh(self):
        created = getattr(self, "created", None)
        assert created, "needs the new-job case"
        u, d = created
        before = read(self.p(u, "message"))  # now in the kernel's and jobsfs's caches
        # The message grows from 13 bytes to several pages: size and bytes must follow.
        longer = "finished: " + "all volumes moved; " * 300
        self.sim.update_job(u, state="success", message=longer)
        deadline = time.monotonic() + 6  # ttl=1: fresh well within this
        while time.monotonic() < deadline:
            names = set(os.listdir(self.mp))
            if {u, d} <= names and read(self.p(u, "state")) == b"success\n":
                break
            time.sleep(0.25)
        names = set(os.listdir(self.mp))
        assert {u, d} <= names, "new jobs not in the root listing %ds after ttl=1" % 6
        assert read(self.p(u, "state")) == b"success\n", "active job: state %r after ttl" % (
            read(self.p(u, "state")))
        want = scalar_text(longer)
        size = os.stat(self.p(u, "message")).st_size
        got = read(self.p(u, "message"))
        assert (size, got) == (len(want), want), \
            "message after the update: st_size %d, read %d bytes %r..., want %d (was %r)" % (
                size, len(got), got[:40], len(want), before)
        set_diff("root listing", names, set(self.records) | {u, d})

    def t_deleted(self):
        gone = sorted(self.records)[7]
        os.listdir(self.mp)
        status, _, _ = self.sim.request("DELETE", "/_sim/jobs/" + gone)
        assert status == 204, "DELETE /_sim/jobs/%s: HTTP %d" % (gone, status)
        deadline = time.monotonic() + 6
        while gone in os.listdir(self.mp) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert gone not in os.listdir(self.mp), "deleted job still listed after 6s (ttl=1)"
        del self.records[gone]

    def t_recovery(self):
        """The cluster answers garbage, errors, resets: jobsfs stays up, and once the
        cluster is healthy again the mount is right again within ttl."""
        for spec in ("badjson", "status=503", "truncate", "reset"):
            status, _, _ = self.sim.request("POST", "/_sim/faults", spec.encode())
            assert status == 200, "POST /_sim/faults %s: HTTP %d" % (spec, status)
            time.sleep(1.2)  # past ttl=1: the next listing asks the cluster
            try:
                os.listdir(self.mp)  # may fail (EIO...) or serve what it had: either is fine
            except OSError:
                pass
            assert self.mount.proc.poll() is None, "jobsfs died under fault %s: %s" % (
                spec, self.mount.stderr())
            status, _, _ = self.sim.request("DELETE", "/_sim/faults")
            assert status == 204, "DELETE /_sim/faults: HTTP %d" % status
            time.sleep(1.2)
            want = {r["uuid"] for r in self.sim.jobs()}
            set_diff("listing after fault %s cleared" % spec, os.listdir(self.mp), want)


# ---------------------------------------------------------------------------------------
# Hostile session: the cluster sends uuids and field names that are not safe file names.

class HostileSession:
    def __init__(self, jobsfs, sim_path, tmp):
        self.mp = os.path.join(tmp, "hostile")
        os.mkdir(self.mp)
        self.sim = harness.Sim(sim_path, ["--jobs", "20", "--seed", "5", "--fault", "hostile"])
        self.sim.workload(paused=True)
        self.normal = {r["uuid"] for r in self.sim.jobs()}
        self.mount = harness.Mount(jobsfs, self.sim.url, self.mp, ["ttl=1", "timeout=10"])

    def cases(self):
        return [("hostile: only safe names, every normal job", self.t_names)]

    def t_names(self):
        served, err = self.sim.walk([("fields", "*")])
        assert err is None, "GET /api/cluster/jobs under hostile: %r" % (err,)
        odd = [r.get("uuid") for r in served if r.get("uuid") not in self.normal]
        assert odd, "the sim's hostile fault served no hostile record"
        names = os.listdir(self.mp)
        set_diff("normal jobs listed", set(names) & self.normal, self.normal)
        bad = []
        for root, dirs, files in os.walk(self.mp):
            for n in dirs + files:
                if n in ("", ".", "..") or "/" in n or len(n.encode()) > 255:
                    bad.append(os.path.join(root, n))
            for n in files:
                read(os.path.join(root, n))
        assert not bad, "unsafe names: %r" % bad[:5]
        # The uuid "a/b" must not become a path: MOUNT/a/b stays unknown.
        assert not os.path.exists(os.path.join(self.mp, "a", "b")), "MOUNT/a/b exists"


# ---------------------------------------------------------------------------------------
# The cluster's lifecycle: retention (expiry) and a cluster that goes away.

def lifecycle_cases(jobsfs, sim_path, tmp):
    def finished_job(sim, mp):
        job = sim.new_job(description="jobsfs integration: lifecycle", state="failure",
                          message="entry doesn't exist", code=4)
        u = job["uuid"]
        assert read(os.path.join(mp, u, "message")) == b"entry doesn't exist\n"
        return u

    def expiry():
        mp = os.path.join(tmp, "expiry")
        os.mkdir(mp)
        sim = harness.Sim(sim_path, ["--jobs", "3", "--expiry", "3"])
        m = harness.Mount(jobsfs, sim.url, mp, ["ttl=1", "expiry=3", "timeout=5"])
        try:
            u = finished_job(sim, mp)
            # jobsfs may hide the job a moment before the sim's own sweep deletes it:
            # wait for both, then check both.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and (
                    os.path.exists(os.path.join(mp, u)) or
                    any(r["uuid"] == u for r in sim.jobs())):
                time.sleep(0.25)
            assert not any(r["uuid"] == u for r in sim.jobs()), \
                "the sim still holds %s 10s after it ended (--expiry 3)" % u
            assert not os.path.exists(os.path.join(mp, u)), \
                "finished job still in the mount 10s after end_time + expiry (3s)"
            assert u not in os.listdir(mp), "expired job still listed"
        finally:
            rc = m.unmount()
            sim.stop()
        assert rc == 0, "jobsfs exited %d: %s" % (rc, m.stderr())

    def cluster_gone():
        mp = os.path.join(tmp, "gone")
        os.mkdir(mp)
        sim = harness.Sim(sim_path, ["--jobs", "3"])
        m = harness.Mount(jobsfs, sim.url, mp, ["ttl=1", "timeout=3"])
        try:
            u = finished_job(sim, mp)
            size = os.stat(os.path.join(mp, u, "message")).st_size
            sim.stop()
            time.sleep(1.5)  # past ttl: anything not cached must ask the cluster
            # A finished job is kept until end_time + expiry (design.md, Caching).
            try:
                got = read(os.path.join(mp, u, "message"))
                got_size = os.stat(os.path.join(mp, u, "message")).st_size
            except OSError as e:
                raise AssertionError("cat MOUNT/%s/message with the cluster gone: %s; a "
                                     "finished job is kept until end_time + expiry.\n"
                                     "jobsfs stderr:\n%s" % (u, e, m.stderr()[-1500:]))
            assert (got, got_size) == (b"entry doesn't exist\n", size), \
                "cached finished job: %r (st_size %d)" % (got, got_size)
            t0 = time.monotonic()
            try:
                os.listdir(mp)  # fails (or serves the last listing): it must not hang
            except OSError:
                pass
            assert time.monotonic() - t0 < 20, "listing took %.0fs with the cluster gone" % (
                time.monotonic() - t0)
            assert m.proc.poll() is None, "jobsfs died when the cluster went away: %s" % (
                m.stderr())
        finally:
            rc = m.unmount()
        assert rc == 0, "jobsfs exited %d after fusermount3 -u: %s" % (rc, m.stderr())
        assert not harness.mounted(mp), "still mounted"

    return [
        ("lifecycle: finished job gone after expiry", expiry),
        ("lifecycle: cluster gone, cache serves, unmount", cluster_gone),
    ]


def assert_refused(jobsfs, mp, url, options, env, words, names=None):
    """jobsfs exits non-zero without mounting, saying why in one line that names the
    cluster (or the file at fault: names) and one of words."""
    rc, err, mounted = harness.run_jobsfs_once(jobsfs, url, mp, options, env=env)
    assert not mounted, "mounted anyway (exit %s): %s" % (rc, err)
    assert rc not in (0, None), "exit %s, want non-zero: %s" % (rc, err)
    lines = [line for line in err.splitlines()
             if line.strip() and not line.startswith("jobsfs: warning:")]
    assert len(lines) == 1, "want one line on stderr, got %d: %r" % (len(lines), err)
    line = lines[0]
    assert line.startswith("jobsfs: "), "stderr %r does not start with 'jobsfs: '" % line
    assert (names or url) in line, "stderr %r does not name %s" % (line, names or url)
    assert any(w.lower() in line.lower() for w in words), \
        "stderr %r names none of %s" % (line, words)
    assert not harness.mounted(mp), "left a mount behind"
    return line


# ---------------------------------------------------------------------------------------
# TLS: verified by default, -o cacert, -o insecure only when asked for.

def tls_cases(jobsfs, sim_path, tmp):
    mp = os.path.join(tmp, "tls")
    os.mkdir(mp)
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    state = {}

    def sim():
        if "sim" not in state:
            r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                                "-keyout", key, "-out", cert, "-days", "2",
                                "-subj", "/CN=127.0.0.1",
                                "-addext", "subjectAltName=IP:127.0.0.1"],
                               capture_output=True, timeout=CMD_TIMEOUT)
            assert r.returncode == 0, "openssl req: %s" % r.stderr.decode()[-500:]
            state["sim"] = harness.Sim(sim_path, ["--jobs", "4", "--tls-cert", cert,
                                                  "--tls-key", key])
            assert state["sim"].url.startswith("https://"), state["sim"].url
        return state["sim"]

    def mounts(options, warns):
        s = sim()
        m = harness.Mount(jobsfs, s.url, mp, options)
        try:
            names = os.listdir(mp)
            assert len(names) == 4, "listing over TLS: %s" % names
            for u in names:
                assert read(os.path.join(mp, u, "uuid")) == u.encode() + b"\n"
        finally:
            rc = m.unmount()
        assert rc == 0, "jobsfs exited %d after fusermount3 -u: %s" % (rc, m.stderr())
        if warns:
            assert "insecure" in m.stderr().lower() or "verif" in m.stderr().lower(), \
                "-o insecure without a warning: %r" % m.stderr()
            # Once, though the start-up check and the mount each make a client.
            warnings = [l for l in m.stderr().splitlines() if "TLS verification is off" in l]
            assert len(warnings) == 1, "-o insecure warned %d times: %r" % (
                len(warnings), m.stderr())

    def unverified():
        assert_refused(jobsfs, mp, sim().url, ["timeout=5"], {}, ["certificate", "TLS"])

    return [
        ("tls: self-signed refused by default", unverified),
        ("tls: -o cacert mounts", lambda: mounts(["cacert=" + cert], False)),
        ("tls: -o insecure mounts, with a warning", lambda: mounts(["insecure"], True)),
    ]


# ---------------------------------------------------------------------------------------
# Mounts that must be refused.

def credential_cases(jobsfs, sim_path, tmp):
    mp = os.path.join(tmp, "auth")
    os.mkdir(mp)
    pw = "s3cret pw:with-colon"
    server_pw = os.path.join(tmp, "sim-password")
    with open(os.open(server_pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(pw)
    good_file = os.path.join(tmp, "pw-good")
    with open(os.open(good_file, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(pw)
    loose_file = os.path.join(tmp, "pw-0644")
    with open(os.open(loose_file, os.O_WRONLY | os.O_CREAT, 0o644), "w") as f:
        f.write(pw)
    os.chmod(loose_file, 0o644)
    state = {}

    def sim():
        if "sim" not in state:
            state["sim"] = harness.Sim(sim_path, ["--jobs", "5", "--user", "admin",
                                                  "--password-file", server_pw])
        return state["sim"]

    def mounts(options, env):
        s = sim()
        m = harness.Mount(jobsfs, s.url, mp, options, env=env)
        try:
            names = set(os.listdir(mp))
            want = {r["uuid"] for r in s.jobs()}
            set_diff("listing with good credentials", names, want)
        finally:
            rc = m.unmount()
        assert rc == 0, "jobsfs exited %d after fusermount3 -u: %s" % (rc, m.stderr())

    def refused(url, options, env, words, names=None):
        assert_refused(jobsfs, mp, url, options, env, words, names)

    def sim_checks_auth():
        s = sim()
        status, _, _ = s.request("GET", "/api/cluster/jobs")
        assert status == 401, "the sim answers %d without credentials, want 401" % status
        status, _, _ = s.request("GET", "/api/cluster/jobs", auth=("admin", pw))
        assert status == 200, "the sim answers %d with good credentials" % status

    def not_a_cluster():
        """A web server that is not a cluster: the line says so and quotes its page."""
        class Page(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"<html><head><title>Welcome to nginx!</title></head></html>"
                self.send_response(404)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            line = assert_refused(jobsfs, mp, "http://127.0.0.1:%d" % srv.server_address[1],
                                  ["timeout=5"], {}, ["no ONTAP jobs API there"])
            assert '"Welcome to nginx!"' in line, "the page's title not quoted: %r" % line
        finally:
            srv.shutdown()
            srv.server_close()

    user = ["user=admin", "timeout=5"]
    return [
        ("auth: the sim demands credentials", sim_checks_auth),
        ("auth: JOBSFS_PASSWORD mounts", lambda: mounts(user, {"JOBSFS_PASSWORD": pw})),
        ("auth: password_file 0600 mounts",
         lambda: mounts(user + ["password_file=" + good_file], {})),
        ("auth: wrong password refused",
         lambda: refused(sim().url, user, {"JOBSFS_PASSWORD": "wrong"},
                         ["authentication", "401"])),
        ("auth: no credentials refused",
         lambda: refused(sim().url, ["timeout=5"], {}, ["authentication", "401"])),
        ("auth: password_file 0644 refused",
         lambda: refused(sim().url, user + ["password_file=" + loose_file], {},
                         ["permission", "mode", "readable"], names=loose_file)),
        ("unreachable cluster refused",
         lambda: refused("http://127.0.0.1:%d" % harness.closed_port(), ["timeout=5"], {},
                         ["cannot connect", "connection refused", "connect"])),
        ("a web server that is not a cluster refused", not_a_cluster),
    ]


# ---------------------------------------------------------------------------------------

def session(runner, name, make, *args):
    """Set a session up, run its cases, unmount it and check jobsfs exits 0."""
    made = []
    runner.run(name + ": setup (sim + mount)", lambda: made.append(make(*args)))
    if not made:
        return
    s = made[0]
    for case, fn in s.cases():
        def checked(fn=fn):
            s_rc = s.mount.proc.poll()
            assert s_rc is None, "jobsfs is gone (exit %s): %s" % (s_rc, s.mount.stderr())
            fn()
        runner.run(case, checked, on_hang=s.mount.kill)

    def unmount():
        rc = s.mount.unmount()
        assert rc == 0, "jobsfs exited %s after fusermount3 -u: %s" % (rc, s.mount.stderr())
        assert not harness.mounted(s.mp), "still mounted"
        log = s.mount.stderr()
        for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
            assert bad not in log, "sanitizer report in jobsfs stderr:\n%s" % log
    runner.run(name + ": unmount, jobsfs exits 0", unmount)

    def sim_exit():
        rc = s.sim.stop()
        assert rc == 0, "ontap-sim exited %s on SIGTERM: %s" % (rc, s.sim.stderr())
    runner.run(name + ": ontap-sim exits 0 on SIGTERM", sim_exit)


def main():
    jobsfs, sim_path = harness.binaries_or_skip()
    t0 = time.monotonic()
    tmp = harness.tempdir()
    runner = harness.Runner(case_timeout=90)
    session(runner, "fixture", FixtureSession, jobsfs, sim_path, tmp)
    session(runner, "scale", ScaleSession, jobsfs, sim_path, tmp)
    session(runner, "hostile", HostileSession, jobsfs, sim_path, tmp)
    for name, fn in lifecycle_cases(jobsfs, sim_path, tmp):
        runner.run(name, fn)
    for name, fn in tls_cases(jobsfs, sim_path, tmp):
        runner.run(name, fn)
    for name, fn in credential_cases(jobsfs, sim_path, tmp):
        runner.run(name, fn)
    print("(%.1fs)" % (time.monotonic() - t0))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
