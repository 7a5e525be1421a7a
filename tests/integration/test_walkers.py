#!/usr/bin/env python3
"""Concurrent walkers, as users cause them: more real clients than FUSE workers, cold.

Four `grep -rc`, `rg -j16 -c`, `tar cf /dev/null` and `cp -a` start together on a cold
mount, with -o max_threads=2 and with libfuse's default thread count, several rounds
each. Every walker must finish, with its exit status clean and its whole output, and
jobsfs must then exit on SIGTERM. (Issue 11: pushing files to the page cache from the
workers hung the mount for good: both workers waited in a store for pages whose READs
only a worker could answer.)

A walker still running after WALK_TIMEOUT fails the case: the connection is then aborted
through fusectl, so that nothing stays in D state and the suite goes on.
"""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

JOBS = 1500
ROUNDS = 2
WALK_TIMEOUT = 90   # seconds for every walker of one round; a round takes ~5 s here
STOP_TIMEOUT = 10   # seconds jobsfs may take to exit on SIGTERM after the walk
PATTERN = "Vserver"


def walkers(mp, copy_dir):
    """(name, argv) of the clients started together: 7, more than 2 workers, and as
    many as the default's idle threads."""
    ws = [("grep -rc #%d" % i, ["grep", "-rc", PATTERN, mp]) for i in range(4)]
    ws.append(("rg -j16 -c", ["rg", "-j16", "-c", "--no-messages", PATTERN, mp]))
    ws.append(("tar cf /dev/null", ["tar", "cf", "/dev/null", mp]))
    ws.append(("cp -a", ["cp", "-a", mp, copy_dir]))
    return ws


def round_case(jobsfs, sim, tmp, options, expected_files, expected_matches):
    def case():
        mp = os.path.join(tmp, "mnt")
        copy_dir = os.path.join(tmp, "copy")
        os.makedirs(mp, exist_ok=True)
        shutil.rmtree(copy_dir, ignore_errors=True)
        m = harness.Mount(jobsfs, sim.url, mp, options=options)
        procs = []
        for name, argv in walkers(mp, copy_dir):
            out = open(os.path.join(tmp, "out-%d" % len(procs)), "w+b")
            p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT)
            procs.append((name, p, out))
        deadline = time.monotonic() + WALK_TIMEOUT
        hung = []
        for name, p, _ in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                hung.append(name)
        if hung:
            # Free the readers and jobsfs's threads, so the failure does not hang too.
            harness.abort_connection(mp)
            for _, p, _ in procs:
                p.kill()
                p.wait()
            m.kill()
            m.unmount()
            raise AssertionError("still running after %ds: %s (jobsfs: %s)"
                                 % (WALK_TIMEOUT, ", ".join(hung), m.stderr()[-500:]))
        problems = []
        for name, p, out in procs:
            out.seek(0)
            text = out.read().decode("utf-8", "replace")
            out.close()
            if p.returncode != 0:
                errors = [line for line in text.splitlines()
                          if not line.startswith(mp) and not line.startswith(mp[1:])]
                problems.append("%s exited %d: %s" % (name, p.returncode,
                                                      "\n".join(errors[:5]) or text[-300:]))
            elif name.startswith("grep"):
                # One count per file: every file was read, none failed.
                lines = text.splitlines()
                matches = sum(int(line.rsplit(":", 1)[1]) for line in lines)
                if len(lines) != expected_files or matches != expected_matches:
                    problems.append("%s: %d files, %d matches (want %d, %d)"
                                    % (name, len(lines), matches, expected_files,
                                       expected_matches))
            elif name.startswith("rg"):
                matches = sum(int(line.rsplit(":", 1)[1]) for line in text.splitlines())
                if matches != expected_matches:
                    problems.append("%s: %d matches (want %d)" % (name, matches,
                                                                  expected_matches))
        copied = sum(len(files) for _, _, files in os.walk(copy_dir))
        shutil.rmtree(copy_dir, ignore_errors=True)
        if not problems and copied != expected_files:
            problems.append("cp -a copied %d files (want %d)" % (copied, expected_files))

        t0 = time.monotonic()
        m.proc.send_signal(signal.SIGTERM)
        try:
            m.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            harness.abort_connection(mp)
            m.kill()
            problems.append("jobsfs did not exit within %ds of SIGTERM" % STOP_TIMEOUT)
        stopped = time.monotonic() - t0
        m.unmount()
        if m.proc.returncode not in (0, None) and not problems:
            problems.append("jobsfs exited %s: %s" % (m.proc.returncode, m.stderr()[-500:]))
        assert not problems, "\n".join(problems)
        print("     7 walkers over %d files done; jobsfs exited %.2fs after SIGTERM"
              % (expected_files, stopped), flush=True)
    return case


def iso_epoch(text):
    from datetime import datetime
    return datetime.fromisoformat(text.strip()).timestamp()


def paused_reader_case(jobsfs, sim_path, tmp):
    """A reader that stops halfway through the root while `ls` reads it anew, over a
    cluster gaining 30 jobs a second: the reader's stream is one listing, from its
    first entry to its last (issue 11: it went on in the newer listing, reading 2,154
    names of 2,000, 39 of them twice). Checked without knowing which listing: no name
    twice, and the names read are exactly the jobs that existed at one moment (none
    started later than a job left out)."""
    def case():
        sim = harness.Sim(sim_path, ["--jobs", "2000", "--rate", "30", "--expiry", "86400",
                                     "--seed", "7"])
        mp = os.path.join(tmp, "paused")
        os.makedirs(mp, exist_ok=True)
        m = harness.Mount(jobsfs, sim.url, mp, options=["expiry=86400", "ttl=1"])
        try:
            for attempt in range(3):
                os.listdir(mp)  # the kernel keeps this listing: the reader starts in it
                names = []
                with os.scandir(mp) as it:
                    for entry in it:
                        names.append(entry.name)
                        if len(names) == 1000:
                            # jobsfs goes stale (ttl 1 s), the keeper takes back the
                            # kernel's copy, and `ls` reads a newer listing meanwhile.
                            for _ in range(3):
                                time.sleep(1.2)
                                subprocess.run(["ls", mp], capture_output=True, timeout=60)
                dups = len(names) - len(set(names))
                assert dups == 0, "%d names read, %d of them twice" % (len(names), dups)
                start = {r["uuid"]: iso_epoch(r["start_time"]) for r in sim.jobs()}
                read = set(names)
                newest_read = max(start[n] for n in read)
                older_left_out = [n for n, t in start.items()
                                  if n not in read and t < newest_read - 1]
                assert not older_left_out, \
                    "%d names read, yet %d jobs older than the newest read were left " \
                    "out: not one listing" % (len(names), len(older_left_out))
            print("     3 paused reads: one listing each (%d names in the last)" % len(names),
                  flush=True)
        finally:
            m.unmount()
            sim.stop()
    return case


def expected(jobsfs, sim, tmp):
    """Files and matches of the tree, counted once with one walker (a warm reference
    is fine: the rounds each mount anew, cold)."""
    mp = os.path.join(tmp, "ref")
    os.makedirs(mp, exist_ok=True)
    m = harness.Mount(jobsfs, sim.url, mp, options=["expiry=86400"])
    try:
        r = subprocess.run(["grep", "-rc", PATTERN, mp], capture_output=True, timeout=120)
        lines = r.stdout.decode().splitlines()
        return len(lines), sum(int(line.rsplit(":", 1)[1]) for line in lines)
    finally:
        m.unmount()


def main():
    jobsfs, sim_path = harness.binaries_or_skip()
    for tool in ("rg", "tar", "cp", "grep"):
        if not shutil.which(tool):
            harness.skip("%s is not installed (scripts/test installs ripgrep)" % tool)
    tmp = harness.tempdir("jobsfs-walkers-")
    # No job ends its expiry during the test: every walker must see every file.
    sim = harness.Sim(sim_path, ["--jobs", str(JOBS), "--expiry", "86400"])
    files, matches = expected(jobsfs, sim, tmp)
    assert files > JOBS * 5 and matches > 0, (files, matches)
    runner = harness.Runner(case_timeout=WALK_TIMEOUT + 60)
    runner.run("a reader paused halfway while ls runs reads one listing",
               paused_reader_case(jobsfs, sim_path, tmp))
    for options, label in ((["max_threads=2"], "max_threads=2"), ([], "default threads")):
        options = options + ["expiry=86400"]  # as the simulator's
        for r in range(1, ROUNDS + 1):
            runner.run("%s, round %d: 7 walkers cold, all finish, SIGTERM exits" % (label, r),
                       round_case(jobsfs, sim, tmp, options, files, matches))
    return runner.finish()


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
