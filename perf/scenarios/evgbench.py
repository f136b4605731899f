"""Shared by the evgate scenario drivers (perf/README.md): evgate as a
memif server or a net_pcap replayer, evgen runs against it, counters
through telemetry, the CPU map, the filesystem, the MTU the tools accept.

Reuses tests/integration/taputil.py (processes, telemetry, EAL memory).
Every process is bounded by a timeout and stopped by PID; the scratch
directory and the EAL runtime directories go at the end.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.dont_write_bytecode = True
import taputil  # noqa: E402

GATE_IP, GEN_IP = "10.76.0.2", "10.76.0.1"
READY = "evgate: ready"
BASE_MTU = 1500
IP_UDP = 28
EVF_HEADER = 40


class BenchError(Exception):
    pass


def evf_frame_bytes(events, size):
    """EVF/1 DATA bytes of `events` events of `size` key+value bytes."""
    return EVF_HEADER + events * (16 + (size + 7) // 8 * 8)


def help_text(binary):
    p = subprocess.run([binary, "--", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=10)
    return p.stdout


def port_mtu(evgate, evgen):
    """The largest IP MTU both tools accept, and how it was found: evgen's
    `--mtu N ... at most M` and evgate's `--mtu` (jumbo) in --help."""
    gen = re.search(r"--mtu N\s+IP MTU, at most (\d+)", help_text(evgen))
    gate_help = help_text(evgate)
    gate = re.search(r"jumbo frames up to (\d+)", gate_help)
    if "--mtu" not in gate_help or gen is None:
        return BASE_MTU, "evgate has no --mtu: standard 1500"
    m = min(int(gen.group(1)), int(gate.group(1)) if gate else BASE_MTU)
    return max(m, BASE_MTU), (f"evgen --mtu at most {gen.group(1)}, evgate "
                              f"--mtu up to {gate.group(1) if gate else '?'}")


def fits(events, size, mtu):
    """None when a frame fits `mtu`, else the skip reason."""
    need = evf_frame_bytes(events, size) + IP_UDP
    if need <= mtu:
        return None
    return f"skipped: frame of {need} bytes exceeds the port MTU {mtu}"


def fs_of(path):
    p = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE,TARGET", "-T",
                        path], stdout=subprocess.PIPE, text=True, timeout=10)
    f = (p.stdout.split() + ["?", "?", "?"])[:3]
    return {"dir": path, "fs": f[0], "device": f[1], "mount": f[2]}


def eal_memory():
    """EAL memory options and why: 2 MiB hugepages unlinked at once (the
    memif PMD needs the multi-process channel, so not --in-memory) when
    enough are free, else --no-huge."""
    args, why = taputil.hugepage_args()
    if "--in-memory" in args:
        return ["--huge-unlink"], why
    return ["--no-huge", "-m", "512"], why


def memif_bsize(mtu):
    """memif buffers large enough for one frame of this MTU (a frame of
    more than one buffer arrives in several mbufs, which evgate drops)."""
    if mtu <= BASE_MTU:
        return ""
    b = 2048
    while b < mtu + 18:
        b *= 2
    return f",bsize={b}"


def cpus():
    c = sorted(os.sched_getaffinity(0))
    return c[0], c[-1]


def io_workers_of(lines):
    """Where evgate says the kernel's io workers of its log run ([log]
    io_cpus): "0" or "0 (automatic)", or "shared with worker lcores"."""
    for ln in lines:
        if ln.startswith("evgate: log io workers on CPU(s) "):
            return ln.split("CPU(s) ", 1)[1]
        m = re.match(r"evgate: warning: \[log\] io_cpus = (\S+) shares", ln)
        if m:
            return f"{m.group(1)} (shared with a worker lcore)"
        if ln.startswith("evgate: warning: every CPU evgate may use"):
            return "the worker lcores' (no other CPU)"
    return "?"


class Gate:
    """evgate with one config: memif server (socket in tmp) or net_pcap
    replay of rx_pcap; worker lcores 1.. mapped to `worker_cpus`."""

    def __init__(self, evgate, tmp, tag, conf, worker_cpus, pcap=None,
                 mtu=BASE_MTU, io_cpus="auto"):
        self.tmp, self.prefix = tmp, f"evgp{os.getpid()}{tag}"
        self.sock = os.path.join(tmp, f"{tag}.sock")
        self.logdir = os.path.join(tmp, f"log-{tag}")
        os.mkdir(self.logdir)
        cpath = os.path.join(tmp, f"{tag}.ini")
        if io_cpus == "worker":
            io_cpus = ",".join(map(str, sorted(set(worker_cpus))))
        if io_cpus != "auto":  # gate_conf() has a [log] section
            conf = conf.replace("[log]\n", f"[log]\nio_cpus = {io_cpus}\n", 1)
        with open(cpath, "w") as f:
            f.write(conf)
        main_cpu = cpus()[0]
        lc = ",".join([f"0@{main_cpu}"] + [f"{i + 1}@{c}" for i, c in
                                            enumerate(worker_cpus)])
        mem, self.mem_why = eal_memory()
        vdev = (f"net_pcap0,rx_pcap={pcap},infinite_rx=1" if pcap else
                f"net_memif0,role=server,socket={self.sock}{memif_bsize(mtu)}")
        self.cpu_map = {"evgate_main_lcore0": main_cpu, **{
            f"evgate_worker_lcore{i + 1}": c for i, c in
            enumerate(worker_cpus)}}
        self.proc = taputil.Proc(
            [evgate, f"--lcores={lc}", "--no-pci", "--file-prefix",
             self.prefix, "--log-level=lib.eal:error", *mem,
             f"--vdev={vdev}", "--", "--ip", f"{GATE_IP}/24",
             "--log-dir", self.logdir, "--config", cpath], merge=True)
        if self.proc.wait_line(READY, 60) < 0:
            out = self.proc.report(40, tail=True)
            self.stop()
            raise BenchError(f"evgate did not start:\n{out}")
        self.cpu_map["evgate_io_workers"] = io_workers_of(self.proc.output())

    def _tel(self, cmd):
        try:
            return taputil.telemetry(self.prefix, cmd)
        except (OSError, ValueError, KeyError) as e:
            rc = self.proc.proc.poll()
            raise BenchError(f"evgate telemetry {cmd}: {e} (evgate "
                             f"{'running' if rc is None else f'exited {rc}'})"
                             f":\n{self.proc.report(15, tail=True)}") from e

    def stats(self):
        return self._tel("/evgate/stats")

    def config(self):
        return self._tel("/evgate/config")

    def stop(self):
        rc = self.proc.stop(signal.SIGINT, 20)
        if rc is None:
            self.proc.kill()
        shutil.rmtree(self.logdir, ignore_errors=True)
        shutil.rmtree(taputil.eal_runtime_dir(self.prefix), ignore_errors=True)
        return rc


def gate_conf(ack, mtu, extra=""):
    mtu_line = f"mtu = {mtu}\n" if mtu > BASE_MTU else ""
    return (f"[port]\nmbufs = 65535\n{mtu_line}[pipeline]\nring_size = 4096\n"
            f"[ack]\nlevel = {ack}\nnak_rate = 1000000\nnak_burst = 100000\n"
            f"[log]\npartitions = 4\n{extra}")


def delta(before, after):
    return {k: after[k] - before.get(k, 0) for k in after
            if isinstance(after.get(k), int) and after[k] != before.get(k, 0)}


DROP_PREFIXES = ("rx_net_", "rx_evf_", "ring_", "port_rx_", "tx_dropped",
                 "seq_gap", "seq_fenced", "seq_overflow", "seq_table_full",
                 "seq_storage", "seq_events_duplicate", "rx_rejected",
                 "ack_overflow", "journal_abandoned")
NOT_DROPS = ("rx_net_evf", "rx_net_arp", "rx_net_icmp_echo", "rx_evf_ok")


def drops_by_reason(d):
    """Counters that name a drop (docs/telemetry.md) and moved."""
    return {k: v for k, v in sorted(d.items()) if k.startswith(DROP_PREFIXES)
            and k not in NOT_DROPS and not k.endswith(("_enq", "_retries"))
            and v}


def run_evgen(evgen, tag, args, timeout, sock=None, mtu=BASE_MTU):
    """evgen on the main CPU as a memif client of sock (or --pcap-out);
    its JSON summary."""
    mem, _ = eal_memory()
    prefix = f"evgq{os.getpid()}{tag}"
    vdev = ([f"--vdev=net_memif0,role=client,socket={sock}"
             f"{memif_bsize(mtu)}"] if sock else [])
    mtu_opt = ["--mtu", str(mtu)] if mtu > BASE_MTU else []
    p = taputil.Proc([evgen, f"--lcores=0@{cpus()[0]}", "--no-pci",
                      "--file-prefix", prefix, "--log-level=lib.eal:error",
                      *mem, *vdev, "--", "--dst-ip", GATE_IP, "--src-ip",
                      GEN_IP, "--json", *mtu_opt, *args])
    rc = p.wait(timeout)
    if rc is None:
        p.kill(2)
    shutil.rmtree(taputil.eal_runtime_dir(prefix), ignore_errors=True)
    js = [ln for ln in p.output() if ln.startswith("{")]
    if rc != 0 or len(js) != 1:
        raise BenchError(f"evgen failed:\n{p.report(20, tail=True)}")
    return json.loads(js[0])


def gen_args(size, batch, seconds, producers, rate=0, window=256):
    a = ["--event-size", str(size), "--batch", str(batch), "--duration",
         str(seconds), "--producers", str(producers), "--window",
         str(window), "--drain-ms", "1000"]
    return a + (["--rate", str(int(rate))] if rate else [])


def memif_case(evgen, gate, tag, size, batch, seconds, producers, mtu,
               rate=0, window=256):
    """One evgen run against a running memif gate: evgen's figures, the
    gate's counters moved, MB/s written to the log, drops by reason."""
    before, t0 = gate.stats(), time.monotonic()
    gen = run_evgen(evgen, tag, gen_args(size, batch, seconds, producers,
                                         rate, window),
                    seconds + 60, sock=gate.sock, mtu=mtu)
    wall = time.monotonic() - t0
    d = delta(before, gate.stats())
    sec = gen["send_s"] or 1e-9
    return {
        "event_bytes": size, "events_per_frame": batch,
        "frame_bytes": evf_frame_bytes(batch, size), "rate_asked": rate,
        "producers": producers, "window": window,
        "send_s": round(sec, 3), "events_per_s": round(gen["events_per_s"]),
        "frames_per_s": round(gen["frames_per_s"]),
        "acked_events_per_s": round(gen["acked_events_per_s"]),
        "accepted_events": d.get("seq_events_accepted", 0),
        "disk_mb_per_s": round(d.get("log_bytes", 0) / 1e6 / sec, 2),
        "disk_bytes": d.get("log_bytes", 0), "log_syncs": d.get("log_syncs", 0),
        "rtt_us": {k: round(gen["rtt_ns"][k] / 1e3, 1) for k in
                   ("p50", "p99", "p99_9", "max")},
        "rtt_samples": gen["rtt_ns"]["count"],
        "drops": drops_by_reason(d), "evgen_resyncs": gen["resyncs"],
        "evgen_unacked": gen["unacked"], "nak": gen["nak"],
        "wall_s": round(wall, 2)}


class Scratch:
    """A scratch directory under `base`, removed at the end, and the
    gates started in it, stopped at the end; SIGTERM ends it cleanly."""

    def __init__(self, base, name, io_cpus="auto"):
        self.path = tempfile.mkdtemp(prefix=f"{name}.", dir=base)
        self.gates = []
        self.io_cpus = io_cpus
        signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))

    def gate(self, *args, **kw):
        g = Gate(*args, io_cpus=self.io_cpus, **kw)
        self.gates.append(g)
        return g

    def io_workers(self):
        """Where the gates' kernel io workers ran (io_workers_of())."""
        return "; ".join(sorted({g.cpu_map.get("evgate_io_workers", "?")
                                 for g in self.gates})) or "?"

    def close(self):
        for g in self.gates:
            g.stop()  # also for a gate that died: its directories go
        shutil.rmtree(self.path, ignore_errors=True)


ACK_LEVELS = ("received", "written", "synced")


def _items(text):
    return [w for w in re.split(r"[,\s]+", text.strip()) if w]


def ack_list(text):
    """argparse type: ACK levels, separated by spaces or commas."""
    levels = _items(text)
    bad = [w for w in levels if w not in ACK_LEVELS]
    if bad or not levels:
        raise argparse.ArgumentTypeError(
            f"'{text}': expected ACK levels among {', '.join(ACK_LEVELS)}")
    return levels


def int_list(text):
    """argparse type: positive integers, separated by spaces or commas."""
    try:
        vals = [int(w) for w in _items(text)]
    except ValueError:
        vals = []
    if not vals or min(vals) <= 0:
        raise argparse.ArgumentTypeError(
            f"'{text}': expected positive integers like \"64 256\" or 64,256")
    return vals


def common_args(ap, seconds):
    ap.add_argument("--build", default="build", help="meson build directory")
    ap.add_argument("--dir", default="/var/tmp",
                    help="filesystem for the log (a scratch dir is made there)")
    ap.add_argument("--seconds", type=float, default=seconds,
                    help="seconds of traffic per case")
    ap.add_argument("--producers", type=int, default=4)
    ap.add_argument("--io-cpus", default="worker",
                    help="evgate's [log] io_cpus: worker (default: the "
                         "worker lcores' CPUs), auto (evgate's own default: "
                         "the other CPUs, here evgen's) or a CPU list "
                         "(perf/README.md, docs/storage.md)")


def tools(build):
    b = os.path.abspath(build)
    t = (os.path.join(b, "app", "evgate", "evgate"),
         os.path.join(b, "app", "evgen", "evgen"))
    for x in t:
        if not os.access(x, os.X_OK):
            raise BenchError(f"{x}: not built (ninja -C {build})")
    return t


def emit(out, summary):
    print(json.dumps(out, indent=1))
    print(summary, file=sys.stderr)
