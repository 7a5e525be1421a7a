#!/usr/bin/env python3
"""The benchmark of issue 5: jobsfs against a tmpfs copy of its tree and against curl + jq.

For each N (jobs served by ontap-sim) and each operation (`ls -l`, `cat */state`,
`grep -l PATTERN */message`, `grep -r PATTERN .`, `find . -newermt T`) it times:

  jobsfs cold   a freshly mounted jobsfs (remounted for every cold run, kernel caches
                dropped where permitted): what the first command after a mount costs
  jobsfs warm   the same command again, right after the cold one
  tmpfs         the same command on a `cp -a` copy of the mounted tree in a tmpfs
  curl + jq     the same job done against the simulator by a shell script: curl in a loop
                over the next links, each page saved and handed to jq

with the simulator's request counters (/_sim/counters) read around each jobsfs command,
and the RSS of jobsfs after a full listing. Every command runs from inside the tree
(`cd ROOT && CMD`, so `cat */state` is relative and outputs compare byte for byte); its
output goes through a pipe, never to /dev/null (GNU grep stops at the first match when
its output is /dev/null), its exit status is checked, and the jobsfs output is compared
with the tmpfs one. Medians of --runs runs, interleaved so that the columns of one row are
measured side by side.

It is not a test: it prints a table (Markdown) and marks with "!" what misses the issue's
targets, without failing. It fails (exit 1) only when it cannot run at all.

Environment: JOBSFS and ONTAP_SIM (paths of the binaries, as meson sets them).
Standard library only; reuses tests/integration/harness.py.
"""

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

PATTERN = "unavailable"  # in ~7% of the sim's messages ("the node ... became unavailable")
SEED = "1"
# The jobs: ontap-sim --jobs N --seed 1 spreads them over its last --expiry window
# (WINDOW), mostly finished. Its oldest jobs would then expire one after the other during
# the run, so they are served again from a fixture (fixture jobs never expire), and
# jobsfs is told a retention (EXPIRY) far beyond their ages: the tree is the same for
# every command of a run.
WINDOW = 86400
EXPIRY = 100 * 86400
COMMAND_TIMEOUT = 600  # seconds, --timeout

# Targets of issue 5.
WARM_TMPFS_MAX = 1.3
COLD_CURL_MAX = 1.5
RSS_BEYOND_JSON_MAX = 1024  # bytes per job

# name, shell command run inside the tree, jq filter doing the same job on one page.
# $p is PATTERN, $t the ISO time T of find -newermt.
OPERATIONS = [
    ("ls -l", "ls -l",
     r'.records[] | "\(.uuid) \(.state) \(.end_time // .start_time)"'),
    ("cat */state", "cat */state",
     r'.records[].state'),
    ("grep -l P */message", "grep -l -- \"$P\" */message",
     r'.records[] | select((.message // "") | test($p)) | .uuid'),
    ("grep -r P", "grep -r -- \"$P\" .",
     r'.records[] | .. | strings | select(test($p))'),
    ("find -newermt T", "find . -newermt \"$T\"",
     r'.records[] | select((.end_time // .start_time) > $t) | .uuid'),
]

# A script that fetches every page the way an administrator's script would, piping each
# page to jq. $1 base URL, $2 first path, $3 jq filter, $4 pattern, $5 ISO time.
CURL_JQ_SCRIPT = r'''
set -o pipefail
base=$1 next=$2 filter=$3
page=$(mktemp -p /dev/shm bench-page.XXXXXX) || exit 1
trap 'rm -f "$page"' EXIT
while [ -n "$next" ]; do
    curl -sfg -o "$page" "$base$next" || exit 1
    jq -r --arg p "$4" --arg t "$5" "$filter" "$page" || exit 1
    next=$(jq -r '._links.next.href // empty' "$page") || exit 1
done
'''


# Measuring ----------------------------------------------------------------------------

class Result:
    """One timed command: seconds, exit status, a fingerprint of its output."""

    def __init__(self, seconds, rc, out, err):
        self.seconds = seconds
        self.rc = rc
        self.lines = out.count(b"\n")
        # Directory order differs between filesystems: compare the sorted lines.
        self.digest = hash(tuple(sorted(comparable(line) for line in out.split(b"\n"))))
        self.err = err.decode("utf-8", "replace").strip()[-500:]

    @property
    def ok(self):
        return self.rc == 0

    def why(self):
        if self.rc == TIMED_OUT:
            return "killed after %.0f s (timeout), %d lines of output by then" % (
                self.seconds, self.lines)
        return "exit %d: %s" % (self.rc, self.err)


TIMED_OUT = -1000  # Result.rc of a command that did not finish in time


def comparable(line):
    """An output line without what legitimately differs between jobsfs and tmpfs: the
    "total" (block count) line and the size column of `ls -l` (tmpfs directories are
    4096 bytes, jobsfs's 0)."""
    fields = line.split()
    if len(fields) == 2 and fields[0] == b"total":
        return b""
    if len(fields) >= 9 and fields[0][:1] in (b"d", b"-", b"l") and len(fields[0]) >= 10:
        del fields[4]
        return b" ".join(fields)
    return line


def timed(argv, cwd=None, env=None):
    t0 = time.perf_counter()
    try:
        p = subprocess.run(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=COMMAND_TIMEOUT)
    except subprocess.TimeoutExpired as e:  # killed (a FUSE wait is killable)
        return Result(time.perf_counter() - t0, TIMED_OUT, e.stdout or b"", e.stderr or b"")
    t1 = time.perf_counter()
    return Result(t1 - t0, p.returncode, p.stdout, p.stderr)


def set_timeout(seconds):
    global COMMAND_TIMEOUT
    COMMAND_TIMEOUT = seconds


def run_in_tree(root, command, t_find):
    """CMD inside root through bash (its globbing is part of the cost). The stack limit
    is raised: 100,000 relative paths (`*/message`) are ~5 MB of arguments, over the
    default 2 MB (a quarter of an 8 MB stack) but under the kernel's 6 MB cap."""
    env = dict(os.environ, P=PATTERN, T=t_find, LC_ALL="C")
    script = "ulimit -s unlimited 2>/dev/null || ulimit -s $(ulimit -Hs); exec " + command
    return timed(["bash", "-c", script], cwd=root, env=env)


def run_curl_jq(url, page_size, jq_filter, t_iso):
    first = "/api/cluster/jobs?fields=*&max_records=%d" % page_size
    env = dict(os.environ, LC_ALL="C")
    return timed(["bash", "-c", CURL_JQ_SCRIPT, "curl-jq", url, first, jq_filter,
                  PATTERN, t_iso], env=env)


def drop_kernel_caches():
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def vm_status(pid, key):
    """VmRSS / VmHWM of pid in bytes, or None."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class Counters:
    def __init__(self, sim):
        self.sim = sim

    def reset(self):
        status, _, _ = self.sim.request("POST", "/_sim/counters/reset")
        if status != 204:
            raise RuntimeError("POST /_sim/counters/reset: HTTP %s" % status)

    def total(self):
        status, body, _ = self.sim.request("GET", "/_sim/counters")
        if status != 200:
            raise RuntimeError("GET /_sim/counters: HTTP %s" % status)
        return body["total"]


# One N ----------------------------------------------------------------------------------

class Cell:
    """The samples of one operation at one N."""

    def __init__(self):
        self.cold, self.warm, self.tmpfs, self.curl = [], [], [], []
        self.req_cold, self.req_warm, self.req_curl = [], [], []
        self.failures = []   # "where: rc N: stderr"
        self.mismatch = []   # outputs that differ from the tmpfs copy's


def mount_jobsfs(jobsfs, url, mnt, args):
    options = ["expiry=%d" % EXPIRY]
    if args.page_size:
        options.append("page_size=%d" % args.page_size)
    options += args.option
    return harness.Mount(jobsfs, url, mnt, options=options, timeout=60)


def tmpfs_dir(base):
    """A tmpfs to copy the tree into: our own mount when root, else /dev/shm."""
    path = os.path.join(base, "tmpfs")
    os.mkdir(path)
    if os.geteuid() == 0 and subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "mode=0755", "bench", path]).returncode == 0:
        harness.on_exit(lambda: subprocess.run(["umount", "-l", path]))
        return path
    os.rmdir(path)
    return _shm_tempdir()


def _shm_tempdir():
    path = tempfile.mkdtemp(prefix="jobsfs-bench-", dir="/dev/shm")
    harness.on_exit(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def start_sim(ontap_sim, n, base):
    """ontap-sim serving N stable jobs (see WINDOW), and the T of find -newermt (about a
    quarter of the jobs ended after it) as epoch seconds."""
    gen = harness.Sim(ontap_sim, ["--jobs", str(n), "--seed", SEED, "--expiry", str(WINDOW)],
                      start_timeout=120)
    status, body, _ = gen.request("GET", "/_sim/jobs", timeout=300)
    _, clock, _ = gen.request("GET", "/_sim/clock")
    gen.stop()
    if status != 200 or len(body["records"]) != n:
        raise RuntimeError("GET /_sim/jobs: HTTP %s" % status)
    fixture = os.path.join(base, "jobs.json")
    with open(fixture, "w") as f:
        json.dump({"records": body["records"]}, f)
    sim = harness.Sim(ontap_sim, ["--fixture", fixture], start_timeout=300)
    sim.workload(paused=True)  # no arrivals, no transitions
    return sim, clock["now"] - WINDOW // 4


def bench_n(n, runs, args, jobsfs, ontap_sim, log):
    log("N=%d: starting ontap-sim" % n)
    base = harness.tempdir("jobsfs-bench-")
    sim, t_epoch = start_sim(ontap_sim, n, base)
    counters = Counters(sim)
    page_size = args.page_size or default_page_size(jobsfs)
    t_find = "@%d" % t_epoch
    t_iso = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t_epoch))

    mnt = os.path.join(base, "mnt")
    os.mkdir(mnt)
    info = {"n": n, "page_size": page_size}

    # Once: memory after a full listing, and the tmpfs copy.
    m = mount_jobsfs(jobsfs, sim.url, mnt, args)
    rss0 = vm_status(m.proc.pid, "VmRSS")
    counters.reset()
    first = run_in_tree(mnt, "ls -l", t_find)
    if not first.ok:
        # Say what jobsfs was doing, then give up this N: without a listing there is
        # no tree to copy and nothing to compare.
        info["list_error"] = "`ls -l` %s; meanwhile jobsfs sent %d HTTP requests and " \
            "grew to %.0f MiB RSS; its log: %s" % (
                first.why(), counters.total(), (vm_status(m.proc.pid, "VmRSS") or 0) / 2**20,
                m.stderr().strip()[-500:] or "(empty)")
        log("N=%d: %s" % (n, info["list_error"]))
        m.kill()
        m.unmount()
        sim.stop()
        return None, info
    again = run_in_tree(mnt, "ls -l", t_find)
    info["listed"] = first.lines - 1 if first.ok else None  # minus "total"
    info["rss_base"] = rss0
    info["rss_listed"] = vm_status(m.proc.pid, "VmRSS")
    log("N=%d: listed %s jobs in %.2fs (again %.2fs); copying the tree to tmpfs"
        % (n, info["listed"], first.seconds, again.seconds))
    tdir = tmpfs_dir(base)
    copy = os.path.join(tdir, "tree")
    t0 = time.perf_counter()
    cp = subprocess.run(["cp", "-a", mnt + "/.", copy], capture_output=True)
    info["copy_seconds"] = time.perf_counter() - t0
    info["rss_copied"] = vm_status(m.proc.pid, "VmRSS")
    info["hwm_copied"] = vm_status(m.proc.pid, "VmHWM")
    if cp.returncode != 0:
        info["copy_error"] = cp.stderr.decode("utf-8", "replace")[-1000:]
    m.unmount()
    json_bytes = 0
    jobs_copied = 0
    for entry in os.scandir(copy):
        # The JSON: each record as the cluster sends it, compact (what jobsfs holds;
        # job.json shows it pretty-printed, a fifth longer).
        try:
            with open(os.path.join(entry.path, "job.json"), "rb") as f:
                record = json.load(f)
            json_bytes += len(json.dumps(record, separators=(",", ":"),
                                         ensure_ascii=False).encode())
            jobs_copied += 1
        except (OSError, ValueError):
            pass
    info["json_bytes"] = json_bytes
    info["jobs_copied"] = jobs_copied
    log("N=%d: copied %d jobs in %.1fs" % (n, jobs_copied, info["copy_seconds"]))

    # The tmpfs copy warm once, so every timed run finds it in the dentry cache.
    for _, command, _ in OPERATIONS:
        run_in_tree(copy, command, t_find)

    cells = {name: Cell() for name, _, _ in OPERATIONS}
    dropped = True
    info["runs"] = runs
    for run in range(runs):
        for name, command, jq_filter in OPERATIONS:
            cell = cells[name]
            m = mount_jobsfs(jobsfs, sim.url, mnt, args)
            dropped = drop_kernel_caches() and dropped
            counters.reset()
            cold = run_in_tree(mnt, command, t_find)
            cell.req_cold.append(counters.total())
            counters.reset()
            warm = run_in_tree(mnt, command, t_find)
            cell.req_warm.append(counters.total())
            if not (cold.ok and warm.ok):
                m.kill()  # a command that timed out may have left it stuck
            rc = m.unmount()
            if rc != 0:
                cell.failures.append("jobsfs exit %s: %s" % (rc, m.stderr()[-500:]))

            tmp = run_in_tree(copy, command, t_find)
            counters.reset()
            curl = run_curl_jq(sim.url, page_size, jq_filter, t_iso)
            cell.req_curl.append(counters.total())

            for where, r, samples in (("jobsfs cold", cold, cell.cold),
                                      ("jobsfs warm", warm, cell.warm),
                                      ("tmpfs", tmp, cell.tmpfs),
                                      ("curl+jq", curl, cell.curl)):
                if r.ok:
                    samples.append(r.seconds)
                else:
                    cell.failures.append("%s run %d: %s" % (where, run + 1, r.why()))
            for where, r in (("cold", cold), ("warm", warm)):
                if r.ok and tmp.ok and r.digest != tmp.digest:
                    cell.mismatch.append("%s run %d: %d lines, tmpfs %d"
                                         % (where, run, r.lines, tmp.lines))
            log("N=%d run %d %-20s cold %8.4fs warm %8.4fs tmpfs %8.4fs curl+jq %8.4fs "
                "req %s/%s/%s" % (n, run + 1, name, cold.seconds, warm.seconds, tmp.seconds,
                                  curl.seconds, cell.req_cold[-1], cell.req_warm[-1],
                                  cell.req_curl[-1]))
    info["dropped"] = dropped
    sim.stop()
    return cells, info


def default_page_size(jobsfs):
    """jobsfs -h prints its default page size."""
    out = subprocess.run([jobsfs, "-h"], capture_output=True, text=True)
    m = re.search(r"page_size=N\s+records per request \(default (\d+)\)",
                  out.stdout + out.stderr)
    return int(m.group(1)) if m else 1000


# Reporting ------------------------------------------------------------------------------

def fmt_s(samples):
    if not samples:
        return "FAIL"
    s = statistics.median(samples)
    return "%.1f ms" % (s * 1000) if s < 1 else "%.2f s" % s


def fmt_ratio(num, den, limit):
    if not num or not den:
        return "-"
    r = statistics.median(num) / statistics.median(den)
    return "%.2fx%s" % (r, "!" if r > limit else "")


def fmt_req(samples, pages=None):
    if not samples:
        return "-"
    lo, hi = min(samples), max(samples)
    text = str(int(statistics.median(samples))) if lo == hi else "%d-%d" % (lo, hi)
    if pages is not None and statistics.median(samples) != pages:
        text += "!"
    return text


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    fuse = subprocess.run(["pkg-config", "--modversion", "fuse3"], capture_output=True,
                          text=True).stdout.strip() or "?"
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.0f GiB" % (int(f.readline().split()[1]) / 2**20)
    except OSError:
        pass
    return "%d CPUs (%s), %s RAM, Linux %s, libfuse %s" % (
        os.cpu_count(), cpu, mem, platform.release(), fuse)


def shell_overhead():
    """What an empty command costs through the same path (bash -c, exec, a pipe)."""
    samples = [run_in_tree("/", "true", "").seconds for _ in range(9)]
    return statistics.median(samples)


def report(results, args, started, command_line):
    out = []
    out.append("| operation | N | runs | jobsfs cold | jobsfs warm | tmpfs | warm/tmpfs | curl+jq "
               "| cold/curl+jq | requests cold | requests warm | pages |")
    out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    notes = []
    for cells, info in results:
        n = info["n"]
        if cells is None:
            out.append("| `ls -l` | %s | - | FAIL | | | | | | | | |" % "{:,}".format(n))
            continue
        for name, _, _ in OPERATIONS:
            c = cells[name]
            pages = int(statistics.median(c.req_curl)) if c.req_curl else None
            out.append("| `%s` | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                name, "{:,}".format(n), info["runs"], fmt_s(c.cold), fmt_s(c.warm), fmt_s(c.tmpfs),
                fmt_ratio(c.warm, c.tmpfs, WARM_TMPFS_MAX), fmt_s(c.curl),
                fmt_ratio(c.cold, c.curl, COLD_CURL_MAX),
                fmt_req(c.req_cold, pages), fmt_req(c.req_warm), fmt_req(c.req_curl)))
            for f in c.failures[:5]:
                notes.append("- FAILED `%s` N=%d: %s" % (name, n, f.replace("\n", " | ")))
            for mm in c.mismatch[:3]:
                notes.append("- output differs from tmpfs, `%s` N=%d: %s" % (name, n, mm))
    out.append("")
    out.append("| N | listed | RSS after mount | RSS after `ls -l` | per job | JSON (compact) "
               "per job | beyond the JSON, per job | same, marginal | RSS after `cp -a` "
               "(per job) | tmpfs copy took |")
    out.append("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    prev = None
    for _, info in results:
        n = info["n"]
        if info.get("list_error"):
            notes.append("- N=%d: LISTING FAILED: %s" % (n, info["list_error"]))
            continue
        base, listed, jb = info["rss_base"] or 0, info["rss_listed"] or 0, info["json_bytes"]
        # (RSS after the listing - RSS of the idle mount - the job.json bytes) / N.
        beyond = (listed - base - jb) / n
        mark = "!" if beyond > RSS_BEYOND_JSON_MAX else ""
        # The same between this N and the previous one: fixed costs (libraries, thread
        # stacks, malloc arenas, one page's buffer) cancel out.
        marginal = "-"
        if prev and n > prev[0]:
            per = ((listed - prev[1]) - (jb - prev[2])) / (n - prev[0])
            marginal = "%.0f B%s" % (per, "!" if per > RSS_BEYOND_JSON_MAX else "")
        prev = (n, listed, jb)
        copied = info["rss_copied"] or 0
        out.append("| %s | %s | %.1f MiB | %.1f MiB | %.0f B | %.0f B | %.0f B%s | %s "
                   "| %.1f MiB (%.0f B) | %.1f s |" % (
                       "{:,}".format(n), "{:,}".format(info["listed"] or 0),
                       base / 2**20, listed / 2**20, listed / n, jb / n, beyond, mark,
                       marginal, copied / 2**20, copied / n, info["copy_seconds"]))
        if info["listed"] != n:
            notes.append("- N=%d: `ls -l` listed %s jobs, not %d!" % (n, info["listed"], n))
        if info.get("copy_error"):
            notes.append("- N=%d: cp -a failed: %s" % (n, info["copy_error"]))
        if not info["dropped"]:
            notes.append("- N=%d: could not drop the kernel's caches before cold runs" % n)
    out.append("")
    out.append("Medians of the runs. Machine: %s. An empty command through the same path "
               "(`bash -c`, exec, a pipe) costs %.1f ms, included in every time above. "
               "jobsfs -o %s; pages of %d records (`max_records`); "
               "`pages` is what the curl + jq walk requested. "
               "`!` marks a miss of issue 5's targets (warm <= %.1fx tmpfs, cold <= %.1fx "
               "curl + jq, requests = pages, < %d B per job beyond the JSON)."
               % (machine(), shell_overhead() * 1000,
                  ",".join(["expiry=%d" % EXPIRY] + (["page_size=%d" % args.page_size]
                                                     if args.page_size else []) + args.option),
                  results[0][1]["page_size"] if results else 0,
                  WARM_TMPFS_MAX, COLD_CURL_MAX, RSS_BEYOND_JSON_MAX))
    out.append("Run %s UTC, %.0f s: `%s`" % (time.strftime("%Y-%m-%d %H:%M", time.gmtime(started)),
                                           time.time() - started, command_line))
    if notes:
        out.append("")
        out.extend(notes)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", default="1000,10000,100000",
                    help="comma-separated N (default 1000,10000,100000)")
    ap.add_argument("--runs", default="5",
                    help="runs per N (medians), or one count per N: 5,5,3")
    ap.add_argument("--page-size", type=int, default=0,
                    help="jobsfs -o page_size and the curl walk's max_records "
                         "(default: jobsfs's own)")
    ap.add_argument("--quick", action="store_true", help="N=1000 only, 3 runs")
    ap.add_argument("-o", dest="option", action="append", default=[], metavar="OPT",
                    help="a jobsfs -o option for every mount (e.g. ttl=600)")
    ap.add_argument("--timeout", type=float, default=COMMAND_TIMEOUT,
                    help="seconds one command may take before it is killed and reported "
                         "(default %d)" % COMMAND_TIMEOUT)
    ap.add_argument("--out", help="also write the table (Markdown) to this file")
    args = ap.parse_args()
    if args.quick:
        args.jobs, args.runs = "1000", "3"
    try:
        sizes = [int(x) for x in args.jobs.split(",")]
        runs = [int(x) for x in args.runs.split(",")]
    except ValueError:
        ap.error("--jobs and --runs take whole numbers separated by commas")
    if len(runs) == 1:
        runs *= len(sizes)
    if not sizes or min(sizes) < 1 or min(runs) < 1 or len(runs) != len(sizes):
        ap.error("--jobs and --runs must be positive, --runs one count or one per N")
    for tool in ("curl", "jq", "bash"):
        if not shutil.which(tool):
            harness.skip("%s is not installed" % tool)
    jobsfs, ontap_sim = harness.binaries_or_skip()
    set_timeout(args.timeout)

    started = time.time()
    command_line = " ".join(["tests/bench/bench.py"] + sys.argv[1:])

    def log(msg):
        print("# %s %s" % (time.strftime("%H:%M:%S"), msg), file=sys.stderr, flush=True)

    results = [bench_n(n, r, args, jobsfs, ontap_sim, log) for n, r in zip(sizes, runs)]
    table = report(results, args, started, command_line)
    print(table, end="", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
