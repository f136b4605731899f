"""Shared helpers of the integration tests (tests/integration/test_*.py):
TAP output, bounded subprocess runs, managed child processes whose
stdout/stderr are read by threads, signal-safe cleanup, and the pieces of
the network-namespace testbed (scripts/testbed.sh) that every evgate test
needs: running code in a namespace, the telemetry socket, EAL memory
options.

A test script typically reads

    tap = taputil.Tap()
    procs = taputil.ProcSet()
    with taputil.signals_raise():    # SIGINT/SIGTERM/SIGHUP -> Interrupted
        try:
            ...  tap.result(ok, "behaviour_name", why) ...
        finally:
            procs.kill_all()          # by PID, never by name
    return tap.finish()

Nothing here keeps state outside the objects it returns.
"""

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


# ---- TAP -------------------------------------------------------------------

class Fail(Exception):
    """A check failed; the message says which."""


class Abort(Exception):
    """The rest of the test cannot run (evgate did not start, ...)."""


class Interrupted(BaseException):
    """A signal arrived (signals_raise()); the test stops and cleans up."""


def check(cond, why):
    if not cond:
        raise Fail(why)


def diag(text):
    """A TAP diagnostic: every line of text behind '# '."""
    for line in str(text).splitlines() or [""]:
        print(f"# {line}", flush=True)


class Tap:
    """TAP version 12 on stdout: test points numbered as they come, the
    plan either first (plan(n)) or last (finish())."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        self.planned = None

    def plan(self, n):
        self.planned = n
        print(f"1..{n}", flush=True)

    def result(self, ok, name, why="", todo=None):
        """One test point; why is printed as a diagnostic. With todo (a
        reason), a failure is expected and does not fail the test."""
        self.n += 1
        if not ok and todo is None:
            self.failed += 1
        mark = f" # TODO {todo}" if todo is not None else ""
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}{mark}",
              flush=True)
        if why:
            diag(why)
        return ok

    def skip(self, name, why):
        self.n += 1
        print(f"ok {self.n} - {name} # SKIP {why}", flush=True)

    diag = staticmethod(diag)

    def bail_out(self, why):
        self.failed += 1
        print(f"Bail out! {why}", flush=True)

    @staticmethod
    def skip_all(why):
        """Nothing can run here (no root, no loop device, ...): exit 0."""
        print(f"1..0 # SKIP {why}", flush=True)
        sys.exit(0)

    @classmethod
    def need_root(cls, why, tools=()):
        """Skips the whole test unless root and every one of tools is on
        PATH; why says what root is needed for."""
        if os.geteuid() != 0:
            cls.skip_all(f"needs root ({why})")
        for tool in tools:
            if shutil.which(tool) is None:
                cls.skip_all(f"'{tool}' not installed "
                             "(scripts/setup-deps.sh installs it)")

    def finish(self):
        """Prints the plan unless given first; the exit status."""
        if self.planned is None:
            print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0


def run_case(tap, name, fn, ctx, reports=25, last=None):
    """Runs fn(ctx) as one test point: ok (fn's return value, if any, as a
    note) unless it raises; a Fail prints its message and the report
    (reports lines a stream) of every process in ctx.runs, or of the last
    `last` of them, anything else its traceback. The processes of ctx.runs
    are killed either way (a case that failed half-way may leave one)."""
    try:
        note = fn(ctx)
    except Fail as e:
        tap.result(False, name, str(e))
        for p in ctx.runs[-last if last else 0:]:
            diag(p.report(reports))
        return False
    except Exception:
        tap.result(False, name, traceback.format_exc())
        return False
    finally:
        for p in ctx.runs:
            p.kill()
    return tap.result(True, name, note or "")


def _raise_interrupted(sig, frame):
    raise Interrupted(f"signal {sig}")


@contextlib.contextmanager
def signals_raise():
    """SIGTERM, SIGHUP and SIGINT raise Interrupted inside the block; on
    the way out they are ignored, so that the cleanup after the block
    cannot be cut short by a second signal."""
    for sig in SIGNALS:
        signal.signal(sig, _raise_interrupted)
    try:
        yield
    finally:
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)


# ---- processes -------------------------------------------------------------

def run(cmd, timeout=20, env=None, check=False):
    """Runs cmd to its end, stdout and stderr together in .stdout; raises
    subprocess.TimeoutExpired past timeout (the child is killed), and
    Abort on a non-zero exit status when check is set."""
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True,
                       errors="replace", timeout=timeout, env=env)
    if check and p.returncode != 0:
        raise Abort(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}")
    return p


class Proc:
    """A child process in a session of its own; threads read its stdout
    and stderr line by line (stderr into stdout's list with merge=True).
    Every wait is bounded; kill() works by PID."""

    def __init__(self, cmd, merge=False, env=None):
        self.cmd = [str(a) for a in cmd]
        self.out = []
        self.err = self.out if merge else []
        self.rc = None
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merge else subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
            start_new_session=True, env=env)
        self.pid = self.proc.pid
        streams = [(self.proc.stdout, self.out)]
        if not merge:
            streams.append((self.proc.stderr, self.err))
        self.readers = [threading.Thread(target=self._read, args=s,
                                         daemon=True) for s in streams]
        for t in self.readers:
            t.start()

    def _read(self, stream, lines):
        for line in stream:
            with self.cond:
                lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def output(self):
        """A copy of the stdout lines so far (with stderr if merged)."""
        with self.cond:
            return list(self.out)

    def _wait_for(self, found, reader, timeout):
        """found() under the lock until true, the reader ends or timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                r = found()
                if r is not None:
                    return r
                left = deadline - time.monotonic()
                if left <= 0 or not reader.is_alive():
                    return found()
                self.cond.wait(min(left, 0.1))

    def wait_line(self, text, timeout, start=0, prefix=False):
        """Index of the first stdout line from start that contains text
        (starts with it, with prefix), or -1 on timeout or when the
        process closed its stdout without printing it."""
        def found():
            for i in range(start, len(self.out)):
                line = self.out[i]
                if line.startswith(text) if prefix else text in line:
                    return i
            return None
        i = self._wait_for(found, self.readers[0], timeout)
        return -1 if i is None else i

    def wait_lines(self, n, timeout):
        """True once stdout has n lines; False on timeout or exit."""
        return self._wait_for(lambda: True if len(self.out) >= n else None,
                              self.readers[0], timeout) is True

    def wait_stderr_any(self, timeout):
        """True once stderr has a line; False on timeout or exit."""
        return self._wait_for(lambda: True if self.err else None,
                              self.readers[-1], timeout) is True

    def signal(self, sig):
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, sig)

    def wait(self, timeout):
        """The exit status, or None when still running after timeout."""
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self.readers:
            t.join(5)
        return self.rc

    def stop(self, sig, timeout):
        """Sends sig and waits; the exit status or None."""
        self.signal(sig)
        return self.wait(timeout)

    def kill(self, grace=0.0):
        """SIGTERM and up to grace seconds first when grace > 0, then
        SIGKILL; by PID, never by name. Reaps the process."""
        if grace > 0 and self.proc.poll() is None:
            self.stop(signal.SIGTERM, grace)
        if self.proc.poll() is None:
            self.signal(signal.SIGKILL)
        self.wait(10)

    def gone(self):
        """Reaped, and no process with its PID left."""
        if self.proc.poll() is None:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return True
        return False  # reaped, but the PID is alive again (reused?)

    def report(self, max_lines=25, tail=False):
        """What it was asked and what it said, for a TAP diagnostic: the
        first (or, with tail, the last) max_lines of each stream."""
        text = [f"command: {' '.join(self.cmd)}", f"exit status: {self.rc}"]
        with self.cond:
            streams = [("stdout", self.out)]
            if self.err is not self.out:
                streams.append(("stderr", self.err))
            for name, lines in streams:
                shown = lines[-max_lines:] if tail else lines[:max_lines]
                text.append(f"{name}: {len(lines)} line(s)")
                if tail and len(lines) > len(shown):
                    text.append("  ...")
                text += [f"  {line}" for line in shown]
                if not tail and len(lines) > len(shown):
                    text.append("  ...")
        return "\n".join(text)


class ProcSet:
    """Every process a test starts, so that all of them are killed at the
    end, whatever happened, and the test can check none is left."""

    def __init__(self):
        self.started = []

    def start(self, cmd, merge=False, env=None):
        p = Proc(cmd, merge=merge, env=env)
        self.started.append(p)
        return p

    def kill_all(self, grace=0.0):
        for p in self.started:
            p.kill(grace)

    def left(self):
        """The processes still there; they are killed on the way."""
        left = [p for p in self.started if not p.gone()]
        for p in left:
            p.kill()
        return left


# ---- the network-namespace testbed (scripts/testbed.sh) --------------------

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"setns: {os.strerror(e)}")


@contextlib.contextmanager
def in_netns(name):
    """Runs the block in namespace `name` (this thread only). Sockets made
    inside keep living there after the block."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        _setns(target)
        try:
            yield
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


class Testbed:
    """A veth pair into a namespace of its own, named after tag (a short
    string unique to the test run, e.g. "evgt" + pid): scripts/testbed.sh
    up/down with those names."""

    def __init__(self, tag):
        self.ns = tag
        self.host_if = f"{tag}a"[:15]
        self.ns_if = f"{tag}b"[:15]
        self.env = dict(os.environ, EVG_TB_NS=self.ns,
                        EVG_TB_HOST_IF=self.host_if, EVG_TB_NS_IF=self.ns_if)
        self.script = os.path.join(ROOT, "scripts", "testbed.sh")

    def up(self):
        """None when up; a reason to skip when the host cannot build it;
        raises Abort on any other failure."""
        p = run([self.script, "up"], env=self.env, timeout=60)
        if p.returncode == 0:
            return None
        if "cannot create" in p.stdout or "does not work" in p.stdout:
            return ("cannot build the testbed: "
                    f"{p.stdout.strip().splitlines()[-1]}")
        raise Abort(f"scripts/testbed.sh up failed:\n{p.stdout}")

    def down(self):
        """Removes the testbed; the problems left (an empty list)."""
        problems = []
        try:
            p = run([self.script, "down"], env=self.env, timeout=60)
            if p.returncode != 0:
                problems.append(f"testbed down exited {p.returncode}: "
                                f"{p.stdout.strip()}")
        except (OSError, subprocess.TimeoutExpired) as e:
            problems.append(f"testbed down: {e}")
        if self.ns in run(["ip", "netns", "list"], timeout=10).stdout.split():
            problems.append(f"namespace {self.ns} still exists")
        for ifname in (self.host_if, self.ns_if):
            if run(["ip", "link", "show", "dev", ifname],
                   timeout=10).returncode == 0:
                problems.append(f"link {ifname} still exists")
        return problems


def udp_socket_in(ns):
    """A UDP socket that lives in namespace ns."""
    with in_netns(ns):
        return socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


# ---- evgate on the testbed, and its log -----------------------------------

GATE_IP = "10.74.0.2"  # evgate on the host end (scripts/testbed.sh's subnet)
NS_IP = "10.74.0.1"    # the namespace end: the producers
READY_LINE = "evgate: ready"
READY_TIMEOUT = 30.0


def evgate_cmd(evgate, tb, prefix, logdir, opts=(), lcores=("-l", "0-1"),
               eal=()):
    """evgate's command line on tb's host end (net_af_packet) as
    GATE_IP/24, with the log in logdir, and why the memory options were
    chosen (hugepage_args()). --no-pci: port 0 is the af_packet vdev even
    on a host with a NIC bound to a DPDK driver, which evgate leaves
    alone. eal: more EAL options; opts: more evgate options."""
    huge, why = hugepage_args()
    cmd = ([evgate, *lcores, *huge, "--no-pci", "--file-prefix", prefix,
            f"--vdev=net_af_packet0,iface={tb.host_if},framecnt=4096", *eal,
            "--", "--ip", f"{GATE_IP}/24", "--log-dir", logdir, *opts])
    return cmd, why


def start_evgate(procs, cmd, timeout=READY_TIMEOUT):
    """Starts evgate (stdout and stderr merged) and waits for READY_LINE;
    raises Abort with the tail of its output when it does not come."""
    gate = procs.start(cmd, merge=True)
    if gate.wait_line(READY_LINE, timeout) < 0:
        raise Abort(f"evgate did not start:\n{gate.report(60, tail=True)}")
    return gate


def evtail_json(evtail, logdir, timeout=60):
    """`evtail --json logdir`: every record of the log, as dicts; raises
    Abort when evtail fails."""
    p = run([evtail, "--json", logdir], timeout=timeout)
    if p.returncode != 0:
        raise Abort(f"evtail --json {logdir} -> {p.returncode}: "
                    f"{p.stdout[-2000:]}")
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]


# ---- evgate: telemetry and EAL memory --------------------------------------

TELEMETRY_SOCKET = "/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
MIN_FREE_HUGEPAGES = 200


def telemetry(prefix, cmd, timeout=3.0):
    """One telemetry command over the SOCK_SEQPACKET socket of the EAL
    with this --file-prefix; the value of the reply (a dict for
    /evgate/stats)."""
    path = TELEMETRY_SOCKET.format(prefix=prefix)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.settimeout(timeout)
        s.connect(path)
        greeting = json.loads(s.recv(65536).decode())
        bufsize = max(int(greeting.get("max_output_len", 16384)), 16384) * 2
        s.send(cmd.encode())
        reply = json.loads(s.recv(bufsize).decode())
    finally:
        s.close()
    key = cmd.split(",", 1)[0]
    if key not in reply:
        raise KeyError(f"reply to {cmd} has no key {key}: {str(reply)[:300]}")
    return reply[key]


def hugepage_args():
    """EAL memory options, and why: hugepages, in memory, when enough are
    free; otherwise --no-huge."""
    base = "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
    try:
        with open(base) as f:
            free = int(f.read())
    except (OSError, ValueError):
        free = 0
    if free >= MIN_FREE_HUGEPAGES and os.path.ismount("/dev/hugepages"):
        return ["--in-memory"], f"{free} free 2 MiB hugepages"
    # --no-huge implies --legacy-mem, which EAL refuses with --in-memory;
    # --no-shconf keeps it from writing shared config files all the same.
    return (["--no-huge", "-m", "512", "--no-shconf"],
            f"only {free} free 2 MiB hugepages: --no-huge")


def eal_runtime_dir(prefix):
    """The EAL's runtime directory for a --file-prefix (remove it at the
    end: the telemetry socket lives there)."""
    return os.path.dirname(TELEMETRY_SOCKET.format(prefix=prefix))
