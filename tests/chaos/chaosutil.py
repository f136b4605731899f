"""Shared pieces of the chaos drivers (tests/chaos/chaos.py): evgate as a
restartable process on the netns testbed, producers that record every ACK
they receive (the ground truth of "acknowledged"), and the check of a log
against that ground truth.

taputil (tests/integration/taputil.py) and evf (scripts/evf.py) are
imported by path; nothing here keeps state outside the objects it returns.
"""

import base64
import json
import os
import random
import selectors
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import taputil  # noqa: E402
import evf  # noqa: E402

GATE_IP = "10.74.0.2"
READY_LINE = "evgate: ready"
READY_TIMEOUT = 60.0
EVENTS_PER_FRAME = 8
WINDOW_FRAMES = 16
RTO = 0.3              # no ACK progress for this long: go back to the ACK
BACKOFF = (0.005, 0.2)  # NAK BUSY / STORAGE: pause, doubling


def event(producer, stream, session, seq):
    """The deterministic content of one event: (key, value)."""
    key = f"k{seq}".encode()
    value = f"p{producer}.s{stream}.x{session}.q{seq}.".encode()
    return key, value + b"v" * (48 - len(value) % 48)


# ---- evgate ----------------------------------------------------------------

class Gate:
    """evgate on the host end of the testbed, restartable on one log
    directory; every start is a new Proc in procs (killed by PID)."""

    def __init__(self, evgate, tb, prefix, logdir, conf, procs, lcores="0-1"):
        self.cmd_base = [evgate, "-l", lcores]
        self.tb, self.prefix, self.logdir = tb, prefix, logdir
        self.conf, self.procs = conf, procs
        self.proc = None
        self.starts = 0

    def start(self, extra=()):
        huge, _ = taputil.hugepage_args()
        cmd = (self.cmd_base + huge +
               ["--no-pci", "--file-prefix", self.prefix,
                f"--vdev=net_af_packet0,iface={self.tb.host_if},"
                "framecnt=4096",
                "--", "--ip", f"{GATE_IP}/24", "--log-dir", self.logdir,
                "--config", self.conf] + list(extra))
        self.proc = self.procs.start(cmd, merge=True)
        self.starts += 1
        if self.proc.wait_line(READY_LINE, READY_TIMEOUT) < 0:
            raise taputil.Abort("evgate did not start:\n" +
                                self.proc.report(40, tail=True))
        return self.proc

    def alive(self):
        return self.proc is not None and self.proc.proc.poll() is None

    def kill9(self):
        """SIGKILL, reaped; the EAL runtime directory removed."""
        self.proc.signal(signal.SIGKILL)
        rc = self.proc.wait(20)
        import shutil
        shutil.rmtree(taputil.eal_runtime_dir(self.prefix), ignore_errors=True)
        return rc

    def stop(self, timeout=20):
        """SIGINT; the exit status (None: it hung)."""
        return self.proc.stop(signal.SIGINT, timeout)

    def stats(self):
        try:
            return taputil.telemetry(self.prefix, "/evgate/stats")
        except (OSError, ValueError, KeyError) as e:
            return {"error": str(e)}


def write_conf(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


# ---- producers -------------------------------------------------------------

class Flow:
    """One (producer, stream): a windowed go-back-N sender over its own UDP
    socket in the namespace. acked[session] is the highest cumulative ACK
    received for each session it ever used: what was acknowledged."""

    def __init__(self, ns, producer, stream, session):
        self.producer, self.stream = producer, stream
        self.sock = taputil.udp_socket_in(ns)
        self.sock.connect((GATE_IP, evf.DEFAULT_PORT))
        self.sock.setblocking(False)
        self.acked = {}
        self.naks = {}
        self.stats = {"frames": 0, "resent": 0, "timeouts": 0,
                      "send_errors": 0, "acks": 0}
        self.frames = {}
        self.fenced = False
        self.new_session(session)

    def new_session(self, session):
        self.session = session
        self.acked.setdefault(session, 0)
        self.next = 0
        self.high = 0            # highest seq + 1 ever sent in the session
        self.target = 0
        self.frames = {}
        self.progress = time.monotonic()
        self.backoff_until = 0.0
        self.backoff = BACKOFF[0]

    def resume(self):
        """Same session after a restart: go back to the ACKed seq."""
        self.next = self.acked[self.session]
        self.progress = time.monotonic()
        self.backoff_until = 0.0

    def ack(self):
        return self.acked[self.session]

    def frame(self, seq, n):
        f = self.frames.get((seq, n))
        if f is None:
            ev = [event(self.producer, self.stream, self.session, s)
                  for s in range(seq, seq + n)]
            f = evf.build_data(self.producer, self.stream, self.session, seq,
                               ev)
            if len(self.frames) > 4 * WINDOW_FRAMES:
                self.frames = {k: v for k, v in self.frames.items()
                               if k[0] >= self.ack()}
            self.frames[(seq, n)] = f
        return f

    def pump(self, now):
        """Sends what the window allows; returns frames sent."""
        if self.fenced or now < self.backoff_until:
            return 0
        if self.next > self.ack() and now - self.progress > RTO:
            self.stats["timeouts"] += 1
            self.next = self.ack()
            self.progress = now
        sent = 0
        while (self.next < self.target and
               self.next - self.ack() < WINDOW_FRAMES * EVENTS_PER_FRAME):
            n = min(EVENTS_PER_FRAME, self.target - self.next)
            try:
                self.sock.send(self.frame(self.next, n))
            except BlockingIOError:
                break
            except OSError:
                self.stats["send_errors"] += 1
                self.backoff_until = now + 0.05
                break
            self.stats["frames"] += 1
            if self.next < self.high:
                self.stats["resent"] += 1
            self.next += n
            self.high = max(self.high, self.next)
            sent += 1
        return sent

    def receive(self, now):
        """Reads every reply waiting; returns how many were ours."""
        got = 0
        while True:
            try:
                buf = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return got
            except ConnectionRefusedError:
                continue
            try:
                f = evf.decode(buf)
            except evf.EvfError:
                continue
            if (f.producer, f.stream) != (self.producer, self.stream):
                continue
            got += 1
            self.on_reply(f, now)

    def on_reply(self, f, now):
        if f.type == evf.TYPE_ACK:
            self.stats["acks"] += 1
            if f.session in self.acked and f.seq > self.acked[f.session]:
                self.acked[f.session] = f.seq
                if f.session == self.session:
                    self.progress = now
                    self.backoff = BACKOFF[0]
                    self.next = max(self.next, f.seq)
            return
        if f.type != evf.TYPE_NAK:
            return
        self.naks[f.count] = self.naks.get(f.count, 0) + 1
        if f.session != self.session:
            return
        if f.count == evf.NAK_GAP:
            self.next = max(self.ack(), min(self.next, f.seq))
        elif f.count in (evf.NAK_BUSY, evf.NAK_STORAGE):
            self.next = self.ack()
            self.backoff_until = now + self.backoff
            self.backoff = min(self.backoff * 2, BACKOFF[1])
        elif f.count in (evf.NAK_FENCED, evf.NAK_REJECTED):
            self.fenced = True

    def done(self):
        return self.ack() >= self.target

    def close(self):
        self.sock.close()


class Flows:
    """Every flow of a run, driven by one loop (select on their sockets)."""

    def __init__(self, flows):
        self.flows = flows
        self.sel = selectors.DefaultSelector()
        for fl in flows:
            self.sel.register(fl.sock, selectors.EVENT_READ, fl)

    def run(self, until, stop=None, tick=None):
        """Pumps and receives until the monotonic time until, or until
        stop() is true (checked every round); tick(), when given, runs
        every round and the wait for replies is then 1 ms at most."""
        wait = 0.01 if tick is None else 0.001
        while True:
            now = time.monotonic()
            if now >= until or (stop is not None and stop()):
                return
            for fl in self.flows:
                fl.pump(now)
            if tick is not None:
                tick()
            for key, _ in self.sel.select(min(wait, max(until - now, 0))):
                key.data.receive(time.monotonic())

    def drain(self, quiet=0.2):
        """Takes the replies already on their way (no sending)."""
        end = time.monotonic() + quiet
        while time.monotonic() < end:
            for key, _ in self.sel.select(0.02):
                key.data.receive(time.monotonic())

    def all_done(self):
        return all(fl.done() or fl.fenced for fl in self.flows)

    def naks(self):
        out = {}
        for fl in self.flows:
            for c, n in fl.naks.items():
                name = evf.NAK_NAMES.get(c, str(c))
                out[name] = out.get(name, 0) + n
        return out

    def stat(self, key):
        return sum(fl.stats[key] for fl in self.flows)

    def acked_events(self):
        return sum(sum(fl.acked.values()) for fl in self.flows)

    def truth(self):
        """(producer, stream, session) -> highest ACK, for every session."""
        return {(fl.producer, fl.stream, s): a
                for fl in self.flows for s, a in fl.acked.items()}

    def close(self):
        self.sel.close()
        for fl in self.flows:
            fl.close()


def new_session(old):
    """A session above old (and above every earlier run's)."""
    return max(old + 1, time.time_ns())


# ---- the log against the ground truth --------------------------------------

def read_log(evtail, logdir):
    p = taputil.run([evtail, "--json", logdir], timeout=300)
    if p.returncode != 0:
        raise taputil.Fail(f"evtail --json -> {p.returncode}: "
                           f"{p.stdout[-2000:]}")
    return [json.loads(ln) for ln in p.stdout.splitlines() if ln.strip()]


def iter_log(evtail, logdir, timeout=300, args=()):
    """The records of evtail --json (with more evtail args) one at a time,
    so that a log of a million records is never held as a list of dicts;
    raises taputil.Fail on a non-zero exit status or past timeout (evtail
    killed by PID)."""
    deadline = time.monotonic() + timeout
    with tempfile.TemporaryFile(mode="w+") as err:
        p = subprocess.Popen([evtail, "--json", *map(str, args), logdir],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=err, text=True)
        try:
            for n, ln in enumerate(p.stdout):
                if n % 65536 == 0 and time.monotonic() > deadline:
                    raise taputil.Fail(f"evtail --json: over {timeout} s")
                if ln.strip():
                    yield json.loads(ln)
            rc = p.wait(max(deadline - time.monotonic(), 1.0))
        except subprocess.TimeoutExpired:
            raise taputil.Fail(f"evtail --json: over {timeout} s")
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(10)
            p.stdout.close()
        if rc != 0:
            err.seek(0)
            raise taputil.Fail(f"evtail --json -> {rc}: {err.read()[-2000:]}")


def verify_log(evtail, logdir):
    p = taputil.run([evtail, "--verify", logdir], timeout=300)
    return p.returncode, p.stdout.strip()[-1500:]


class LogCheck:
    """Lost, duplicated, out-of-order, gap and bad-payload counts of a log
    against truth (key -> highest ACK). Events of a session above its ACK
    may be present (persisted, not acknowledged) but still exactly once,
    in order and without a hole."""

    def __init__(self, recs, truth):
        self.records = len(recs)
        self.acked = sum(truth.values())
        seqs = {}
        self.bad_payload = []
        for r in recs:
            k = (r["producer"], r["stream"], r["session"])
            seqs.setdefault(k, []).append(r["seq"])
            want = event(*k, r["seq"])
            got = (base64.b64decode(r["key_b64"]),
                   base64.b64decode(r["value_b64"]))
            if got != want and len(self.bad_payload) < 5:
                self.bad_payload.append((k, r["seq"], got))
        self.lost, self.dup, self.disorder, self.holes = 0, 0, 0, 0
        self.examples = []
        for k, a in truth.items():
            have = set(seqs.get(k, ()))
            miss = [s for s in range(a) if s not in have]
            if miss:
                self.lost += len(miss)
                self.examples.append(f"lost {k}: {len(miss)} acked seqs "
                                     f"missing, first {miss[:5]}; ack {a}")
        for k, lst in seqs.items():
            d = len(lst) - len(set(lst))
            if d:
                self.dup += d
                self.examples.append(f"duplicated {k}: {d} records")
            o = sum(1 for x, y in zip(lst, lst[1:]) if y <= x)
            if o:
                self.disorder += o
                self.examples.append(f"out of order {k}: {o} steps")
            if set(lst) != set(range(len(set(lst)))):
                self.holes += 1
                self.examples.append(f"hole {k}: seqs not 0..n-1")
        self.unknown = [k for k in seqs if k not in truth]

    def ok(self):
        return not (self.lost or self.dup or self.disorder or self.holes or
                    self.bad_payload or self.unknown)

    def line(self):
        return (f"{self.records} records, {self.acked} acked events: "
                f"lost {self.lost}, duplicated {self.dup}, out of order "
                f"{self.disorder}, holes {self.holes}, bad payloads "
                f"{len(self.bad_payload)}, unknown sessions "
                f"{len(self.unknown)}")

    def why(self):
        return "\n".join([self.line()] + self.examples[:10] +
                         [f"bad payload {b}" for b in self.bad_payload])


def rng_from_env(seed):
    r = random.Random(seed)
    taputil.diag(f"random seed {seed} (rerun with --seed {seed})")
    return r


def link_stats(ifname, ns=None):
    """The kernel's counters of a link (ip -s -j link): rx/tx packets and
    drops; {} when it cannot be read."""
    cmd = (["ip", "-n", ns] if ns else ["ip"]) + ["-s", "-j", "link", "show",
                                                  "dev", ifname]
    try:
        p = taputil.run(cmd, timeout=10)
        s = json.loads(p.stdout)[0]["stats64"]
    except (ValueError, KeyError, IndexError, OSError):
        return {}
    return {"rx_packets": s["rx"]["packets"], "rx_dropped": s["rx"]["dropped"],
            "tx_packets": s["tx"]["packets"], "tx_dropped": s["tx"]["dropped"]}


def delta(before, after):
    return {k: after.get(k, 0) - before.get(k, 0) for k in after
            if isinstance(after.get(k), int)}


def pin_neighbor(tb):
    """A permanent ARP entry for evgate in the namespace, so that the
    kernel never drops datagrams queued behind an ARP resolution (its
    unresolved queue is a few packets long): what a producer sends then
    reaches the wire, and evgate's counters can be held to it."""
    with open(f"/sys/class/net/{tb.host_if}/address") as f:
        mac = f.read().strip()
    taputil.run(["ip", "-n", tb.ns, "neigh", "replace", GATE_IP, "lladdr",
                 mac, "dev", tb.ns_if, "nud", "permanent"], check=True)


def verify_sessions(evtail, logdir, timeout=300):
    """evtail --verify --json: its exit status, its text lines, and
    {(producer, stream, session): {"first_seq", "last_seq", "records"}}.
    Exit status 0 means every CRC is right and, within each session, the
    seqs follow one by one: seqs first_seq..last_seq are each there once.
    C speed: millions of records in seconds, where reading them into
    Python took minutes."""
    p = taputil.run([evtail, "--verify", "--json", logdir], timeout=timeout)
    sessions, text = {}, []
    for ln in p.stdout.splitlines():
        if ln.startswith("{"):
            j = json.loads(ln)
            sessions[(j["producer"], j["stream"], j["session"])] = j
        else:
            text.append(ln)
    return p.returncode, text, sessions
