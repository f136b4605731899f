#!/usr/bin/env python3
"""Delivery to subscribers: evgate versus a NATS JetStream push consumer
(perf/README.md, "Delivery to subscribers").

evgate (memif server, ACK level written, every stage and the subscriber
stage on one worker lcore) gets a log of --events 64-byte events from an
evgen producer run; then, per --subs count K, one evgen run that only
subscribes (--producers 0) opens K subscriptions to the same stream from
the oldest event, and the delivered events/s (all K together, from the
first DELIVER to the last) is that of one worker core. Live: evgen
produces at --live-rate and holds --live-subs subscriptions from the end
in the same process: the latency of every event from its producer
timestamp (evgen's TSC clock) to its delivery, p50/p99. NATS: the same
number of 64-byte messages in a file stream, read back from the start by
a push consumer with explicit acks, and live at the same rate
(perf/peers/nats_consumer.sh). Prints one JSON object on stdout, a
one-line summary on stderr.
"""

import argparse
import json
import os
import subprocess
import sys

sys.dont_write_bytecode = True
import evgbench as eb  # noqa: E402

ACK = "written"
SIZE = 64
SUB_CONF = ("[sub]\nmax_subscribers = 32\nmax_inflight = {inflight}\n"
            "mbufs = {mbufs}\n")


def gate_conf(mtu, inflight):
    # 1 partition: the producers' stream, and so every subscription,
    # reads one partition; DELIVER frames: one mbuf per frame of the MTU.
    conf = eb.gate_conf(ACK, mtu).replace("partitions = 4", "partitions = 1")
    return conf + SUB_CONF.format(inflight=inflight, mbufs=8191)


def prefill(a, evgen, gate, mtu, batch):
    before = gate.stats()
    gen = eb.run_evgen(evgen, "sf", [
        "--count", str(a.events), "--batch", str(batch), "--event-size",
        str(SIZE), "--producers", str(a.producers), "--window", "256",
        "--drain-ms", "5000"], 300, sock=gate.sock, mtu=mtu)
    d = eb.delta(before, gate.stats())
    if gen["acked_events"] != a.events:
        raise eb.BenchError(f"pre-fill: {gen['acked_events']} of "
                            f"{a.events} events acked")
    return {"events": a.events, "events_per_frame": batch,
            "events_per_s": round(gen["events_per_s"]),
            "acked_events_per_s": round(gen["acked_events_per_s"]),
            "log_bytes": d.get("log_bytes", 0)}


def sub_summary(s, lat="latency_us"):
    keep = ("events", "frames", "bytes", "gaps", "naks", "duplicates",
            "dropped_past_gap", "out_of_order", "gaps_unrepaired",
            "credits", "unknown", "bad_frames", "tx_failed")
    return {**{k: s[k] for k in keep},
            "events_per_s": round(s["events_per_s"]),
            "interval_s": round(s["interval_s"], 4),
            "frames_per_s": round(s["frames"] / s["interval_s"])
            if s["interval_s"] else 0,
            "events_per_frame": round(s["events"] / s["frames"], 1)
            if s["frames"] else 0,
            "per_subscription_events_per_s": sorted(
                round(p["events_per_s"]) for p in s["per_subscription"]),
            lat: {k: round(s["latency_ns"][k] / 1e3, 1)
                  for k in ("p50", "p99", "p99_9", "max")}}


def sub_counters(d):
    return {k: v for k, v in sorted(d.items()) if k.startswith("sub_")}


def replay_case(a, evgen, gate, mtu, k):
    """K subscriptions from the oldest event: the whole log each."""
    before = gate.stats()
    gen = eb.run_evgen(evgen, f"sr{k}", [
        "--producers", "0", "--subscribe", str(k), "--sub-streams", "0",
        "--sub-from", "oldest", "--sub-credit", str(a.credit),
        "--sub-count", str(k * a.events), "--sub-src-port",
        str(50000 + 100 * k), "--sub-consumer-base", str(1000 * k),
        "--duration", str(a.seconds)], a.seconds + 60, sock=gate.sock,
        mtu=mtu)
    d = eb.delta(before, gate.stats())
    s = gen["subscribers"]
    # the log was written before: ts_ns to delivery is the events' age
    return {"subscriptions": k, "complete": s["events"] == k * a.events,
            **sub_summary(s, "age_us"), "evgate": sub_counters(d),
            "drops": eb.drops_by_reason(d)}


def live_case(a, evgen, gate, mtu, k):
    """K subscriptions from the end while evgen produces at the rate."""
    count = int(a.live_rate * a.seconds)
    before = gate.stats()
    gen = eb.run_evgen(evgen, f"sl{k}", [
        "--producers", "1", "--producer-base", "900", "--batch", "8",
        "--event-size", str(SIZE), "--rate", str(a.live_rate), "--count",
        str(count), "--window", "64", "--drain-ms", "5000",
        "--subscribe", str(k), "--sub-streams", "0", "--sub-from", "end",
        "--sub-credit", str(a.credit), "--sub-count", str(k * count),
        "--sub-src-port", str(51000 + 100 * k),
        "--sub-consumer-base", str(100000 + 1000 * k)],
        a.seconds + 60, sock=gate.sock, mtu=mtu)
    d = eb.delta(before, gate.stats())
    s = gen["subscribers"]
    return {"subscriptions": k, "rate_asked": a.live_rate,
            "producer_events_per_frame": 8, "produced": gen["events_sent"],
            "producer_events_per_s": round(gen["events_per_s"]),
            "ack_rtt_us": {x: round(gen["rtt_ns"][x] / 1e3, 1)
                           for x in ("p50", "p99")},
            "complete": s["events"] == k * gen["events_sent"],
            **sub_summary(s), "evgate": sub_counters(d)}


def nats(a, main_cpu, wcpu):
    """perf/peers/nats_consumer.sh: replay and live; its JSON, or why not."""
    script = os.path.join(eb.ROOT, "perf", "peers", "nats_consumer.sh")
    cmd = [script, "--build", os.path.abspath(a.build), "--dir", a.dir,
           "--size", str(SIZE), "--count", str(a.events), "--ack", a.nats_ack,
           "--rate", str(a.live_rate), "--seconds", str(a.seconds),
           "--server-cpu", str(wcpu), "--client-cpu", str(main_cpu)]
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=a.nats_limit)
    except subprocess.TimeoutExpired:
        return {"status": f"timed out after {a.nats_limit} s"}
    if p.returncode != 0:
        why = p.stderr.strip()[-300:]
        return {"status": ("not available: " if "not built" in why or
                           "not found" in why else "failed: ") + why}
    return {"status": "ok", **json.loads(p.stdout)}


def evgate_cases(a, evgate, evgen, mtu, scratch, wcpu):
    batch = max(b for b in (32, 16, 8) if eb.fits(b, SIZE, mtu) is None)
    out = {"replay": [], "live": []}
    gate = scratch.gate(evgate, scratch.path, "s",
                        gate_conf(mtu, a.inflight), [wcpu], mtu=mtu)
    try:
        out["prefill"] = prefill(a, evgen, gate, mtu, batch)
        for k in a.subs:
            try:
                out["replay"].append(replay_case(a, evgen, gate, mtu, k))
            except eb.BenchError as e:
                out["replay"].append({"subscriptions": k,
                                      "status": f"error: {str(e)[-400:]}"})
        for k in a.live_subs:
            try:
                out["live"].append(live_case(a, evgen, gate, mtu, k))
            except eb.BenchError as e:
                out["live"].append({"subscriptions": k,
                                    "status": f"error: {str(e)[-400:]}"})
        out["evgate_config"] = gate.config()
    finally:
        gate.stop()
    return out


def summary(out):
    rep = [r for r in out.get("replay", []) if "events_per_s" in r]
    nrep = next((r for r in out.get("nats", {}).get("results", [])
                 if r["mode"] == "replay"), None)
    parts = [f"{r['subscriptions']} subs {r['events_per_s'] / 1e6:.2f} M/s"
             for r in rep]
    parts += [f"live {r['subscriptions']} p50 {r['latency_us']['p50']:.0f} "
              f"p99 {r['latency_us']['p99']:.0f} us"
              for r in out.get("live", []) if "latency_us" in r]
    if nrep:
        parts.append(f"NATS replay {nrep['events_per_s']:.0f} msgs/s")
    return "evgate delivery: " + "; ".join(parts or ["no case ran"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eb.common_args(ap, 5)
    ap.add_argument("--events", type=int, default=1000000,
                    help="events in the log (and NATS messages)")
    ap.add_argument("--subs", type=eb.int_list, default="1 4 16")
    ap.add_argument("--live-subs", type=eb.int_list, default="1 4")
    ap.add_argument("--live-rate", type=int, default=20000,
                    help="events/s produced in the live cases (both sides)")
    ap.add_argument("--credit", type=int, default=16384,
                    help="evgen --sub-credit (events per subscription)")
    ap.add_argument("--inflight", type=int, default=16384,
                    help="evgate [sub] max_inflight")
    ap.add_argument("--nats-ack", default="explicit",
                    choices=("explicit", "all", "none"))
    ap.add_argument("--nats-limit", type=int, default=240,
                    help="seconds for the whole NATS part")
    ap.add_argument("--no-nats", action="store_true")
    a = ap.parse_args()
    try:
        evgate, evgen = eb.tools(a.build)
    except eb.BenchError as e:
        print(f"subscribers: {e}", file=sys.stderr)
        return 2
    mtu, mtu_why = eb.port_mtu(evgate, evgen)
    main_cpu, wcpu = eb.cpus()
    scratch = eb.Scratch(a.dir, "evg-subscribers", a.io_cpus)
    try:
        out = evgate_cases(a, evgate, evgen, mtu, scratch, wcpu)
    except eb.BenchError as e:
        out = {"status": f"error: {str(e)[-400:]}"}
    finally:
        scratch.close()
    out["nats"] = ({"status": "not run: --no-nats"} if a.no_nats
                   else nats(a, main_cpu, wcpu))
    res = {"bench": "evgate_subscribers", **eb.fs_of(a.dir), "port_mtu": mtu,
           "port_mtu_from": mtu_why, "eal_memory": eb.eal_memory()[1],
           "ack": ACK, "event_bytes": SIZE, "events": a.events,
           "sub_credit": a.credit, "max_inflight": a.inflight,
           "cpus": {"evgen_lcore0": main_cpu, "evgate_main_lcore0": main_cpu,
                    "evgate_worker_lcore1": wcpu,
                    "evgate_io_workers": scratch.io_workers(),
                    "stages_on_worker": "rx, seq, journal, ack, tx, sub",
                    "evgen": "producer and subscribers on one lcore",
                    "nats_server": wcpu, "nats_client": main_cpu,
                    "shared": "evgen (producer + consumer) shares CPU "
                              f"{main_cpu} with evgate's main lcore; NATS "
                              "server and client each take one of the "
                              "same two CPUs"},
           "events_per_s_means": "events delivered to all subscriptions "
                                 "together per second, first DELIVER to "
                                 "last (evgen); NATS: messages delivered "
                                 "per second, first to last",
           "latency_means": "producer ts_ns (evgen's TSC clock) to the "
                            "DELIVER frame's arrival at evgen; NATS: "
                            "publish to delivery (CLOCK_MONOTONIC)",
           **out}
    eb.emit(res, summary(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
