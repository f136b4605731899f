#!/usr/bin/env python3
"""Ingest + persist throughput of evgate (issue 7, item 1; perf/README.md).

memif: evgen (memif client, as fast as it can) -> evgate (memif server),
one evgate per ACK level, every (event size, events per frame) case a
fresh evgen session against it. pcap: evgen --pcap-out writes a file of
valid frames, evgate replays it with net_pcap infinite_rx at ACK level
received. Prints one JSON object on stdout, a one-line summary on stderr.
"""

import argparse
import os
import sys
import time

sys.dont_write_bytecode = True
import evgbench as eb  # noqa: E402


def memif_matrix(a, evgate, evgen, mtu, scratch):
    out, wcpu = [], eb.cpus()[1]
    for ack in a.acks:
        cases = [(s, b) for s in a.sizes for b in a.batches]
        runnable = [c for c in cases if eb.fits(c[1], c[0], mtu) is None]
        for s, b in cases:
            why = eb.fits(b, s, mtu)
            if why:
                out.append({"path": "memif", "ack": ack, "event_bytes": s,
                            "events_per_frame": b, "status": why,
                            "frame_bytes": eb.evf_frame_bytes(b, s)})
        if not runnable:
            continue
        try:
            gate = scratch.gate(evgate, scratch.path, f"t{ack[0]}",
                                eb.gate_conf(ack, mtu), [wcpu], mtu=mtu)
        except eb.BenchError as e:
            out += [{"path": "memif", "ack": ack, "event_bytes": s,
                     "events_per_frame": b, "status": f"error: {str(e)[-400:]}"}
                    for s, b in runnable]
            continue
        for s, b in runnable:
            r = {"path": "memif", "ack": ack, "status": "ok"}
            try:
                r.update(eb.memif_case(evgen, gate, f"{ack[0]}{s}x{b}", s, b,
                                       a.seconds, a.producers, mtu))
            except eb.BenchError as e:
                r.update(event_bytes=s, events_per_frame=b,
                         status=f"error: {str(e)[-400:]}")
            out.append(r)
        gate.stop()
    return out


def make_pcap(evgen, path, size, batch, frames, producers, mtu):
    eb.run_evgen(evgen, "pc", ["--pcap-out", path, "--count",
                               str(frames * batch), "--batch", str(batch),
                               "--event-size", str(size), "--producers",
                               str(producers), "--dst-mac",
                               "02:00:00:00:00:01"], 120, mtu=mtu)


def pcap_case(a, evgate, evgen, mtu, scratch, size, batch):
    wcpu = eb.cpus()[1]
    path = os.path.join(scratch.path, f"r{size}x{batch}.pcap")
    make_pcap(evgen, path, size, batch, a.pcap_frames, 64, mtu)
    gate = scratch.gate(evgate, scratch.path, f"p{size}x{batch}",
                        eb.gate_conf("received", mtu,
                                     "[port]\npromiscuous = true\n"),
                        [wcpu], pcap=path)
    try:
        s0, t0 = gate.stats(), time.monotonic()
        time.sleep(a.seconds)
        s1, t1 = gate.stats(), time.monotonic()
    finally:
        gate.stop()
    os.unlink(path)
    d, el = eb.delta(s0, s1), t1 - t0
    seqd = d.get("seq_events_accepted", 0) + d.get("seq_events_duplicate", 0)
    return {
        "path": "pcap_replay", "ack": "received", "status": "ok",
        "event_bytes": size, "events_per_frame": batch,
        "frame_bytes": eb.evf_frame_bytes(batch, size),
        "file_frames": a.pcap_frames, "file_producers": 64,
        "seconds": round(el, 3),
        "frames_per_s": round(d.get("rx_evf_ok", 0) / el),
        "events_per_s": round(seqd / el),
        "accepted_events": d.get("seq_events_accepted", 0),
        "duplicate_events": d.get("seq_events_duplicate", 0),
        "drops": {k: v for k, v in eb.drops_by_reason(d).items()
                  if k != "seq_events_duplicate"},
        "rx_packets": d.get("rx_packets", 0)}


def pcap_matrix(a, evgate, evgen, mtu, scratch):
    out = []
    for s in a.sizes:
        for b in a.batches:
            why = eb.fits(b, s, mtu)
            if why:
                out.append({"path": "pcap_replay", "event_bytes": s,
                            "events_per_frame": b, "status": why})
                continue
            try:
                out.append(pcap_case(a, evgate, evgen, mtu, scratch, s, b))
            except eb.BenchError as e:
                out.append({"path": "pcap_replay", "event_bytes": s,
                            "events_per_frame": b,
                            "status": f"error: {str(e)[-400:]}"})
    return out


def summary(results):
    ok = [r for r in results if r["status"] == "ok"]
    best = max(ok, key=lambda r: r["events_per_s"], default=None)
    skipped = sum(r["status"].startswith("skipped") for r in results)
    if best is None:
        return f"evgate throughput: no case ran ({skipped} skipped)"
    return (f"evgate throughput: {len(ok)} cases, best {best['events_per_s']:,}"
            f" events/s ({best['path']}, {best['event_bytes']} B x "
            f"{best['events_per_frame']}, ack {best['ack']}); {skipped} "
            f"skipped")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eb.common_args(ap, 5)
    ap.add_argument("--sizes", type=eb.int_list, default="64 256 1024")
    ap.add_argument("--batches", type=eb.int_list, default="1 8 32")
    ap.add_argument("--acks", type=eb.ack_list,
                    default="received written synced")
    ap.add_argument("--paths", default="memif pcap")
    ap.add_argument("--pcap-frames", type=int, default=40000,
                    help="frames in the replayed file (mbufs are 65535)")
    a = ap.parse_args()
    try:
        evgate, evgen = eb.tools(a.build)
    except eb.BenchError as e:
        print(f"throughput: {e}", file=sys.stderr)
        return 2
    mtu, mtu_why = eb.port_mtu(evgate, evgen)
    scratch = eb.Scratch(a.dir, "evg-throughput", a.io_cpus)
    main_cpu, wcpu = eb.cpus()
    try:
        res = []
        if "memif" in a.paths:
            res += memif_matrix(a, evgate, evgen, mtu, scratch)
        if "pcap" in a.paths:
            res += pcap_matrix(a, evgate, evgen, mtu, scratch)
    finally:
        scratch.close()
    out = {"bench": "evgate_throughput", **eb.fs_of(a.dir),
           "port_mtu": mtu, "port_mtu_from": mtu_why,
           "cpus": {"evgen_lcore0": main_cpu, "evgate_main_lcore0": main_cpu,
                    "evgate_worker_lcore1": wcpu,
                    "evgate_io_workers": scratch.io_workers(),
                    "stages_on_worker": "rx, seq, journal, ack, tx"},
           "eal_memory": eb.eal_memory()[1],
           "seconds_per_case": a.seconds, "producers": a.producers,
           "events_per_s_means": {
               "memif": "new events evgen sent per second of sending; "
                        "acked_events_per_s: ACKed at the level over send+drain",
               "pcap_replay": "events validated and sequenced per second "
                              "(accepted on the first pass of the file, "
                              "duplicates after: seq_events_accepted + "
                              "seq_events_duplicate); frames_per_s: rx_evf_ok"},
           "results": res}
    eb.emit(out, summary(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
