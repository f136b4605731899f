#!/usr/bin/env python3
"""evgate on a disk that fills up: the end-to-end ENOSPC path of the log
(docs/storage.md, "Writing and durability", Failures). Speaks TAP to meson.

    test_enospc.py EVGATE EVTAIL [uring|psync ...]

For each store (default: both), a small ext4 image is loop-mounted in a
temporary directory and evgate writes its log there (one partition, 1 MiB
segments, ACK level synced), on the testbed of test_netns.py (a veth pair
into a namespace named after our PID). Once evgate is ready a filler file
takes all but FREE_LEFT bytes of the filesystem; a producer in the
namespace then sends until the log cannot roll its next segment. While the
disk is full, DATA must get NAK STORAGE (code 5), the storage counters
must count it, ICMP echo must be answered and EVF PING too (with NAK
STORAGE, as DATA is, while the log cannot take appends). Then
the filler is deleted: the retransmitted events must be ACKed, the log
must hold every ACKed event exactly once in seq order (evtail --json), and
SIGINT must give exit status 0.

Skips (TAP "1..0 # SKIP") without root, mkfs.ext4, a loop device or the
testbed. Cleans up whatever happens, also on SIGINT/SIGTERM: evgate by
PID, umount (which frees the loop device), the image, the testbed.
"""

import os
import shutil
import signal
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import taputil  # noqa: E402
from taputil import GATE_IP, Abort, Interrupted, Tap, run  # noqa: E402
sys.path.insert(0, os.path.join(taputil.ROOT, "scripts"))
import evf  # noqa: E402  (scripts/evf.py)

STORES = ("uring", "psync")

IMAGE_MB = 24
FREE_LEFT = 256 * 1024      # left by the filler: less than one segment
CONFIG = ("[log]\npartitions = 1\nsegment_mb = 1\nbatch_kb = 64\n"
          "store = {store}\n[ack]\nlevel = synced\n")
EVENTS_PER_FRAME = 6
VALUE_SIZE = 150            # 6 events of ~220 bytes: one ~1.4 KB frame
MAX_FILL_FRAMES = 4000      # the disk is full long before (1 MiB + 256 KiB)
FILL_TIMEOUT = 90.0
STALL = 3.0                 # no ACK progress for this long: the disk is full
FULL_WATCH = 5.0            # how long NAK STORAGE / PING replies are awaited
RESUME_FRAMES = 100         # sent after the space is freed
RESUME_TIMEOUT = 60.0
REPLY_TIMEOUT = 0.5
EXIT_TIMEOUT = 10.0

# Telemetry counters (docs/telemetry.md) that must count a full disk.
STORAGE_COUNTERS = ("seq_storage", "journal_storage_errors")
LOG_COUNTERS = ("log_roll_errors", "log_write_errors")


class Disk:
    """An ext4 image loop-mounted under tmp; the log directory on it."""

    def __init__(self, tmp):
        self.image = os.path.join(tmp, "disk.img")
        self.mnt = os.path.join(tmp, "mnt")
        self.log = os.path.join(self.mnt, "log")
        self.filler = os.path.join(self.mnt, "filler")
        self.mounted = False
        self.problems = []

    def make(self):
        """None when mounted; a reason to skip when loop mounts cannot
        work here; Abort on any other failure."""
        os.makedirs(self.mnt)
        with open(self.image, "wb") as f:
            f.truncate(IMAGE_MB << 20)
        run(["mkfs.ext4", "-q", "-F", "-m", "0", self.image], check=True)
        p = run(["mount", "-o", "loop", self.image, self.mnt], timeout=30)
        if p.returncode != 0:
            return f"cannot loop-mount an ext4 image: {p.stdout.strip()}"
        self.mounted = True
        os.mkdir(self.log)
        return None

    def free(self):
        st = os.statvfs(self.mnt)
        return st.f_bavail * st.f_frsize

    def fill(self, leave):
        """A filler file that leaves about `leave` bytes free."""
        size = self.free() - leave
        fd = os.open(self.filler, os.O_CREAT | os.O_WRONLY, 0o644)
        try:
            os.posix_fallocate(fd, 0, max(size, 4096))
            os.fsync(fd)
        finally:
            os.close(fd)

    def unfill(self):
        os.unlink(self.filler)

    def remove(self):
        """umount (mount -o loop set autoclear: the loop device goes with
        it), then the image; every problem so far. Idempotent."""
        problems = self.problems
        if self.mounted:
            p = run(["umount", self.mnt], timeout=30)
            if p.returncode != 0:
                problems.append(f"umount: {p.stdout.strip()}; lazy umount")
                run(["umount", "-l", self.mnt], timeout=30)
            self.mounted = False
        if os.path.exists(self.image):
            for dev in loops_of(self.image):
                run(["losetup", "-d", dev], timeout=10)
                problems.append(f"loop device {dev} was still attached")
            os.unlink(self.image)
        if os.path.ismount(self.mnt):
            problems.append(f"{self.mnt} is still mounted")
        return problems


def loops_of(image):
    p = run(["losetup", "-j", image], timeout=10)
    return [ln.split(":", 1)[0] for ln in p.stdout.splitlines() if ":" in ln]


# ---- the producer ----------------------------------------------------------

class Sender:
    """One producer, stop-and-wait: the frame at the acknowledged seq is
    sent until an ACK moves past it. Frames are built once per seq, so a
    retransmission is the same frame."""

    def __init__(self, ns, producer, session):
        self.p = evf.Producer(GATE_IP, evf.DEFAULT_PORT,
                              sock=taputil.udp_socket_in(ns),
                              producer=producer, stream=1, session=session,
                              timeout=REPLY_TIMEOUT)
        self.acked = 0
        self.naks = {}
        self.timeouts = 0
        self.frames = {}

    def frame(self, seq):
        if seq not in self.frames:
            ev = evf.make_events(EVENTS_PER_FRAME, seq, VALUE_SIZE)
            self.frames[seq] = self.p.data(seq, ev)
            if len(self.frames[seq]) > evf.MAX_FRAME:
                raise Abort(f"frame of {len(self.frames[seq])} bytes")
        return self.frames[seq]

    def step(self):
        """Sends the next frame, takes one reply; True on ACK progress."""
        f = self.p.request(self.frame(self.acked), REPLY_TIMEOUT)
        if f is None:
            self.timeouts += 1
            return False
        if f.type == evf.TYPE_NAK:
            self.naks[f.count] = self.naks.get(f.count, 0) + 1
            return False
        if f.type == evf.TYPE_ACK and f.seq > self.acked:
            self.acked = f.seq
            return True
        return False

    def storage_naks(self):
        return self.naks.get(evf.NAK_STORAGE, 0)

    def ping(self):
        return self.p.request(evf.build_ping(self.p.producer, self.p.stream,
                                             self.p.session), REPLY_TIMEOUT)

    def close(self):
        self.p.close()

    def summary(self):
        naks = ", ".join(f"{evf.NAK_NAMES.get(c, c)}:{n}"
                         for c, n in sorted(self.naks.items())) or "none"
        return (f"acked seq {self.acked}, NAKs {naks}, "
                f"{self.timeouts} timeouts")


def fill_until_stuck(s):
    """Sends until NAK STORAGE or STALL seconds without progress; bounded
    in frames and time. True when the disk filled."""
    t_end = time.monotonic() + FILL_TIMEOUT
    progress = time.monotonic()
    for _ in range(MAX_FILL_FRAMES):
        now = time.monotonic()
        if now >= t_end:
            return False
        if s.step():
            progress = time.monotonic()
        elif s.storage_naks() > 0 or now - progress >= STALL:
            return s.acked > 0
    return False


def resume(s, end):
    """Sends until every event below end is ACKed (bounded)."""
    t_end = time.monotonic() + RESUME_TIMEOUT
    while s.acked < end and time.monotonic() < t_end:
        if not s.step() and s.naks:
            time.sleep(0.01)
    return s.acked >= end


# ---- the test --------------------------------------------------------------

def counters(prefix):
    try:
        return taputil.telemetry(prefix, "/evgate/stats")
    except (OSError, ValueError, KeyError) as e:
        return {"error": str(e)}


def while_full(tap, name, s, tb, prefix, gate):
    """The checks while the disk is full."""
    watch_end = time.monotonic() + FULL_WATCH
    pings = []
    while time.monotonic() < watch_end and s.storage_naks() == 0:
        s.step()
        pings.append(s.ping())
    tap.result(s.storage_naks() > 0,
               f"{name}: data_on_a_full_disk_gets_nak_storage_code_5",
               s.summary())
    # Once the log is failing a PING is answered with NAK STORAGE too: its
    # ACK would have to wait for the frames the log cannot take.
    pings.append(s.ping())
    last = pings[-1]
    tap.result(last is not None and last.type == evf.TYPE_NAK and
               last.count == evf.NAK_STORAGE,
               f"{name}: evf_ping_on_a_full_disk_gets_nak_storage",
               f"{sum(f is not None for f in pings)} of {len(pings)} PINGs "
               f"answered; the last: "
               f"{evf.describe(last) if last is not None else 'no reply'}")
    p = run(["ip", "netns", "exec", tb.ns, "ping", "-c", "2", "-i", "0.2",
             "-W", "1", GATE_IP], timeout=15)
    tap.result(p.returncode == 0,
               f"{name}: icmp_echo_is_answered_while_the_disk_is_full",
               p.stdout.strip().splitlines()[-2] if p.stdout else "")
    c = counters(prefix)
    bad = [k for k in STORAGE_COUNTERS if not c.get(k)]
    if not any(c.get(k) for k in LOG_COUNTERS):
        bad.append(" or ".join(LOG_COUNTERS))
    shown = ", ".join(f"{k}={c.get(k)}" for k in
                      STORAGE_COUNTERS + LOG_COUNTERS + ("ack_naks_storage",))
    tap.result(not bad and gate.proc.poll() is None,
               f"{name}: a_full_disk_is_counted_and_evgate_keeps_running",
               f"{shown}; zero: {', '.join(bad) or 'none'}; "
               f"evgate exit status {gate.proc.poll()}")


def check_log(tap, name, evtail, logdir, key, end):
    """Every ACKed event, seqs 0..end-1 of key, once and in order."""
    try:
        recs = taputil.evtail_json(evtail, logdir)
    except Abort as e:
        tap.result(False, f"{name}: log_holds_every_acked_event_once_in_seq_order",
                   str(e))
        return
    seqs = [r["seq"] for r in recs
            if (r["producer"], r["stream"], r["session"]) == key]
    want = list(range(end))
    diff = ""
    if seqs != want:
        i = next((i for i, (a, b) in enumerate(zip(seqs, want)) if a != b),
                 min(len(seqs), len(want)))
        diff = f"; first difference at index {i}: {seqs[i:i + 5]}"
    tap.result(seqs == want,
               f"{name}: log_holds_every_acked_event_once_in_seq_order",
               f"{len(seqs)} records, expected seqs 0..{end - 1}{diff}")


def one_store(tap, procs, name, evgate, evtail, tb, tmp, prefix, disks):
    disk = Disk(tmp)
    disks.append(disk)
    try:
        why = disk.make()
        if why is not None:
            return why
        conf = os.path.join(tmp, "evgate.ini")
        with open(conf, "w") as f:
            f.write(CONFIG.format(store=name))
        cmd, _ = taputil.evgate_cmd(evgate, tb, prefix, disk.log,
                                    ["--config", conf])
        gate = taputil.start_evgate(procs, cmd)
        disk.fill(FREE_LEFT)
        tap.diag(f"{name}: {disk.free()} bytes free after the filler")
        s = Sender(tb.ns, 21, time.time_ns() // 1000)
        try:
            filled = fill_until_stuck(s)
            tap.result(filled, f"{name}: events_are_acked_until_the_disk_is_full",
                       f"{s.summary()}; {disk.free()} bytes free")
            if not filled:
                return None
            while_full(tap, name, s, tb, prefix, gate)
            disk.unfill()
            end = s.acked + RESUME_FRAMES * EVENTS_PER_FRAME
            ok = resume(s, end)
            tap.result(ok, f"{name}: writing_resumes_once_space_is_freed",
                       s.summary() + f"; want acked seq {end}")
        finally:
            s.close()
        rc = gate.stop(signal.SIGINT, EXIT_TIMEOUT)
        tap.result(rc == 0, f"{name}: sigint_exits_0_after_the_disk_was_full",
                   f"exit status {rc}" +
                   ("" if rc == 0 else "\n" + gate.report(30, True)))
        if ok:
            check_log(tap, name, evtail, disk.log,
                      (21, 1, s.p.session), end)
        return None
    finally:
        for g in procs.started:
            g.kill(grace=5)
        disk.remove()  # again in main(), which reports what was left
        shutil.rmtree(taputil.eal_runtime_dir(prefix), ignore_errors=True)


def main(argv):
    if len(argv) < 3 or any(a not in STORES for a in argv[3:]):
        print("usage: test_enospc.py EVGATE EVTAIL [uring|psync ...]",
              file=sys.stderr)
        return 2
    evgate, evtail = (os.path.abspath(a) for a in argv[1:3])
    stores = argv[3:] or list(STORES)
    for prog in (evgate, evtail):
        if not os.access(prog, os.X_OK):
            print(f"test_enospc: {prog}: not an executable", file=sys.stderr)
            return 2
    Tap.need_root("loop mount, network namespace, af_packet",
                  ("mkfs.ext4", "losetup", "mount", "ip", "ethtool", "ping"))

    pid = os.getpid()
    tb = taputil.Testbed(f"evgn{pid}")
    tap = Tap()
    procs = taputil.ProcSet()
    tmp = tempfile.mkdtemp(prefix=f"evgn{pid}-")
    skip = None
    problems = []
    disks = []
    try:
        with taputil.signals_raise():
            try:
                skip = tb.up()
                if skip is None:
                    for st in stores:
                        skip = one_store(tap, procs, st, evgate, evtail, tb,
                                         os.path.join(tmp, st), f"evgn{pid}",
                                         disks)
                        if skip is not None:
                            break
            except Abort as e:
                tap.result(False, "test aborted", str(e))
            except Interrupted as e:
                tap.result(False, "test interrupted", str(e))
            except Exception:
                tap.result(False, "unexpected error", traceback.format_exc())
    finally:
        procs.kill_all(grace=5)
        for d in disks:
            problems += d.remove()
        problems += tb.down()
        left = [p.pid for p in procs.started if not p.gone()]
        problems += [f"evgate pid {pid} still there" for pid in left]
        shutil.rmtree(tmp, ignore_errors=True)
        if skip is not None and tap.n == 0:
            print(f"1..0 # SKIP {skip}", flush=True)
            return 0
        tap.result(not problems,
                   "cleanup_leaves_no_process_mount_loop_device_or_namespace",
                   "\n".join(problems))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
