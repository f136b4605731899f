"""Overload: capacity is measured first (evpub producers in the namespace,
unlimited, CAPACITY_EVENTS each at most: events ACKed per second, as each
evpub measured it); then twice as many producers, each at the
per-producer capacity, offer twice that for the overload time (the phase
duration, at least MIN_OVERLOAD_S; each evpub's --count is its rate
times that time). Meanwhile a probe producer (chaosutil.Flow) sends a
trickle and PINGs, and telemetry is read every half second. Checks:
telemetry and ICMP echo answered throughout (EVF PINGs share the rings
the overload fills, so they are reported, not required), the drops
counted by reason, every event an evpub ACKed is in the log once, and
afterwards the probe's events are all ACKed again (recovery). Needs evpub
(--evpub).

The log check reads no record into Python but the probe's and a sample
of each evpub's: `evtail --verify --json` checks every CRC and that seqs
follow one by one within each session, and gives each session's seq
range, which must start at 0 and reach past the last seq evpub saw
ACKed. The first VALUES_CHECKED records of each evpub are read back and
their values compared. (Reading a 30 s phase's millions of records into
Python took minutes on two shared cores.)
"""

import base64
import json
import os
import signal
import time

import chaosutil as cu
import evf
import taputil

CONF = "[log]\npartitions = 2\nstore = uring\n[ack]\nlevel = synced\n"
PRODUCERS = 2            # in the capacity phase; twice as many after
SIZE = 64
PROBE = (61, 9)
RECOVERY_EVENTS = 400
EVPUB_TIMEOUT = 5
CAPACITY_EVENTS = 200000  # per evpub in the capacity phase
MIN_OVERLOAD_S = 2.0      # at least 4 probe rounds under overload
VALUES_CHECKED = 2000     # per evpub, compared value by value


def start_evpubs(ctx, n, rate, first, count):
    return [ctx.procs.start(["ip", "netns", "exec", ctx.tb.ns, ctx.evpub,
                             "--json", "--server", cu.GATE_IP, "--producer",
                             str(first + i), "--count", str(count),
                             "--size", str(SIZE), "--rate", str(rate),
                             "--timeout", str(EVPUB_TIMEOUT)])
            for i in range(n)]


def stop_evpubs(procs):
    """SIGINT, then the --json summaries ({} for one that gave none)."""
    for p in procs:
        p.signal(signal.SIGINT)
    out = []
    for p in procs:
        p.wait(EVPUB_TIMEOUT + 20)
        p.kill()
        js = [json.loads(ln) for ln in p.output() if ln.startswith("{")]
        out.append(js[-1] if js else {})
    return out


def probe_round(ns, gate, probe, flows, samples):
    t0 = time.monotonic()
    st = gate.stats()
    samples["telemetry_ms"].append((time.monotonic() - t0) * 1000)
    samples["telemetry_errors"] += "error" in st
    probe.sock.send(evf.build_ping(probe.producer, probe.stream,
                                   probe.session))
    samples["pings"] += 1
    acks = probe.stats["acks"]
    flows.run(time.monotonic() + 0.5,
              lambda: probe.stats["acks"] > acks)
    samples["ping_answers"] += probe.stats["acks"] > acks
    # ICMP echo takes rx -> tx and not the sequencers' rings the overload
    # fills (where an EVF PING may be dropped like DATA, with a
    # rate-limited NAK BUSY): it is the responsiveness check.
    p = taputil.run(["ip", "netns", "exec", ns, "ping", "-c", "1", "-W",
                     "1", cu.GATE_IP], timeout=5)
    samples["icmp"] += 1
    samples["icmp_answers"] += p.returncode == 0
    flows.run(time.monotonic() + max(0.0, 0.5 - (time.monotonic() - t0)))


def phase(ctx, gate, flows, probe, n, rate, first, count, seconds):
    """n evpubs for seconds at most (until all have sent count events
    and had their ACKs), probed every half second."""
    samples = {"telemetry_ms": [], "telemetry_errors": 0, "pings": 0,
               "ping_answers": 0, "icmp": 0, "icmp_answers": 0}
    pubs = start_evpubs(ctx, n, rate, first, count)
    end = time.monotonic() + seconds
    while time.monotonic() < end and any(p.proc.poll() is None
                                         for p in pubs):
        probe_round(ctx.tb.ns, gate, probe, flows, samples)
    return stop_evpubs(pubs), samples


def evpub_log_check(ctx, logdir, sessions, sums, first):
    """Every event an evpub ACKed (seqs below its acked) is in the log
    once: its session's seqs run from 0 to at least acked - 1, one by
    one (evtail --verify exited 0); the first VALUES_CHECKED values are
    evpub's."""
    bad = []
    for i, s in enumerate(sums):
        prod, acked = first + i, s.get("acked", 0)
        got = sessions.get((prod, 0, s.get("session")))
        if acked == 0:
            continue
        if (got is None or got["first_seq"] != 0 or
                got["last_seq"] + 1 < acked or
                got["records"] != got["last_seq"] + 1):
            bad.append(f"producer {prod}: acked {acked}, in the log {got}")
            continue
        n = 0
        for r in cu.iter_log(ctx.evtail, logdir,
                             args=("--producer", prod, "--count",
                                   VALUES_CHECKED)):
            want = str(r["seq"]).encode().ljust(SIZE, b"x")
            if (r["session"] == s["session"] and
                    base64.b64decode(r["value_b64"]) != want):
                bad.append(f"producer {prod}: value of seq {r['seq']}")
                break
            n += 1
        if n == 0:
            bad.append(f"producer {prod}: evtail --producer read nothing")
    return bad


def run(tap, ctx):
    if not getattr(ctx, "evpub", None):
        tap.skip("overload", "no --evpub given")
        return {"skipped": "no evpub"}
    logdir = os.path.join(ctx.tmp, "overload-log")
    os.makedirs(logdir)
    conf = cu.write_conf(os.path.join(ctx.tmp, "overload.ini"), CONF)
    gate = cu.Gate(ctx.evgate, ctx.tb, ctx.prefix, logdir, conf, ctx.procs)
    probe = cu.Flow(ctx.tb.ns, PROBE[0], PROBE[1], time.time_ns())
    flows = cu.Flows([probe])
    try:
        gate.start()
        probe.target = 8
        cap_sums, _ = phase(ctx, gate, flows, probe, PRODUCERS, 0, 100,
                            CAPACITY_EVENTS, ctx.duration)
        cap = sum(s.get("events_per_s", 0) for s in cap_sums)
        rate = max(int(cap / PRODUCERS), 100)
        offered = 2 * PRODUCERS * rate
        seconds = max(MIN_OVERLOAD_S, ctx.duration)
        before = gate.stats()
        probe.target += 50
        sums, samples = phase(ctx, gate, flows, probe, 2 * PRODUCERS, rate,
                              200, int(rate * seconds) + 1, seconds)
        after = gate.stats()
        d = cu.delta(before, after)
        drops = {k: v for k, v in sorted(d.items()) if v and any(
            w in k for w in ("drop", "naks_", "missed", "_full", "gap",
                             "duplicate", "no_buffer", "nombuf"))}
        acked = sum(s.get("acked", 0) for s in sums)
        tel = samples["telemetry_ms"]
        tap.result(samples["telemetry_errors"] == 0 and
                   samples["icmp_answers"] * 2 >= samples["icmp"] and
                   gate.alive(),
                   "evgate_answers_telemetry_and_ping_under_twice_capacity",
                   f"capacity {cap:.0f} events/s, offered {offered}/s for "
                   f"{seconds:.1f} s, acked {acked / seconds:.0f}/s; "
                   f"telemetry max "
                   f"{max(tel):.1f} ms over {len(tel)}; ICMP echo "
                   f"answered {samples['icmp_answers']} of "
                   f"{samples['icmp']}; EVF PING answered "
                   f"{samples['ping_answers']} of {samples['pings']}; "
                   f"drops {drops}; probe NAKs {names(probe.naks)}")
        probe.target = probe.high + RECOVERY_EVENTS
        flows.run(time.monotonic() + 60, flows.all_done)
        tap.result(probe.done(), "evgate_recovers_after_the_overload",
                   f"probe acked {probe.ack()} of {probe.target}")
        rc = gate.stop()
        t0 = time.monotonic()
        vrc, vtext, sessions = cu.verify_sessions(ctx.evtail, logdir)
        bad = [] if vrc == 0 else [f"evtail --verify exited {vrc}: "
                                   + " | ".join(vtext[-4:])]
        bad += evpub_log_check(ctx, logdir, sessions, cap_sums, 100)
        bad += evpub_log_check(ctx, logdir, sessions, sums, 200)
        probe_recs = list(cu.iter_log(ctx.evtail, logdir,
                                      args=("--producer", PROBE[0])))
        chk = cu.LogCheck(probe_recs, flows.truth())
        check_s = time.monotonic() - t0
        records = sum(j["records"] for j in sessions.values())
        tap.result(rc == 0 and not bad and chk.ok() and
                   all(s for s in cap_sums + sums),
                   "admitted_events_are_persisted_once_after_overload",
                   f"exit status {rc}; {records} records checked in "
                   f"{check_s:.1f} s; " + "\n".join(bad[:8]) + chk.why())
        return {"capacity_events_s": round(cap), "offered_events_s": offered,
                "overload_s": round(seconds, 2),
                "acked_events_s": round(acked / seconds),
                "offered_events": sum(s.get("sent", 0) for s in sums),
                "log_records": records,
                "log_check_s": round(check_s, 1),
                "drops_by_counter": drops, "probe_naks": names(probe.naks),
                "telemetry_max_ms": round(max(tel), 1),
                "pings": samples["pings"],
                "ping_answers": samples["ping_answers"],
                "icmp": samples["icmp"],
                "icmp_answers": samples["icmp_answers"]}
    finally:
        flows.close()


def names(naks):
    return {evf.NAK_NAMES.get(c, str(c)): n for c, n in naks.items()}
