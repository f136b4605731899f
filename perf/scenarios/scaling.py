#!/usr/bin/env python3
"""Throughput of evgate with 1 and 2 RX cores (issue 7, item 5;
perf/README.md).

Over memif, 64-byte events, the most events per frame the port MTU takes
(at most 32), ACK level received, evgen as fast as it can. Cases: every
stage on one worker lcore; two RX lcores ([port] rx_queues = 2,
[pipeline] rx_lcores = 1-2; the port may refuse a second queue, which
the result then says, from /evgate/config); RX on one lcore and the other
stages on a second. Prints one JSON object on stdout, a one-line summary
on stderr.
"""

import argparse
import sys

sys.dont_write_bytecode = True
import evgbench as eb  # noqa: E402

CASES = (
    ("1 worker: every stage", 1, ""),
    ("2 RX lcores", 2, "[port]\nrx_queues = 2\n[pipeline]\nrx_lcores = 1-2\n"
     "seq_lcores = 1\nack_lcore = 1\ntx_lcore = 1\njournal_lcore = 1\n"),
    ("2 workers: rx / seq+journal+ack+tx", 2,
     "[pipeline]\nrx_lcores = 1\nseq_lcores = 2\nack_lcore = 2\n"
     "tx_lcore = 2\njournal_lcore = 2\n"),
)


def run_case(a, evgate, evgen, mtu, scratch, i, case):
    name, workers, extra = case
    main_cpu, wcpu = eb.cpus()
    wcpus = [wcpu, main_cpu][:workers]
    batch = max(b for b in range(1, 33) if eb.fits(b, a.size, mtu) is None)
    gate = scratch.gate(evgate, scratch.path, f"s{i}",
                        eb.gate_conf("received", mtu, extra), wcpus,
                        mtu=mtu)
    try:
        conf = gate.config()
        r = eb.memif_case(evgen, gate, f"s{i}", a.size, batch, a.seconds,
                          a.producers, mtu)
    finally:
        gate.stop()
    return {"case": name, "worker_lcores": workers,
            "cpus": {**gate.cpu_map, "evgen_lcore0": main_cpu},
            "evgate_config": {k: v for k, v in conf.items()
                              if "queue" in k or "rss" in k or "lcore" in k},
            "status": "ok", **r}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    eb.common_args(ap, 4)
    ap.add_argument("--size", type=int, default=64)
    a = ap.parse_args()
    try:
        evgate, evgen = eb.tools(a.build)
    except eb.BenchError as e:
        print(f"scaling: {e}", file=sys.stderr)
        return 2
    mtu, mtu_why = eb.port_mtu(evgate, evgen)
    scratch = eb.Scratch(a.dir, "evg-scaling", a.io_cpus)
    res = []
    try:
        for i, case in enumerate(CASES):
            try:
                res.append(run_case(a, evgate, evgen, mtu, scratch, i, case))
            except eb.BenchError as e:
                res.append({"case": case[0], "status":
                            f"error: {str(e)[-400:]}"})
    finally:
        scratch.close()
    out = {"bench": "evgate_scaling", **eb.fs_of(a.dir), "port_mtu": mtu,
           "port_mtu_from": mtu_why, "eal_memory": eb.eal_memory()[1],
           "host_cpus": len(eb.os.sched_getaffinity(0)), "ack": "received",
           "results": res,
           "device_16_cores": "not run: no device lent"}
    eb.emit(out, "evgate scaling: " + "; ".join(
        f"{r['case']} {r.get('events_per_s', 0):,} ev/s" for r in res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
