"""Overload: capacity is measured first (evpub producers in the namespace,
unlimited, for the phase duration: events ACKed per second); then twice as
many producers, each at the per-producer capacity, offer twice that for
the phase duration. Meanwhile a probe producer (chaosutil.Flow) sends a
trickle and PINGs, and telemetry is read every half second. Checks:
telemetry and EVF PING answered throughout, the drops counted by reason,
every event an evpub ACKed is in the log once, and afterwards the probe's
events are all ACKed again (recovery). Needs evpub (--evpub).
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


def start_evpubs(ctx, n, rate, first):
    return [ctx.procs.start(["ip", "netns", "exec", ctx.tb.ns, ctx.evpub,
                             "--json", "--server", cu.GATE_IP, "--producer",
                             str(first + i), "--count", "100000000",
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


def probe_round(gate, probe, flows, samples):
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
    flows.run(time.monotonic() + max(0.0, 0.5 - (time.monotonic() - t0)))


def phase(ctx, gate, flows, probe, n, rate, first):
    samples = {"telemetry_ms": [], "telemetry_errors": 0, "pings": 0,
               "ping_answers": 0}
    pubs = start_evpubs(ctx, n, rate, first)
    end = time.monotonic() + ctx.duration
    while time.monotonic() < end:
        probe_round(gate, probe, flows, samples)
    return stop_evpubs(pubs), samples


def evpub_log_check(recs, sums, first):
    """Every event an evpub ACKed (seqs below its acked) once."""
    seqs = {}
    for r in recs:
        if r["stream"] == 0 and r["producer"] >= first:
            seqs.setdefault((r["producer"], r["session"]), []).append(
                (r["seq"], base64.b64decode(r["value_b64"])))
    bad = []
    for i, s in enumerate(sums):
        have = seqs.get((first + i, s.get("session")), [])
        got = [q for q, _ in have]
        acked = s.get("acked", 0)
        if got[:acked] != list(range(acked)) or len(got) != len(set(got)):
            bad.append(f"producer {first + i}: {len(got)} records, acked "
                       f"{acked}, first seqs {got[:5]}")
        wrong = [q for q, v in have
                 if v != str(q).encode().ljust(SIZE, b"x")]
        if wrong:
            bad.append(f"producer {first + i}: values of seqs {wrong[:5]}")
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
        cap_sums, _ = phase(ctx, gate, flows, probe, PRODUCERS, 0, 100)
        cap = sum(s.get("acked", 0) for s in cap_sums) / ctx.duration
        rate = max(int(cap / PRODUCERS), 100)
        before = gate.stats()
        probe.target += 50
        sums, samples = phase(ctx, gate, flows, probe, 2 * PRODUCERS, rate,
                              200)
        after = gate.stats()
        d = cu.delta(before, after)
        drops = {k: v for k, v in sorted(d.items()) if v and any(
            w in k for w in ("drop", "naks_", "missed", "_full", "gap",
                             "duplicate", "no_buffer", "nombuf"))}
        offered = 2 * PRODUCERS * rate
        acked = sum(s.get("acked", 0) for s in sums)
        tel = samples["telemetry_ms"]
        tap.result(samples["telemetry_errors"] == 0 and
                   samples["ping_answers"] * 2 >= samples["pings"] and
                   gate.alive(),
                   "evgate_answers_telemetry_and_ping_under_twice_capacity",
                   f"capacity {cap:.0f} events/s, offered {offered}/s, acked "
                   f"{acked / ctx.duration:.0f}/s; telemetry max "
                   f"{max(tel):.1f} ms over {len(tel)}; PING answered "
                   f"{samples['ping_answers']} of {samples['pings']}; "
                   f"drops {drops}; probe NAKs {names(probe.naks)}")
        probe.target = probe.high + RECOVERY_EVENTS
        flows.run(time.monotonic() + 60, flows.all_done)
        tap.result(probe.done(), "evgate_recovers_after_the_overload",
                   f"probe acked {probe.ack()} of {probe.target}")
        rc = gate.stop()
        recs = cu.read_log(ctx.evtail, logdir)
        bad = evpub_log_check(recs, cap_sums, 100)
        bad += evpub_log_check(recs, sums, 200)
        chk = cu.LogCheck([r for r in recs if r["producer"] == PROBE[0]],
                          flows.truth())
        tap.result(rc == 0 and not bad and chk.ok() and
                   all(s for s in cap_sums + sums),
                   "admitted_events_are_persisted_once_after_overload",
                   f"exit status {rc}; " + "\n".join(bad[:8]) + chk.why())
        return {"capacity_events_s": round(cap), "offered_events_s": offered,
                "acked_events_s": round(acked / ctx.duration),
                "drops_by_counter": drops, "probe_naks": names(probe.naks),
                "telemetry_max_ms": round(max(tel), 1),
                "pings": samples["pings"],
                "ping_answers": samples["ping_answers"]}
    finally:
        flows.close()


def names(naks):
    return {evf.NAK_NAMES.get(c, str(c)): n for c, n in naks.items()}
