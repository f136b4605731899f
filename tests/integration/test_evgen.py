#!/usr/bin/env python3
"""evgen against evgate over memif, and evgen --pcap-out. Speaks TAP.

    test_evgen.py EVGEN EVGATE EVTAIL

evgate (memif server) and evgen (memif client) run as two DPDK processes
with their own --file-prefix, --no-huge and --no-pci, on one socket path in
a temporary directory, their lcores mapped onto the CPUs there are. The
counters must balance: every frame evgen sent is one evgate received, every
frame evgen broke, duplicated, sent beyond a gap or from a stale session is
counted by evgate under that name, and the events evgen saw acknowledged
(ACK level synced) are the events evgate accepted and the log holds
(evtail --json). Then --pcap-out: the file holds the frames evgen says it
sent, each a valid EVF/1 DATA frame to the right address, except the ones
it broke on purpose. Needs root (SKIP without). Every process is bounded by
a timeout and killed by PID; the temporary directory and the EAL runtime
directories are removed at the end.
"""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.dont_write_bytecode = True
import evf  # noqa: E402  (scripts/evf.py)

GATE_IP, GEN_IP = "10.75.0.2", "10.75.0.1"
READY_LINE = "evgate: ready"
TELEMETRY_SOCKET = "/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
RUNTIME_DIR = "/var/run/dpdk/{prefix}"
EAL_COMMON = ["--no-huge", "--no-pci", "--no-shconf", "--log-level=lib.eal:error"]
GATE_CONF = ("[ack]\nlevel = synced\nnak_rate = 1000000\nnak_burst = 100000\n"
             "[log]\npartitions = 2\n")
MALFORMED_RULES = ("crc", "magic", "runt")
PROCS = []


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0

    def result(self, ok, name, why=""):
        self.n += 1
        self.failed += not ok
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}", flush=True)
        for line in str(why).splitlines():
            print(f"# {line}", flush=True)
        return ok


class Abort(Exception):
    pass


class Proc:
    """A process with its stdout+stderr collected by a thread."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.lines = []
        self.lock = threading.Lock()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True,
                                     errors="replace", bufsize=1,
                                     start_new_session=True)
        PROCS.append(self)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def output(self):
        with self.lock:
            return list(self.lines)

    def wait_line(self, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ln in self.output():
                if text in ln:
                    return ln
            if self.proc.poll() is not None and not self.reader.is_alive():
                return None
            time.sleep(0.05)
        return None

    def wait(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.reader.join(2)
        return rc

    def stop(self, sig=signal.SIGINT, timeout=15):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def kill(self):
        if self.proc.poll() is None and self.stop(signal.SIGTERM, 5) is None:
            self.stop(signal.SIGKILL, 5)


def lcores():
    """EAL lcore maps for evgate (main + one worker) and evgen (main),
    spread over the CPUs this process may use."""
    cpus = sorted(os.sched_getaffinity(0))
    a, b = cpus[0], cpus[-1]
    return [f"--lcores=0@{a},1@{b}"], [f"--lcores=0@{b}"]


def telemetry(prefix, cmd="/evgate/stats", timeout=3.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.settimeout(timeout)
        s.connect(TELEMETRY_SOCKET.format(prefix=prefix))
        greeting = json.loads(s.recv(65536).decode())
        s.send(cmd.encode())
        reply = json.loads(s.recv(max(int(greeting.get("max_output_len", 16384)),
                                      16384) * 2).decode())
    finally:
        s.close()
    return reply[cmd]


def run_evgen(evgen, eal, prefix, sock, opts, timeout=120):
    cmd = ([evgen] + eal + EAL_COMMON + ["-m", "256", "--file-prefix", prefix,
            f"--vdev=net_memif0,role=client,socket={sock}", "--"] +
           ["--dst-ip", GATE_IP, "--src-ip", GEN_IP, "--json"] + opts)
    p = Proc(cmd)
    rc = p.wait(timeout)
    if rc is None:
        p.kill()
        raise Abort(f"evgen did not finish in {timeout}s:\n" + "\n".join(p.output()))
    out = p.output()
    js = [ln for ln in out if ln.startswith("{")]
    if rc != 0 or len(js) != 1:
        raise Abort(f"{' '.join(cmd)}\nexit {rc}; output:\n" + "\n".join(out))
    return json.loads(js[0])


def balance(tap, name, gen, before, after):
    """evgate's counters moved by exactly what evgen says it sent."""
    d = {k: after.get(k, 0) - before.get(k, 0) for k in after
         if isinstance(after.get(k), int)}
    bad = []

    def eq(what, got, want):
        if got != want:
            bad.append(f"{what}: evgate {got}, evgen {want}")

    into_gate = gen["frames_sent"] + gen["arp_requests"] + gen["arp_replies"]
    eq("rx_packets = frames + ARP sent", d.get("rx_packets"), into_gate)
    drops = sum(v for k, v in d.items()
                if k.startswith("rx_net_") and k not in
                ("rx_net_evf", "rx_net_arp", "rx_net_icmp_echo"))
    eq("rx_net_evf + rx_net_arp + net drops = rx_packets",
       d.get("rx_net_evf", 0) + d.get("rx_net_arp", 0) + drops, d.get("rx_packets"))
    for rule in MALFORMED_RULES:
        eq(f"rx_evf_{rule}", d.get(f"rx_evf_{rule}", 0), gen["malformed_by_rule"][rule])
    eq("rx_evf_ok", d.get("rx_evf_ok"),
       gen["frames_sent"] - gen["frames_by_kind"]["malformed"])
    eq("seq_events_duplicate", d.get("seq_events_duplicate", 0),
       gen["events_by_kind"]["dup"])
    eq("seq_gap", d.get("seq_gap", 0), gen["frames_by_kind"]["gap"])
    eq("seq_fenced", d.get("seq_fenced", 0), gen["frames_by_kind"]["stale"])
    eq("ack_naks_gap", d.get("ack_naks_gap", 0), gen["nak"]["GAP"])
    eq("ack_naks_fenced", d.get("ack_naks_fenced", 0), gen["nak"]["FENCED"])
    eq("seq_events_accepted", d.get("seq_events_accepted"), gen["acked_events"])
    eq("acked = sent (nothing unacked)", gen["acked_events"], gen["events_sent"])
    eq("resyncs", gen["resyncs"], 0)
    eq("unacked", gen["unacked"], 0)
    tap.result(not bad, name, "\n".join(bad) or
               f"{gen['frames_sent']} frames, {gen['acked_events']} events acked, "
               f"kinds {gen['frames_by_kind']}, malformed {gen['malformed_by_rule']}")
    return d


def memif_cases(tap, evgen, evgate, evtail, tmp, pid):
    gate_eal, gen_eal = lcores()
    sock = os.path.join(tmp, "memif.sock")
    logdir = os.path.join(tmp, "log")
    os.mkdir(logdir)
    conf = os.path.join(tmp, "gate.ini")
    with open(conf, "w") as f:
        f.write(GATE_CONF)
    gprefix = f"evgn{pid}g"
    gate = Proc([evgate] + gate_eal + EAL_COMMON +
                ["-m", "512", "--file-prefix", gprefix,
                 f"--vdev=net_memif0,role=server,socket={sock}", "--",
                 "--ip", f"{GATE_IP}/24", "--log-dir", logdir, "--config", conf])
    if not tap.result(gate.wait_line(READY_LINE, 30) is not None,
                      "evgate_starts_on_a_memif_server_port",
                      "\n".join(gate.output()[-20:])):
        raise Abort("evgate did not start")
    base = telemetry(gprefix)
    gen = run_evgen(evgen, gen_eal, f"evgn{pid}a", sock,
                    ["--count", "20000", "--batch", "16", "--producers", "2",
                     "--streams", "2", "--event-size", "16-64"])
    mid = telemetry(gprefix)
    balance(tap, "clean_run_every_frame_sent_is_received_and_every_event_acked",
            gen, base, mid)
    tap.result(gen["rtt_ns"]["count"] == gen["frames_by_kind"]["normal"] and
               0 < gen["rtt_ns"]["p50"] <= gen["rtt_ns"]["p99"] <= gen["rtt_ns"]["max"],
               "rtt_measured_for_every_normal_frame", json.dumps(gen["rtt_ns"]))
    acked = gen["acked_events"]
    gen = run_evgen(evgen, gen_eal, f"evgn{pid}b", sock,
                    ["--count", "20000", "--batch", "8", "--producers", "3",
                     "--producer-base", "100", "--rate", "400000",
                     "--dup-pct", "5", "--gap-pct", "3", "--stale-pct", "2",
                     "--malformed-pct", "4"])
    end = telemetry(gprefix)
    d = balance(tap, "mixed_run_evgate_counts_each_deliberate_fault_as_evgen_sent_it",
                gen, mid, end)
    kinds = gen["frames_by_kind"]
    tap.result(all(kinds[k] > 0 for k in ("dup", "gap", "stale", "malformed")),
               "mixed_run_sent_every_kind_of_fault", json.dumps(kinds))
    acked += gen["acked_events"]
    rc = gate.stop(signal.SIGINT, 20)
    tap.result(rc == 0, "evgate_exits_0_after_sigint", f"exit {rc}")
    p = subprocess.run([evtail, "--json", logdir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    recs = [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]
    keys = {(r["producer"], r["stream"], r["session"], r["seq"]) for r in recs}
    tap.result(p.returncode == 0 and len(recs) == acked == len(keys),
               "acked_events_equal_the_events_in_the_synced_log",
               f"evtail: {len(recs)} records ({len(keys)} distinct), evgen acked {acked}; "
               f"seq_events_accepted moved by {d.get('seq_events_accepted')}")


def jumbo_case(tap, evgen, evgate, evtail, tmp, pid):
    """MTU 9000 on both sides: 32 events of 64 bytes make 2600-byte EVF/1
    frames, more than a 2048-byte mbuf holds; evgate's pool must take each
    whole (no rx_net_multi_seg drop), every event is ACKed (level synced)
    and in the log once. The client sets memif bsize=10240 so that a frame
    is one memif buffer (docs/ports.md: 2048 works too, chained)."""
    gate_eal, gen_eal = lcores()
    sock = os.path.join(tmp, "jumbo.sock")
    logdir = os.path.join(tmp, "jumbo-log")
    os.mkdir(logdir)
    conf = os.path.join(tmp, "jumbo.ini")
    with open(conf, "w") as f:
        f.write(GATE_CONF + "[port]\nmtu = 9000\nmbufs = 4095\n")
    gprefix = f"evgn{pid}j"
    gate = Proc([evgate] + gate_eal + EAL_COMMON +
                ["-m", "512", "--file-prefix", gprefix,
                 f"--vdev=net_memif0,role=server,socket={sock}", "--",
                 "--ip", f"{GATE_IP}/24", "--log-dir", logdir, "--config", conf])
    if gate.wait_line(READY_LINE, 30) is None:
        raise Abort("evgate --mtu 9000 did not start:\n" + "\n".join(gate.output()[-20:]))
    pool = gate.wait_line("evgate: mbuf pool:", 1) or ""
    base = telemetry(gprefix)
    gen = run_evgen(evgen, gen_eal, f"evgn{pid}k", sock + ",bsize=10240",
                    ["--mtu", "9000", "--count", "6400", "--batch", "32",
                     "--event-size", "64", "--producers", "2"], timeout=60)
    after = telemetry(gprefix)
    rc = gate.stop(signal.SIGINT, 20)
    p = subprocess.run([evtail, "--json", logdir], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    recs = [json.loads(ln) for ln in p.stdout.splitlines() if ln.startswith("{")]
    keys = {(r["producer"], r["stream"], r["session"], r["seq"]) for r in recs}
    multi = after.get("rx_net_multi_seg", 0) - base.get("rx_net_multi_seg", 0)
    tap.result(gen["frames_sent"] == 200 and gen["acked_events"] == 6400 and
               gen["unacked"] == 0 and multi == 0 and rc == 0 and
               p.returncode == 0 and len(recs) == len(keys) == 6400 and
               "9216-byte data room" in pool,
               "mtu_9000_frames_of_32_events_of_64_bytes_are_all_acked_and_logged",
               f"{pool}\nevgen: {gen['frames_sent']} frames, {gen['acked_events']} acked, "
               f"{gen['unacked']} unacked; evgate: {multi} multi_seg drops, exit {rc}; "
               f"evtail: {len(recs)} records ({len(keys)} distinct)")


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack_from("<I", data, 0)
    if magic not in (0xA1B2C3D4, 0xA1B23C4D):
        raise Abort(f"{path}: not a little-endian pcap (magic {magic:#x})")
    off, pkts = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack_from("<IIII", data, off)
        pkts.append(data[off + 16:off + 16 + incl])
        off += 16 + incl
    return pkts


def pcap_case(tap, evgen, tmp, pid):
    path = os.path.join(tmp, "out.pcap")
    cmd = ([evgen] + EAL_COMMON + ["-m", "256", "--file-prefix", f"evgn{pid}p",
            "--", "--dst-ip", GATE_IP, "--pcap-out", path, "--json", "--count", "1000",
            "--batch", "10", "--producers", "2", "--malformed-pct", "10"])
    p = Proc(cmd)
    rc = p.wait(60)
    js = [ln for ln in p.output() if ln.startswith("{")]
    if rc != 0 or len(js) != 1:
        raise Abort(f"{' '.join(cmd)}: exit {rc}\n" + "\n".join(p.output()))
    gen = json.loads(js[0])
    pkts = read_pcap(path)
    valid, broken, events, bad = 0, 0, 0, []
    for pkt in pkts:
        eth_type, = struct.unpack_from("!H", pkt, 12)
        ip_dst = socket.inet_ntoa(pkt[30:34])
        dport, = struct.unpack_from("!H", pkt, 36)
        if eth_type != 0x0800 or ip_dst != GATE_IP or dport != evf.DEFAULT_PORT:
            bad.append(f"type {eth_type:#x} to {ip_dst}:{dport}")
            continue
        try:
            f = evf.decode(pkt[42:])
        except evf.EvfError:
            broken += 1
            continue
        if f.type != evf.TYPE_DATA:
            bad.append(evf.describe(f))
        valid += 1
        events += f.count
    ok = (len(pkts) == gen["frames_sent"] and not bad and
          broken == gen["frames_by_kind"]["malformed"] > 0 and
          events == gen["events_sent"] == 1000)
    tap.result(ok, "pcap_out_holds_every_frame_sent_valid_evf_except_the_broken_ones",
               f"{len(pkts)} records, {valid} valid ({events} events), {broken} broken; "
               f"evgen: {gen['frames_sent']} frames, {gen['events_sent']} events, "
               f"{gen['frames_by_kind']['malformed']} malformed; {'; '.join(bad[:3])}")


def cli_cases(tap, evgen):
    p = subprocess.run([evgen, "--", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=10)
    tap.result(p.returncode == 0 and "--pcap-out" in p.stdout and "--dup-pct" in p.stdout,
               "help_lists_the_options_and_exits_0", p.stderr)
    p = subprocess.run([evgen, "--", "--dst-ip", GATE_IP, "--src-ip", GEN_IP,
                        "--batch", "32", "--event-size", "64"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
    tap.result(p.returncode == 2 and p.stderr.count("\n") == 1 and "--mtu 1500" in p.stderr,
               "a_frame_over_the_mtu_is_refused_in_one_line_before_the_eal",
               f"exit {p.returncode}: {p.stderr}")


def main(argv):
    if len(argv) != 4:
        print("usage: test_evgen.py EVGEN EVGATE EVTAIL", file=sys.stderr)
        return 2
    evgen, evgate, evtail = (os.path.abspath(a) for a in argv[1:])
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (EAL, memif)", flush=True)
        return 0
    pid = os.getpid()
    tap = Tap()
    tmp = tempfile.mkdtemp(prefix=f"evgn{pid}-")
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(1))
    try:
        cli_cases(tap, evgen)
        memif_cases(tap, evgen, evgate, evtail, tmp, pid)
        jumbo_case(tap, evgen, evgate, evtail, tmp, pid)
        pcap_case(tap, evgen, tmp, pid)
    except Abort as e:
        tap.result(False, "test_aborted", str(e))
    except Exception:
        tap.result(False, "unexpected_error", traceback.format_exc())
    finally:
        for p in PROCS:
            if p.proc.poll() is None:
                print(f"# killing {p.cmd[0]} (pid {p.proc.pid})", flush=True)
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
        for suffix in ("g", "a", "b", "p", "j", "k"):
            shutil.rmtree(RUNTIME_DIR.format(prefix=f"evgn{pid}{suffix}"),
                          ignore_errors=True)
    print(f"1..{tap.n}", flush=True)
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
