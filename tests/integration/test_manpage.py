#!/usr/bin/env python3
"""jobsfs's command line conventions and its manual page.

  - `jobsfs -h`/`--help` and `-V`/`--version` write to stdout and exit 0 (FUSE's
    conventions); an unknown option, a bad value, allow_other without
    default_permissions are refused with one line and exit 1; the mount(8) keywords
    that reach a helper (_netdev, nofail, x-systemd.*, ...) are ignored;
  - `meson install --destdir` installs jobsfs and jobsfs(1) (and ontap-sim only with
    -Dinstall_sim=true); the page renders without a warning (groff -ww, man -l); it
    lists every option `jobsfs -h` lists, with the same default.

None of this mounts anything: a refused option never gets that far, and where an
option is accepted jobsfs goes on to ask a closed port and stops there.
Environment: JOBSFS (the binary), MESON_BUILD_ROOT (the build dir, for meson install;
else the one holding JOBSFS). Exit status: 0 all passed, 1 a case failed.
"""

import json
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANPAGE = os.path.join(SOURCE_ROOT, "doc", "jobsfs.1")
TIMEOUT = 60


def jobsfs_path():
    path = os.environ.get("JOBSFS", "")
    if not path or not os.access(path, os.X_OK):
        harness.skip("jobsfs is not built (JOBSFS=%r)" % path)
    return path


JOBSFS = jobsfs_path()
BUILD_ROOT = os.environ.get("MESON_BUILD_ROOT") or os.path.dirname(
    os.path.dirname(os.path.abspath(JOBSFS)))


def run(argv, env=None, **kw):
    full_env = dict(os.environ, LC_ALL="C")
    full_env.pop("JOBSFS_LOG", None)
    full_env.pop("JOBSFS_PASSWORD", None)
    full_env.update(env or {})
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT,
                          env=full_env, stdin=subprocess.DEVNULL, **kw)


def refused(options, mountpoint):
    """jobsfs -f -o OPTIONS against a closed port: (exit code, stderr)."""
    url = "http://127.0.0.1:%d" % harness.closed_port()
    r = run([JOBSFS, "-f", "-o", options, url, mountpoint])
    assert not harness.mounted(mountpoint), "jobsfs mounted %s" % mountpoint
    return r.returncode, r.stderr


# ---------------------------------------------------------------------------------------
# The command line.

def help_text():
    r = run([JOBSFS, "-h"])
    assert r.returncode == 0, "jobsfs -h exited %d: %s" % (r.returncode, r.stderr)
    return r.stdout


def case_help():
    for flag in ("-h", "--help"):
        r = run([JOBSFS, flag])
        assert r.returncode == 0, "%s exited %d" % (flag, r.returncode)
        assert r.stdout.startswith("usage: "), "%s: stdout %r" % (flag, r.stdout[:80])
        assert "URL MOUNTPOINT" in r.stdout
        assert "FUSE options:" in r.stdout, "%s does not list FUSE's options" % flag
        assert r.stderr == "", "%s wrote to stderr: %r" % (flag, r.stderr)


def case_version():
    for flag in ("-V", "--version"):
        r = run([JOBSFS, flag])
        assert r.returncode == 0, "%s exited %d: %s" % (flag, r.returncode, r.stderr)
        lines = r.stdout.splitlines()
        assert lines and re.fullmatch(r"jobsfs \d+\.\d+\.\d+", lines[0]), \
            "%s: first line %r" % (flag, lines[:1])
        assert any(line.startswith("FUSE library version 3.") for line in lines), r.stdout


def case_no_arguments():
    for argv in ([], ["http://127.0.0.1:9"]):
        r = run([JOBSFS, *argv])
        assert r.returncode == 1, "jobsfs %s: exit %d" % (" ".join(argv), r.returncode)
        assert r.stdout == "" and "usage: jobsfs [options] URL|CONFIG MOUNTPOINT (see jobsfs -h)" \
            in r.stderr, "jobsfs %s: %r" % (" ".join(argv), r.stderr)


def case_unknown_options(tmp):
    mnt = os.path.join(tmp, "unknown")
    os.mkdir(mnt)
    for options, line in (
            ("foo", "jobsfs: unknown option -o foo; see jobsfs -h"),
            ("ttl=1,foo=bar,baz", "jobsfs: unknown options -o foo=bar,baz; see jobsfs -h")):
        code, err = refused(options, mnt)
        assert code == 1, "-o %s: exit %d, expected 1: %s" % (options, code, err)
        assert err.strip() == line, "-o %s: stderr %r, expected %r" % (options, err, line)
    r = run([JOBSFS, "-f", "--frobnicate", "http://127.0.0.1:9", mnt])
    assert r.returncode == 1 and "unknown option --frobnicate; see jobsfs -h" in r.stderr, \
        "--frobnicate: exit %d, %r" % (r.returncode, r.stderr)


def case_bad_values(tmp):
    mnt = os.path.join(tmp, "values")
    os.mkdir(mnt)
    for options, words in (("loglevel=loud", "expected err, warn, info or debug"),
                           ("ttl=-1", "expected seconds"),
                           ("page_size=0", "expected a whole number"),
                           ("password=x", "-o password= is not accepted")):
        code, err = refused(options, mnt)
        assert code == 1, "-o %s: exit %d, expected 1" % (options, code)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "jobsfs -h" in lines[0] or \
            options.startswith("password") and words in err, \
            "-o %s: stderr %r" % (options, err)


def case_allow_other(tmp):
    mnt = os.path.join(tmp, "allow_other")
    os.mkdir(mnt)
    code, err = refused("allow_other", mnt)
    assert code == 1, "allow_other alone: exit %d" % code
    assert "allow_other needs -o default_permissions" in err, err
    # Together they pass the option check: jobsfs goes on to the cluster (closed).
    code, err = refused("allow_other,default_permissions", mnt)
    assert code == 1 and "cannot connect" in err and "allow_other" not in err, \
        "allow_other,default_permissions: exit %d, %r" % (code, err)


def case_mount_keywords_ignored(tmp):
    mnt = os.path.join(tmp, "keywords")
    os.mkdir(mnt)
    options = ("_netdev,nofail,auto,noauto,user,users,nouser,defaults,comment=jobs,"
               "x-systemd.automount,x-systemd.requires=network-online.target,"
               "username=admin")
    code, err = refused(options, mnt)
    assert code == 1 and "cannot connect" in err and "unknown option" not in err, \
        "mount(8) keywords: exit %d, %r" % (code, err)


def case_loglevel(tmp):
    """warn by default; -o loglevel= lowers or raises it; -d turns debug on (each HTTP
    exchange); $JOBSFS_LOG overrides them all. Seen on the way to a closed port: the
    warning about insecure over http://, and the debug line of the failed attempt."""
    mnt = os.path.join(tmp, "loglevel")
    os.mkdir(mnt)
    url = "http://127.0.0.1:%d" % harness.closed_port()
    warning = "jobsfs: warning: insecure was asked for"
    exchange = re.compile(r"jobsfs: debug: .*GET /api/cluster/jobs\?\S* -> 0, 0 bytes")

    def attempt(options, flags=(), env=None):
        r = run([JOBSFS, "-f", *flags, "-o", options, url, mnt], env=env)
        assert r.returncode == 1 and "cannot connect" in r.stderr, r.stderr
        return r.stderr

    err = attempt("insecure")
    assert warning in err and "debug:" not in err, "default level: %r" % err
    err = attempt("insecure,loglevel=err")
    assert warning not in err, "loglevel=err still warns: %r" % err
    err = attempt("insecure,loglevel=err", env={"JOBSFS_LOG": "warn"})
    assert warning in err, "JOBSFS_LOG=warn does not override loglevel=err: %r" % err
    err = attempt("insecure,loglevel=debug")
    assert exchange.search(err), "loglevel=debug shows no HTTP exchange: %r" % err
    err = attempt("insecure", flags=("-d",))
    assert exchange.search(err), "-d shows no HTTP exchange: %r" % err
    err = attempt("insecure", flags=("-d",), env={"JOBSFS_LOG": "warn"})
    assert not exchange.search(err) and warning in err, "JOBSFS_LOG=warn with -d: %r" % err


# ---------------------------------------------------------------------------------------
# Installation and the manual page.

def install(tmp):
    """meson install into a fresh DESTDIR: the files installed, by path under it."""
    if not shutil.which("meson"):
        raise AssertionError("meson is not in PATH")
    dest = os.path.join(tmp, "destdir")
    r = subprocess.run(["meson", "install", "--no-rebuild", "--quiet", "-C", BUILD_ROOT,
                        "--destdir", dest], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, "meson install: %s%s" % (r.stdout, r.stderr)
    found = set()
    for root, _, files in os.walk(dest):
        for f in files:
            found.add(os.path.relpath(os.path.join(root, f), dest))
    return dest, found


def build_option(name):
    with open(os.path.join(BUILD_ROOT, "meson-info", "intro-buildoptions.json")) as f:
        for opt in json.load(f):
            if opt["name"] == name:
                return opt["value"]
    raise AssertionError("no build option %s" % name)


def case_install(tmp):
    dest, found = install(tmp)
    bins = {f for f in found if "/bin/" in "/" + f}
    mans = {f for f in found if f.endswith("man1/jobsfs.1")}
    assert any(f.endswith("bin/jobsfs") for f in bins), "no bin/jobsfs in %s" % sorted(found)
    assert len(mans) == 1, "no man1/jobsfs.1 in %s" % sorted(found)
    sim = any(f.endswith("bin/ontap-sim") for f in bins)
    assert sim == bool(build_option("install_sim")), \
        "ontap-sim installed: %s, install_sim: %s" % (sim, build_option("install_sim"))
    with open(os.path.join(dest, mans.pop()), "rb") as f, open(MANPAGE, "rb") as g:
        assert f.read() == g.read(), "the installed page differs from doc/jobsfs.1"
    installed = os.path.join(dest, next(f for f in bins if f.endswith("bin/jobsfs")))
    r = run([installed, "-V"])
    assert r.returncode == 0 and r.stdout.startswith("jobsfs "), r.stdout + r.stderr


def render(page):
    """The page as plain text, wide enough that no option is broken across lines."""
    if shutil.which("groff"):
        r = run(["groff", "-man", "-ww", "-z", page])
        assert r.returncode == 0 and r.stderr == "", "groff -ww: %r" % r.stderr
    else:
        raise AssertionError("groff is not installed (package groff-base)")
    if not shutil.which("man"):
        raise AssertionError("man is not installed (package man-db)")
    r = run(["man", "--warnings", "-l", page], env={"MANWIDTH": "200", "MANPAGER": "cat",
                                                    "PAGER": "cat"})
    assert r.returncode == 0, "man -l exited %d: %s" % (r.returncode, r.stderr)
    assert r.stderr == "", "man -l warned: %r" % r.stderr
    return r.stdout


def help_options(text):
    """From jobsfs -h: [(option as written, default or None)] of jobsfs's own options."""
    ours = text.split("jobsfs options:", 1)[1].split("\n\n", 1)[0]
    options = []
    for line in ours.splitlines():
        m = re.match(r"\s+(-o [a-z_]+=?(?:[A-Za-z]+)?(?:,[a-z_]+=[A-Z]+)?|-h, --help|"
                     r"-V, --version|-o [a-z_]+)\s", line)
        if not m:
            continue
        d = re.search(r"\(default:? ([^;)]+)", line)
        options.append((m.group(1), d.group(1).strip() if d else None))
    assert len(options) >= 15, "only %d options parsed from jobsfs -h" % len(options)
    return options


def case_manpage(tmp):
    text = render(MANPAGE)
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "THE TREE",
                    "VIEWS AND THE QUERY LANGUAGE", "CACHING", "HISTORY", "ERRORS", "EXAMPLES",
                    "FILES", "ENVIRONMENT", "SEE ALSO"):
        assert re.search(r"^%s$" % section, text, re.M), "no section %s" % section
    for word in ("JOBSFS_PASSWORD", "JOBSFS_LOG", "https_proxy", "no_proxy",
                 "CURL_CA_BUNDLE", "SSL_CERT_FILE", "~/.netrc", "fusermount3(1)",
                 "mount.fuse3(8)", "fuse.jobsfs", "_netdev", "[Mount]"):
        assert word in text, "the page does not mention %s" % word
    lines = text.splitlines()
    for option, default in help_options(help_text()):
        # The entry: the line that starts with the option, up to the next entry.
        head = option.split("=")[0] + ("=" if "=" in option else "")
        at = [i for i, line in enumerate(lines) if line.strip().startswith(head)]
        assert at, "jobsfs -h lists %s, the man page does not" % option
        entry = []
        for line in lines[at[0] + 1:]:
            if line.strip().startswith("-") and line.startswith(" " * 7) \
                    and not line.startswith(" " * 8):
                break
            entry.append(line)
        entry = " ".join(" ".join(entry).split())
        if default is not None:
            assert re.search(r"Default: (?:the )?%s\b" % re.escape(default), entry), \
                "%s: jobsfs -h says default %s, the man page: %r" % (option, default, entry)


def main():
    tmp = harness.tempdir("jobsfs-man-")
    runner = harness.Runner(case_timeout=120)
    runner.run("help", case_help)
    runner.run("version", case_version)
    runner.run("no URL or mount point", case_no_arguments)
    runner.run("unknown options", lambda: case_unknown_options(tmp))
    runner.run("bad values", lambda: case_bad_values(tmp))
    runner.run("allow_other needs default_permissions", lambda: case_allow_other(tmp))
    runner.run("mount(8) keywords ignored", lambda: case_mount_keywords_ignored(tmp))
    runner.run("loglevel and JOBSFS_LOG", lambda: case_loglevel(tmp))
    runner.run("meson install", lambda: case_install(tmp))
    runner.run("man page", lambda: case_manpage(tmp))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
