#!/usr/bin/env python3
"""End-to-end test of the evgate binary over a veth pair into a network
namespace (scripts/testbed.sh). Speaks TAP to meson.

    test_netns.py EVGATE_BINARY

evgate runs in the root namespace on the host end of the pair through
DPDK's net_af_packet, as 10.74.0.2/24; the producers (ping, arping,
scripts/evf.py, and sockets this script opens inside the namespace) are
10.74.0.1. Skips (TAP "1..0 # SKIP") when not root, when the namespace or
the veth pair cannot be created, or when evgate has no data path yet.
Cleans up whatever happens: evgate by PID, the testbed by name.
"""

import os
import re
import shutil
import signal
import socket
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from taputil import (GATE_IP, NS_IP, READY_LINE, READY_TIMEOUT,  # noqa: E402
                     ROOT, TELEMETRY_SOCKET, Abort, Interrupted, ProcSet, Tap,
                     Testbed, eal_runtime_dir, evgate_cmd, evtail_json, run,
                     signals_raise, telemetry, udp_socket_in)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import evf  # noqa: E402  (scripts/evf.py)

# ---- what evgate prints and exports (docs/telemetry.md); fix names here ----
STATS_LINE = "evgate: stats"
FINAL_LINE = "evgate: final counters"
TELEMETRY_CMD = "/evgate/stats"
CTR = {
    "icmp_replies": "rx_icmp_replies",
    "arp_replies": "rx_arp_replies",
    "events_accepted": "seq_events_accepted",
    "events_duplicate": "seq_events_duplicate",
    "naks_gap": "ack_naks_gap",
    "naks_fenced": "ack_naks_fenced",
    "acks_now": "ack_acks_now",
    "acks_ping": "ack_acks_ping",
}
# Malformed frames are counted per rule as "rx_evf_<rule>" (the names of
# evf.junk_frames()).
CTR_MALFORMED = "rx_evf_{}"


# Stage layouts (see layout_args()); "spread" is a config file.
LAYOUTS = {
    "packed": None,
    "spread": ("[pipeline]\nseq_shards = 3\nrx_lcores = 1\n"
               "seq_lcores = 2-3\nack_lcore = 4\ntx_lcore = 4\n"
               "journal_lcore = 3\n[ack]\nlevel = synced\n"),
}
EVTAIL = None  # evtail binary (third argument): the log is checked with it

PORT = evf.DEFAULT_PORT
EXIT_TIMEOUT = 10.0
REPLY_TIMEOUT = 2.0   # for a reply that must come
SILENCE = 1.0         # how long junk must stay unanswered


# ---- producers -------------------------------------------------------------

def producer_in(ns, **kw):
    """An evf.Producer whose socket lives in namespace ns."""
    sock = udp_socket_in(ns)
    return evf.Producer(GATE_IP, PORT, sock=sock, timeout=REPLY_TIMEOUT, **kw)


def expect_reply(p, frame, want_type, want_seq, want_count=None):
    """Sends frame, checks the one reply; returns (ok, why)."""
    f = p.request(frame, REPLY_TIMEOUT)
    if f is None:
        return False, f"no reply within {REPLY_TIMEOUT}s"
    ok = f.type == want_type and f.seq == want_seq
    if want_count is not None:
        ok = ok and f.count == want_count
    want = f"{evf.TYPE_NAMES[want_type]} seq={want_seq}"
    if want_count is not None:
        want += f" count={want_count}"
    return ok, f"got {evf.describe(f)}; want {want}"


def quiet_for(p, seconds):
    """Replies that arrive within `seconds` (there should be none)."""
    got = []
    deadline = time.monotonic() + seconds
    while len(got) < 50:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        p.sock.settimeout(left)
        try:
            buf = p.sock.recv(65536)
        except socket.timeout:
            break
        got.append(buf)
    return got


# ---- the test --------------------------------------------------------------

def arping_cmd(ns, ns_if):
    """arping (Habets' or iputils') run in ns, or None if not installed."""
    exe = shutil.which("arping")
    if exe is None:
        return None
    p = run([exe, "--help"], timeout=5)
    flag = "-i" if "Habets" in p.stdout else "-I"
    return ["ip", "netns", "exec", ns, exe, "-c", "3", flag, ns_if, GATE_IP]


def main(argv):
    if len(argv) < 2 or (len(argv) > 2 and argv[2] not in LAYOUTS):
        print("usage: test_netns.py EVGATE_BINARY [packed|spread [EVTAIL]]",
              file=sys.stderr)
        return 2
    evgate_bin = os.path.abspath(argv[1])
    layout = argv[2] if len(argv) > 2 else "packed"
    global EVTAIL
    EVTAIL = os.path.abspath(argv[3]) if len(argv) > 3 else None
    Tap.need_root("network namespaces, veth, af_packet",
                  ("ip", "ethtool", "ping"))
    if not os.access(evgate_bin, os.X_OK):
        print(f"test_netns: {evgate_bin}: not an executable", file=sys.stderr)
        return 2
    helptext = run([evgate_bin, "--help"], timeout=10).stdout
    if "--ip" not in helptext:
        Tap.skip_all("this evgate has no data path yet (no --ip in --help)")

    pid = os.getpid()
    tb = Testbed(f"evgt{pid}")
    prefix = f"evgt{pid}"
    tap = Tap()
    procs = ProcSet()
    logdir = None
    skip = None
    try:
        with signals_raise():
            try:
                skip = tb.up()
                if skip is not None:
                    return 0
                tap.diag(f"testbed: namespace {tb.ns}, {tb.host_if} (evgate) "
                         f"<-> {tb.ns_if} {NS_IP}")
                logdir = tempfile.mkdtemp(prefix=f"evgt{pid}-log-")
                run_tests(tap, procs, evgate_bin, tb, prefix, logdir, layout)
            except Abort as e:
                tap.result(False, "test aborted", str(e))
            except Interrupted as e:
                tap.result(False, "test interrupted", str(e))
            except Exception:  # report it as a failure, then clean up as always
                tap.result(False, "unexpected error", traceback.format_exc())
    finally:
        if skip is not None:
            tb.down()
            print(f"1..0 # SKIP {skip}", flush=True)
        else:
            cleanup(tap, procs, tb, prefix, logdir)
    return tap.finish()


def layout_args(layout, logdir):
    """EAL lcores and evgate options for a stage layout: "packed", every
    stage on one worker lcore (the default config); "spread", a config file
    that gives rx, three sequencer shards over two lcores, and ack + tx
    their own lcores, as on a large host (here 5 lcores on the 2 CPUs)."""
    if layout == "packed":
        return ["-l", "0-1"], []
    conf = os.path.join(logdir, "spread.ini")
    with open(conf, "w") as f:
        f.write(LAYOUTS["spread"])
    return ["--lcores", "0@0,1@0,2@1,3@0,4@1"], ["--config", conf]


def run_tests(tap, procs, evgate_bin, tb, prefix, logdir, layout):
    ns, ns_if = tb.ns, tb.ns_if
    lcores, opts = layout_args(layout, logdir)
    cmd, huge_why = evgate_cmd(evgate_bin, tb, prefix, logdir,
                               ["--stats", "1"] + opts, lcores=lcores,
                               eal=["--log-level=user1:info"])
    tap.diag(f"{huge_why}; starting: {' '.join(cmd)}")
    gate = procs.start(cmd, merge=True)

    i = gate.wait_line(READY_LINE, READY_TIMEOUT)
    if not tap.result(i >= 0, "evgate_starts_and_prints_ready",
                      "" if i >= 0 else
                      f"no '{READY_LINE}' within {READY_TIMEOUT}s; exit status "
                      f"{gate.proc.poll()}; output:\n" + "\n".join(gate.output())):
        raise Abort("evgate did not start")
    tap.diag(gate.output()[i])

    # Everything this test expects evgate to count, tallied as it goes.
    want = {"events_accepted": 0, "malformed": {}, "icmp": 0}
    base = int(time.time_ns() // 1000)  # sessions above any earlier run's

    # -- reachability: ICMP echo and ARP --
    p = run(["ip", "netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1",
             GATE_IP], timeout=15)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", p.stdout)
    tap.result(p.returncode == 0 and m is not None and m.group(2) == "3",
               "icmp_echo_from_namespace_is_answered", p.stdout.strip())
    want["icmp"] += 3
    neigh = run(["ip", "-n", ns, "neigh", "show", GATE_IP, "dev", ns_if], timeout=5).stdout
    tap.result("lladdr" in neigh, "arp_resolves_the_gate_address",
               f"ip neigh: {neigh.strip() or '(none)'}")
    acmd = arping_cmd(ns, ns_if)
    if acmd is None:
        tap.skip("arping_is_answered", "arping not installed")
    else:
        p = run(acmd, timeout=15)
        tap.result(p.returncode == 0, "arping_is_answered",
                   f"{' '.join(acmd)} -> {p.returncode}\n{p.stdout.strip()}")

    # -- the producer CLI: 1000 events in frames of 16 --
    s1 = base + 100
    cli = ["ip", "netns", "exec", ns, sys.executable,
           os.path.join(ROOT, "scripts", "evf.py")]
    p = run(cli + ["send", "--to", GATE_IP, "--port", str(PORT), "--producer", "7",
                   "--stream", "1", "--session", str(s1), "--events", "1000",
                   "--batch", "16", "--timeout", "1"], timeout=60)
    ok = p.returncode == 0 and " acked_seq=1000 " in p.stdout and " ok " in p.stdout
    tap.result(ok, "producer_sends_1000_events_in_frames_of_16_final_ack_is_1000",
               p.stdout.strip())
    if ok:
        want["events_accepted"] += 1000
    nxt = 1000

    prod = producer_in(ns, producer=7, stream=1, session=s1)
    ev = evf.make_events(16)
    try:
        # -- duplicates: re-ACKed, never accepted again --
        ok1, why1 = expect_reply(prod, prod.data(0, ev), evf.TYPE_ACK, nxt)
        ok2, why2 = expect_reply(prod, prod.data(nxt - 16, ev), evf.TYPE_ACK, nxt)
        tap.result(ok1 and ok2, "retransmitted_acked_frames_get_a_reack_and_the_seq_stays",
                   f"seq 0: {why1}\nseq {nxt - 16}: {why2}")
        # A frame straddling the next expected seq: only the new half counts.
        ok, why = expect_reply(prod, prod.data(nxt - 8, ev), evf.TYPE_ACK, nxt + 8)
        tap.result(ok, "frame_straddling_next_seq_accepts_only_the_new_events", why)
        if ok:
            nxt += 8
            want["events_accepted"] += 8

        # -- a gap: NAK GAP with the next expected seq --
        ok, why = expect_reply(prod, prod.data(nxt + 16, ev), evf.TYPE_NAK, nxt,
                               want_count=evf.NAK_GAP)
        tap.result(ok, "gap_frame_gets_nak_gap_with_next_expected_seq", why)

        # -- PING: ACK with the next seq --
        ok, why = expect_reply(prod, evf.build_ping(7, 1, s1), evf.TYPE_ACK, nxt)
        tap.result(ok, "ping_gets_ack_with_next_expected_seq", why)

        # -- ACK_NOW --
        ok, why = expect_reply(prod, prod.data(nxt, ev[:4], flags=evf.FLAG_ACK_NOW),
                               evf.TYPE_ACK, nxt + 4)
        tap.result(ok, "ack_now_frame_is_acked", why)
        if ok:
            nxt += 4
            want["events_accepted"] += 4
    finally:
        prod.close()

    # -- sessions: a higher one starts at 0, a lower one is fenced --
    old = producer_in(ns, producer=8, stream=1, session=base + 5)
    new = producer_in(ns, producer=8, stream=1, session=base + 6)
    try:
        ok1, why1 = expect_reply(old, old.data(0, ev[:1]), evf.TYPE_ACK, 1)
        ok2, why2 = expect_reply(new, new.data(3, ev[:1]), evf.TYPE_NAK, 0,
                                 want_count=evf.NAK_GAP)
        tap.result(ok1 and ok2, "new_session_not_starting_at_seq_0_gets_nak_gap_0",
                   f"session {base + 5} seq 0: {why1}\nsession {base + 6} seq 3: {why2}")
        ok3, why3 = expect_reply(new, new.data(0, ev[:1]), evf.TYPE_ACK, 1)
        ok4, why4 = expect_reply(old, old.data(1, ev[:1]), evf.TYPE_NAK, 0,
                                 want_count=evf.NAK_FENCED)
        tap.result(ok3 and ok4, "lower_session_after_a_higher_one_gets_nak_fenced",
                   f"session {base + 6} seq 0: {why3}\nsession {base + 5} seq 1: {why4}")
        want["events_accepted"] += ok1 + ok3
    finally:
        old.close()
        new.close()

    unknown = producer_in(ns, producer=9, stream=4, session=base + 1)
    try:
        ok, why = expect_reply(unknown, evf.build_ping(9, 4, base + 1), evf.TYPE_ACK, 0)
        tap.result(ok, "ping_of_an_unknown_producer_gets_ack_seq_0", why)
    finally:
        unknown.close()

    # -- junk: never answered --
    junk = producer_in(ns, producer=7, stream=1, session=s1)
    try:
        kinds = dict(evf.junk_frames(7, 1, s1))
        required = [("magic", kinds["magic"]), ("crc", kinds["crc"]),
                    ("runt", kinds["runt"]),
                    ("direction", evf.build_ack(7, 1, s1, 5))]
        for name, frame in required:
            junk.send_raw(frame)
            want["malformed"][name] = want["malformed"].get(name, 0) + 1
        got = quiet_for(junk, SILENCE)
        tap.result(not got, "junk_bad_magic_bad_crc_truncated_and_ack_get_no_reply",
                   "; ".join(_describe(b) for b in got))
    finally:
        junk.close()
    p = run(cli + ["junk", "--to", GATE_IP, "--port", str(PORT), "--producer", "7",
                   "--stream", "1", "--session", str(s1), "--count", "20",
                   "--timeout", str(SILENCE)], timeout=30)
    tap.result(p.returncode == 0 and "replies=0" in p.stdout,
               "every_kind_of_malformed_frame_gets_no_reply", p.stdout.strip())
    for i in range(20):
        name = evf.junk_frames()[i % len(evf.junk_frames())][0]
        want["malformed"][name] = want["malformed"].get(name, 0) + 1

    # The state after the junk: unchanged.
    chk = producer_in(ns, producer=7, stream=1, session=s1)
    try:
        ok, why = expect_reply(chk, evf.build_ping(7, 1, s1), evf.TYPE_ACK, nxt)
        tap.result(ok, "junk_and_duplicates_left_the_sequence_unchanged", why)
    finally:
        chk.close()

    check_telemetry(tap, prefix, want)

    n = gate.wait_line(STATS_LINE, 3.0)
    tap.result(n >= 0, "stats_line_printed_every_second",
               gate.output()[n] if n >= 0 else f"no '{STATS_LINE}' line")

    # -- SIGINT: exit 0 within 10 s, final counters printed --
    start = len(gate.output())
    t0 = time.monotonic()
    rc = gate.stop(signal.SIGINT, EXIT_TIMEOUT)
    took = time.monotonic() - t0
    out = gate.output()
    final = out[start:]
    has_final = any(FINAL_LINE in ln for ln in final)
    tap.result(rc == 0 and has_final, "sigint_exits_0_within_10s_and_prints_final_counters",
               f"exit status {rc} after {took:.1f}s\n" + "\n".join(final[-40:]))
    final_accepted = _final_counter(out, CTR["events_accepted"])
    tap.result(final_accepted == want["events_accepted"],
               "final_counters_report_every_accepted_event",
               f"{CTR['events_accepted']} {final_accepted}, expected {want['events_accepted']}")
    tap.diag("evgate output:\n" + "\n".join(out))
    if EVTAIL is None:
        tap.skip("log_holds_every_accepted_event_once_in_seq_order", "no evtail")
        return
    check_log(tap, logdir, want["events_accepted"],
              "log_holds_every_accepted_event_once_in_seq_order")
    restart_and_retransmit(tap, procs, cmd, ns, logdir, s1, want)


def read_log(logdir):
    """evtail --json of the whole log, as a list of dicts."""
    return evtail_json(EVTAIL, logdir)


def check_log(tap, logdir, want_events, name):
    """Every accepted (hence ACKed) event is in the log exactly once, and
    in seq order per (producer, stream, session)."""
    recs = read_log(logdir)
    seen, last, bad = set(), {}, []
    for r in recs:
        key = (r["producer"], r["stream"], r["session"], r["seq"])
        if key in seen:
            bad.append(f"duplicate {key}")
        seen.add(key)
        k = key[:3]
        if k in last and r["seq"] <= last[k]:
            bad.append(f"{k}: seq {r['seq']} after {last[k]}")
        last[k] = r["seq"]
    ok = len(recs) == want_events and not bad
    tap.result(ok, name, f"{len(recs)} records, expected {want_events}; "
               + ("; ".join(bad[:5]) or "no duplicate, in order"))


def restart_and_retransmit(tap, procs, cmd, ns, logdir, s1, want):
    """A restarted evgate rebuilds the sequencing state from the log, so
    events persisted before the restart and sent again are re-ACKed, not
    written twice."""
    gate = procs.start(cmd, merge=True)
    i = gate.wait_line(READY_LINE, READY_TIMEOUT)
    if not tap.result(i >= 0, "restarted_evgate_recovers_the_log",
                      "\n".join(ln for ln in gate.output() if "log" in ln)):
        return
    nxt = 1 + max(r["seq"] for r in read_log(logdir)
                  if (r["producer"], r["stream"], r["session"]) == (7, 1, s1))
    prod = producer_in(ns, producer=7, stream=1, session=s1)
    ev = evf.make_events(16)
    try:
        ok1, why1 = expect_reply(prod, prod.data(0, ev), evf.TYPE_ACK, nxt)
        ok2, why2 = expect_reply(prod, prod.data(nxt - 16, ev), evf.TYPE_ACK, nxt)
    finally:
        prod.close()
    tap.result(ok1 and ok2, "retransmit_after_restart_is_re_acked",
               f"{why1}\n{why2}")
    rc = gate.stop(signal.SIGINT, EXIT_TIMEOUT)
    tap.result(rc == 0, "restarted_evgate_exits_0", f"exit status {rc}")
    check_log(tap, logdir, want["events_accepted"],
              "retransmit_after_restart_is_not_written_twice")


def _describe(buf):
    try:
        return evf.describe(evf.decode(buf))
    except evf.EvfError as e:
        return f"undecodable reply ({e})"


def _final_counter(lines, name):
    """A counter's value from the final report ("name value" lines after
    FINAL_LINE; absent means 0)."""
    seen = False
    for ln in lines:
        if FINAL_LINE in ln:
            seen = True
            continue
        if seen:
            parts = ln.split()
            if len(parts) == 2 and parts[0] == name and parts[1].isdigit():
                return int(parts[1])
    return 0 if seen else None


def check_telemetry(tap, prefix, want):
    path = TELEMETRY_SOCKET.format(prefix=prefix)
    if not os.path.exists(path):
        tap.result(False, "telemetry_socket_exists", f"{path} missing")
        return
    try:
        stats = telemetry(prefix, TELEMETRY_CMD)
    except (OSError, ValueError, KeyError) as e:
        tap.result(False, "telemetry_evgate_stats_answers", f"{TELEMETRY_CMD}: {e}")
        return
    why = f"{len(stats)} counters"
    tap.result(isinstance(stats, dict) and len(stats) > 0,
               "telemetry_evgate_stats_answers", why)

    def get(name):
        v = stats.get(name)
        return v if isinstance(v, int) else None

    bad = []
    for rule, n in sorted(want["malformed"].items()):
        name = CTR_MALFORMED.format(rule)
        if get(name) != n:
            bad.append(f"{name} = {get(name)}, expected {n}")
    tap.result(not bad, "telemetry_counts_every_malformed_frame_by_rule",
               "\n".join(bad) or ", ".join(
                   f"{CTR_MALFORMED.format(r)}={n}" for r, n in sorted(want["malformed"].items())))
    name = CTR["events_accepted"]
    tap.result(get(name) == want["events_accepted"],
               "telemetry_counts_accepted_events_exactly_once",
               f"{name} = {get(name)}, expected {want['events_accepted']}; "
               f"{CTR['events_duplicate']} = {get(CTR['events_duplicate'])}")
    checks = [
        ("naks_gap", 2), ("naks_fenced", 1), ("acks_now", 1), ("acks_ping", 3),
        ("icmp_replies", want["icmp"]), ("arp_replies", 1), ("events_duplicate", 40),
    ]
    bad = [f"{CTR[k]} = {get(CTR[k])}, expected >= {n}" for k, n in checks
           if get(CTR[k]) is None or get(CTR[k]) < n]
    tap.result(not bad, "telemetry_counts_naks_acks_and_control_replies",
               "\n".join(bad) or ", ".join(f"{CTR[k]}={get(CTR[k])}" for k, _ in checks))


def cleanup(tap, procs, tb, prefix, logdir):
    """Always runs: evgate by PID, the testbed by name, then checks that
    nothing is left."""
    problems = []
    for gate in procs.started:
        if gate.proc.poll() is None:
            tap.diag(f"evgate (pid {gate.pid}) still running: killing it; its"
                     " output:\n" + "\n".join(gate.output()[-60:]))
        gate.kill(grace=5)
        if gate.proc.poll() is None:
            problems.append(f"evgate (pid {gate.pid}) survived SIGKILL")
    problems += tb.down()
    shutil.rmtree(eal_runtime_dir(prefix), ignore_errors=True)
    if logdir:
        shutil.rmtree(logdir, ignore_errors=True)
    tap.result(not problems, "cleanup_leaves_no_process_namespace_or_link",
               "\n".join(problems))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
