#!/usr/bin/env python3
"""ACK round-trip latency of evgate versus load (issue 7, item 2;
perf/README.md).

Over memif, per ACK level: a short unlimited evgen run finds the maximum
rate (events/s sent), then evgen runs at --loads percent of it with its
rate control and reports the RTT of every frame (send -> the ACK that
covers it) p50/p99/p99.9/max. Prints one JSON object on stdout, a
one-line summary on stderr.
"""

import argparse
import sys

sys.dont_write_bytecode = True
import evgbench as eb  # noqa: E402


def level(a, evgate, evgen, mtu, scratch, ack):
    wcpu = eb.cpus()[1]
    gate = scratch.gate(evgate, scratch.path, f"l{ack[0]}",
                        eb.gate_conf(ack, mtu), [wcpu], mtu=mtu)
    runs = []
    try:
        probe = eb.memif_case(evgen, gate, f"l{ack[0]}max", a.size, a.batch,
                              a.probe_seconds, a.producers, mtu,
                              window=a.window)
        top = probe["acked_events_per_s"] or probe["events_per_s"]
        for pct in a.loads:
            r = eb.memif_case(evgen, gate, f"l{ack[0]}{pct}", a.size,
                              a.batch, a.seconds, a.producers, mtu,
                              rate=top * pct / 100, window=a.window)
            r["load_pct"] = pct
            runs.append(r)
    finally:
        gate.stop()
    return {"ack": ack, "max_events_per_s": top, "probe": probe,
            "runs": runs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eb.common_args(ap, 4)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--window", type=int, default=64)
    ap.add_argument("--acks", type=eb.ack_list,
                    default="received written synced")
    ap.add_argument("--loads", type=eb.int_list, default="10 50 90")
    ap.add_argument("--probe-seconds", type=float, default=2)
    a = ap.parse_args()
    try:
        evgate, evgen = eb.tools(a.build)
    except eb.BenchError as e:
        print(f"latency: {e}", file=sys.stderr)
        return 2
    mtu, mtu_why = eb.port_mtu(evgate, evgen)
    why = eb.fits(a.batch, a.size, mtu)
    if why:
        print(f"latency: --size {a.size} --batch {a.batch}: {why}",
              file=sys.stderr)
        return 2
    scratch = eb.Scratch(a.dir, "evg-latency", a.io_cpus)
    levels = []
    try:
        for ack in a.acks:
            try:
                levels.append(level(a, evgate, evgen, mtu, scratch, ack))
            except eb.BenchError as e:
                levels.append({"ack": ack, "status": f"error: {str(e)[-400:]}"})
    finally:
        scratch.close()
    main_cpu, wcpu = eb.cpus()
    out = {"bench": "evgate_latency", **eb.fs_of(a.dir), "port_mtu": mtu,
           "port_mtu_from": mtu_why, "eal_memory": eb.eal_memory()[1],
           "cpus": {"evgen_lcore0": main_cpu, "evgate_main_lcore0": main_cpu,
                    "evgate_worker_lcore1": wcpu,
                    "evgate_io_workers": scratch.io_workers(),
                    "stages_on_worker": "rx, seq, journal, ack, tx"},
           "event_bytes": a.size, "events_per_frame": a.batch,
           "window_per_stream": a.window, "producers": a.producers,
           "rtt": "evgen: tx_burst of a frame -> the ACK covering its last "
                  "event, microseconds", "levels": levels}
    parts = []
    for lv in levels:
        for r in lv.get("runs", []):
            parts.append(f"{lv['ack']} {r['load_pct']}% p99 "
                         f"{r['rtt_us']['p99']:.0f}")
    eb.emit(out, "evgate ACK RTT (us): " + "; ".join(parts or ["no run"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
