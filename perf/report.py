#!/usr/bin/env python3
"""Results of perf/run.sh (perf/README.md).

    report.py collect --tmp DIR --mode M --build B --dir D \
        --seconds-total S --out FILE
        gathers the benchmarks' JSON (DIR/NAME.json, .err and the index
        run.sh wrote) and the host's description into one results file;
    report.py render FILE [--readme README.md]
        draws FILE's PNG plots beside it with gnuplot (latency versus load
        per ACK level; throughput by event size and events per frame),
        prints the results table and, with --readme, puts it between the
        perf-table markers of that file. Nothing in the table is typed by
        hand: every figure comes from FILE.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys

BEGIN, END = "<!-- perf-table:begin -->", "<!-- perf-table:end -->"
GOAL_EVENTS_PER_CORE = 25e6
GOAL_BW_RATIO, GOAL_P99_RATIO, GOAL_PEER_RATIO = 0.9, 1.2, 20
GOAL_DELIVERY_PER_CORE, GOAL_DELIVERY_NATS_RATIO = 10e6, 50


# ---- collect ----------------------------------------------------------------

def host_info():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for ln in f:
            if ln.startswith("model name"):
                model = ln.split(":", 1)[1].strip()
                break
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {"hostname": platform.node(), "kernel": platform.release(),
            "cpu_model": model, "cpus": os.cpu_count(),
            "cpus_allowed": sorted(os.sched_getaffinity(0)),
            "loadavg_at_end": load}


def read_bench(tmp, name, rc, secs, limit, why):
    entry = {"seconds": float(secs), "limit_s": int(limit)}
    if rc == "na":
        return {**entry, "status": f"not available: {why}"}
    err = os.path.join(tmp, f"{name}.err")
    lines = open(err, errors="replace").read().splitlines() if \
        os.path.exists(err) else []
    entry["summary"] = lines[-1] if lines else ""
    try:
        with open(os.path.join(tmp, f"{name}.json")) as f:
            entry["result"] = json.load(f)
    except (OSError, ValueError):
        entry["result"] = None
    if rc in ("124", "137"):
        entry["status"] = f"timed out after {limit} s"
    elif rc != "0" or entry["result"] is None:
        entry["status"] = f"failed: exit {rc}"
        entry["stderr_tail"] = lines[-8:]
    else:
        entry["status"] = "ok"
    return entry


def collect(a):
    benches = {}
    with open(os.path.join(a.tmp, "index")) as f:
        for ln in f:
            name, rc, secs, limit, *why = ln.rstrip("\n").split("\t")
            benches[name] = read_bench(a.tmp, name, rc, secs, limit,
                                       why[0] if why else "")
    out = {"schema": 1, "date": datetime.datetime.now().isoformat(
               timespec="seconds"),
           "mode": a.mode, "build": a.build, "dir": a.dir,
           "seconds_total": a.seconds_total, "host": host_info(),
           "scaling_16_core_device": "not run: no device lent",
           "benchmarks": benches}
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


# ---- figures out of the results ---------------------------------------------

def result(res, name):
    b = res["benchmarks"].get(name, {})
    return b.get("result") if b.get("status") == "ok" else None


def fmt(x):
    if x is None:
        return "–"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.0f} k"
    return f"{x:.0f}"


def ratio(a, b):
    return f"{a / b:.1f}×" if a and b else "–"


def throughput_rows(res):
    t = result(res, "throughput")
    return [r for r in (t or {}).get("results", [])]


def evgate_best(res, ack, size, path="memif"):
    """Best events/s of evgate at this ACK level and event size."""
    ok = [r for r in throughput_rows(res) if r.get("status") == "ok" and
          r["path"] == path and r["ack"] == ack and r["event_bytes"] == size]
    return max((r["events_per_s"] for r in ok), default=None)


def peer_best(res, bench, key, val, size):
    r = result(res, bench)
    rows = [x for x in (r or {}).get("results", [])
            if x.get(key) == val and x.get("event_bytes") == size]
    return max((x["events_per_s"] for x in rows), default=None)


def kudp_best(res, mode, size):
    best = None
    for name, b in res["benchmarks"].items():
        r = b.get("result") if b.get("status") == "ok" else None
        if name.startswith("kudp_") and r and r["mode"] == mode and \
                r["event_bytes"] == size:
            best = max(best or 0, r["events_per_s"])
    return best


# ---- the table --------------------------------------------------------------

def table_throughput(res):
    rows = throughput_rows(res)
    if not rows:
        return ["Throughput: " + res["benchmarks"].get("throughput", {}).get(
            "status", "not run") + "."]
    acks = ("received", "written", "synced")
    out = ["| path | event | per frame | " + " | ".join(
               f"{a} events/s" for a in acks) + " | disk MB/s (synced) | drops |",
           "|---|---:|---:|" + "---:|" * (len(acks) + 1) + "---|"]
    keys = sorted({(r["path"], r["event_bytes"], r["events_per_frame"])
                   for r in rows})
    for path, s, b in keys:
        cells, disk, drops = [], "–", set()
        for a in acks:
            r = next((r for r in rows if (r["path"], r.get("ack", "received"),
                      r["event_bytes"], r["events_per_frame"]) ==
                      (path, a, s, b)), None)
            if r is None:
                cells.append("–")
            elif r["status"] != "ok":
                cells.append(r["status"].split(":")[0])
            else:
                cells.append(fmt(r["events_per_s"]))
                drops |= {f"{k} {v}" for k, v in r.get("drops", {}).items()}
                if a == "synced":
                    disk = f"{r['disk_mb_per_s']:.0f}"
        out.append(f"| {path} | {s} B | {b} | " + " | ".join(cells) +
                   f" | {disk} | {', '.join(sorted(drops)) or '0'} |")
    return out


def table_latency(res):
    lat = result(res, "latency")
    if not lat:
        return []
    out = [f"ACK RTT over memif ({lat['event_bytes']} B × "
           f"{lat['events_per_frame']} per frame, window "
           f"{lat['window_per_stream']} per stream), µs:", "",
           "| ACK level | max events/s | load | achieved events/s | p50 | p99 | "
           "p99.9 | max |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lv in lat["levels"]:
        for r in lv.get("runs", []):
            u = r["rtt_us"]
            out.append(f"| {lv['ack']} | {fmt(lv['max_events_per_s'])} | "
                       f"{r['load_pct']} % | {fmt(r['events_per_s'])} | "
                       f"{u['p50']:.0f} | {u['p99']:.0f} | {u['p99_9']:.0f} | "
                       f"{u['max']:.0f} |")
    return out


def synced_p99(res):
    lat = result(res, "latency")
    for lv in (lat or {}).get("levels", []):
        if lv["ack"] == "synced" and lv.get("runs"):
            return lv["runs"][0]["rtt_us"]["p99"]
    return None


def table_goals(res):
    st = result(res, "storage") or {}
    fio = st.get("fio", {})
    fds = fio.get("write_fdatasync_4k", {}).get("fdatasync_lat_us", {})
    bw = max((b["ratio_to_fio_seq"] or 0 for b in st.get("bandwidth", [])),
             default=None)
    bwf = max((b.get("ratio_to_fio_fresh") or 0
               for b in st.get("bandwidth", [])), default=None)
    jl = min((x["ratio_p99_to_fio"] for x in st.get("synced_latency", [])
              if x.get("ratio_p99_to_fio")), default=None)
    m64 = max((r["events_per_s"] for r in throughput_rows(res)
               if r.get("status") == "ok" and r["event_bytes"] == 64 and
               r.get("ack", "received") == "received" and
               r["events_per_frame"] == 32), default=None)
    e2e = synced_p99(res)
    peer = max(filter(None, [peer_best(res, "redis", "appendfsync", "always", 64),
                             kudp_best(res, "fdatasync", 64)]), default=None)
    ev = evgate_best(res, "synced", 64)
    rows = [
        ("≥ 25 M events/s per RX core, 64 B × 32, received",
         fmt(m64), m64 and m64 >= GOAL_EVENTS_PER_CORE),
        ("journal ≥ 90 % of fio sequential MB/s (storage.sh, best case)",
         (f"{bw:.2f}×" if bw else "–") +
         (f" (fresh file: {bwf:.2f}×)" if bwf else ""),
         bw and bw >= GOAL_BW_RATIO),
        ("journal synced p99 ≤ 1.2 × fio p99 (storage.sh, best mode)",
         f"{jl:.2f}×" if jl else "–", jl and jl <= GOAL_P99_RATIO),
        ("evgate synced ACK p99 (10 % load) vs fio fdatasync p99",
         ratio(e2e, fds.get("p99")), e2e and fds.get("p99") and
         e2e <= GOAL_P99_RATIO * fds["p99"]),
        ("≥ 20 × best synced peer events/s, 64 B",
         ratio(ev, peer), ev and peer and ev >= GOAL_PEER_RATIO * peer)]
    rows += delivery_goals(res)
    out = ["| goal | measured | met |", "|---|---:|---|"]
    for g, m, ok in rows:
        out.append(f"| {g} | {m} | {'–' if m == '–' else ('yes' if ok else 'no')} |")
    return out


def table_peers(res):
    out = ["| event | evgate synced | ÷ redis always | ÷ kudp fdatasync | "
           "evgate written | ÷ redis everysec | ÷ kudp write | "
           "÷ NATS async | ÷ NATS sync |", "|---:|" + "---:|" * 8]
    sizes = sorted({r["event_bytes"] for r in throughput_rows(res)
                    if r.get("path") == "memif"})
    for s in sizes:
        sy, wr = evgate_best(res, "synced", s), evgate_best(res, "written", s)
        wlab = fmt(wr)
        if wr is None:
            wr = evgate_best(res, "received", s)
            wlab = f"{fmt(wr)} (received: written not run)"
        out.append(
            f"| {s} B | {fmt(sy)} | "
            f"{ratio(sy, peer_best(res, 'redis', 'appendfsync', 'always', s))} | "
            f"{ratio(sy, kudp_best(res, 'fdatasync', s))} | {wlab} | "
            f"{ratio(wr, peer_best(res, 'redis', 'appendfsync', 'everysec', s))} | "
            f"{ratio(wr, kudp_best(res, 'write', s))} | "
            f"{ratio(wr, peer_best(res, 'nats', 'mode', 'async', s))} | "
            f"{ratio(wr, peer_best(res, 'nats', 'mode', 'sync', s))} |")
    return out


# ---- delivery to subscribers (scenarios/subscribers.py) --------------------

def delivery(res):
    """The subscribers result: evgate replay and live rows, NATS's."""
    r = result(res, "subscribers") or {}
    nats = r.get("nats", {})
    by_mode = {x["mode"]: x for x in nats.get("results", [])}
    rep = [x for x in r.get("replay", []) if "events_per_s" in x]
    return r, rep, by_mode


def delivery_goals(res):
    r, rep, nats = delivery(res)
    if not r:
        return []
    best = max((x["events_per_s"] for x in rep), default=None)
    one = next((x["events_per_s"] for x in rep if x["subscriptions"] == 1),
               None)
    nrep = nats.get("replay", {}).get("events_per_s")
    return [
        ("≥ 10 M events/s delivered per core, 64 B (subscribers.py, best "
         "of 1/4/16 subscriptions)", fmt(best),
         best and best >= GOAL_DELIVERY_PER_CORE),
        ("delivery ≥ 50 × JetStream push consumer, 64 B, one subscriber "
         "each (replay)", ratio(one, nrep),
         one and nrep and one >= GOAL_DELIVERY_NATS_RATIO * nrep)]


def table_delivery(res):
    r, rep, nats = delivery(res)
    if not r:
        st = res["benchmarks"].get("subscribers", {}).get("status")
        return [f"Delivery to subscribers: {st}."] if st else []
    nrep, nlive = nats.get("replay"), nats.get("live")
    out = [f"Delivery to subscribers over memif ({r['event_bytes']} B, ACK "
           f"level {r['ack']}, a log of {fmt(r['events'])} events read from "
           "the oldest; every subscription on evgate's one worker lcore, "
           f"evgen's subscriptions on CPU {r['cpus']['evgen_lcore0']} with "
           "evgate's main lcore), beside a NATS JetStream push consumer "
           f"(file stream, ack {nrep['ack'] if nrep else '–'}):", "",
           "| consumer | subscriptions | delivered events/s | per "
           "subscription | events per frame | NAKs | ÷ NATS |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for x in r.get("replay", []):
        if "events_per_s" not in x:
            out.append(f"| evgate | {x['subscriptions']} | "
                       f"{x.get('status', '–').split(':')[0]} | | | | |")
            continue
        per = x["per_subscription_events_per_s"]
        out.append(f"| evgate | {x['subscriptions']} | "
                   f"{fmt(x['events_per_s'])} | {fmt(per[0])}–"
                   f"{fmt(per[-1])} | {x['events_per_frame']} | "
                   f"{x['naks']} | "
                   f"{ratio(x['events_per_s'], (nrep or {}).get('events_per_s'))} |")
    out.append("| NATS push consumer | 1 | " +
               (f"{fmt(nrep['events_per_s'])} | | 1 | – | 1.0× |" if nrep
                else f"{r.get('nats', {}).get('status', '–')} | | | | |"))
    out += ["", f"Producer-to-subscriber latency, live tail at "
            f"{fmt(r.get('live', [{}])[0].get('rate_asked'))} events/s "
            "produced, µs:", "",
            "| consumer | subscriptions | delivered events/s | p50 | p99 | "
            "p99.9 |", "|---|---:|---:|---:|---:|---:|"]
    for x in r.get("live", []):
        if "latency_us" not in x:
            continue
        u = x["latency_us"]
        out.append(f"| evgate | {x['subscriptions']} | "
                   f"{fmt(x['events_per_s'])} | {u['p50']:.0f} | "
                   f"{u['p99']:.0f} | {u['p99_9']:.0f} |")
    if nlive:
        u = nlive["latency_us"]
        out.append(f"| NATS push consumer | 1 | "
                   f"{fmt(nlive['events_per_s'])} | {u['p50']:.0f} | "
                   f"{u['p99']:.0f} | {u['p99_9']:.0f} |")
    return out


def table_scaling(res):
    sc = result(res, "scaling")
    if not sc:
        return []
    out = ["| scaling case (memif, received) | RX queues | events/s |",
           "|---|---:|---:|"]
    for r in sc["results"]:
        q = r.get("evgate_config", {}).get("rx_queues", "–")
        out.append(f"| {r['case']} | {q} | {fmt(r.get('events_per_s'))} |")
    out.append(f"| 16-core host, 1–8 RX cores | | "
               f"{res['scaling_16_core_device']} |")
    return out


def table_summaries(res):
    """The one-line summaries the storage and micro benchmarks printed."""
    return [f"- `{n}`: {b['summary']}" for n, b in res["benchmarks"].items()
            if b.get("status") == "ok" and
            (n == "storage" or n.startswith("micro_"))]


def table_status(res):
    return ["Benchmarks: " + "; ".join(
        f"{n} {b['status'] if b['status'] != 'ok' else 'ok'} "
        f"({b['seconds']:.0f} s)" for n, b in res["benchmarks"].items()
        if not n.startswith("kudp_") or b["status"] != "ok") + "."]


def cpu_line(res):
    t = result(res, "throughput") or {}
    c = t.get("cpus", {})
    return (f"CPUs: evgen lcore 0 on CPU {c.get('evgen_lcore0', '?')}, evgate "
            f"main lcore 0 on CPU {c.get('evgate_main_lcore0', '?')}, worker "
            f"lcore 1 (every stage) on CPU {c.get('evgate_worker_lcore1', '?')},"
            f" the log's kernel io workers on CPU "
            f"{c.get('evgate_io_workers', '?')};"
            f" log on {t.get('fs', '?')} ({t.get('device', '?')}) under "
            f"{t.get('dir', '?')}; port MTU {t.get('port_mtu', '?')}; "
            f"{t.get('eal_memory', '')}.")


def hiccup_line(res):
    """The host's floor for tail latency (bench_hiccup)."""
    h = result(res, "hiccup")
    if not h:
        return []
    per = "; ".join(f"CPU {c['cpu']}: {c['lost_pct']:.2f} % of the time in "
                    f"{c['gaps']} gaps, the longest {c['max_ms']:.1f} ms, "
                    f"{c['over_2ms']} over 2 ms" for c in h["cpus"])
    return [f"Host floor (`bench_hiccup`, a thread spinning alone on each "
            f"CPU for {h['seconds']:.0f} s, gaps over {h['threshold_us']} µs):"
            f" {per}. A latency measured through these CPUs meets such a gap "
            f"about as often: its p99 cannot be below them."]


def table(res, plots):
    h = res["host"]
    out = [f"Run of {res['date']} on {h['hostname']} ({h['cpus']} × "
           f"{h['cpu_model']}, Linux {h['kernel']}, load {h['loadavg_at_end']}"
           f" at the end), `perf/run.sh` {res['mode']} mode, "
           f"{res['seconds_total']} s; file `{res['_file']}`.", "",
           cpu_line(res), ""] + hiccup_line(res) + [""]
    for part in (table_goals, table_throughput, table_latency, table_peers,
                 table_scaling, table_delivery, table_summaries):
        lines = part(res)
        if lines:
            out += lines + [""]
    out += [f"![{p}]({p})" for p in plots] + ([""] if plots else [])
    out += table_status(res)
    return "\n".join(out)


# ---- plots (gnuplot) ---------------------------------------------------------

def gnuplot(script, data, png):
    dat = png[:-4] + ".dat"
    with open(dat, "w") as f:
        f.write(data)
    try:
        subprocess.run(["gnuplot"], input=script.replace("DAT", dat),
                       text=True, check=True, timeout=60)
    finally:
        os.unlink(dat)
    return png


def plot_latency(res, png):
    lat = result(res, "latency")
    blocks, titles = [], []
    for lv in (lat or {}).get("levels", []):
        rows = [f"{r['events_per_s']} {r['rtt_us']['p50']} {r['rtt_us']['p99']}"
                f" {r['rtt_us']['p99_9']}" for r in lv.get("runs", [])]
        if rows:
            blocks.append("\n".join(rows))
            titles.append(lv["ack"])
    if not blocks:
        return None
    plots = ", ".join(
        f"'DAT' index {i} using 1:{c} with linespoints title '{t} {n}'"
        for i, t in enumerate(titles) for c, n in ((2, "p50"), (3, "p99")))
    return gnuplot(
        "set terminal pngcairo size 900,560\n"
        f"set output '{png}'\nset logscale y\nset grid\n"
        "set title 'evgate ACK RTT vs load (memif)'\n"
        "set xlabel 'events/s achieved'\nset ylabel 'RTT, us'\n"
        "set key outside right\n"
        f"plot {plots}\n", "\n\n\n".join(blocks) + "\n", png)


def plot_throughput(res, png):
    rows = [r for r in throughput_rows(res) if r.get("status") == "ok"]
    if not rows:
        return None
    cats = sorted({(r["path"], r["event_bytes"], r["events_per_frame"])
                   for r in rows})
    acks = ("received", "written", "synced")
    data = []
    for p, s, b in cats:
        v = []
        for a in acks:
            r = next((r for r in rows if (r["path"], r.get("ack", "received"),
                      r["event_bytes"], r["events_per_frame"]) ==
                      (p, a, s, b)), None)
            v.append(f"{r['events_per_s'] / 1e6:.3f}" if r else "0")
        data.append(f"\"{p[:4]} {s}Bx{b}\" " + " ".join(v))
    return gnuplot(
        "set terminal pngcairo size 1100,560\n"
        f"set output '{png}'\nset style data histograms\n"
        "set style histogram clustered gap 1\nset style fill solid 0.8\n"
        "set grid ytics\nset xtics rotate by -40\n"
        "set title 'evgate throughput by event size and events per frame'\n"
        "set ylabel 'M events/s'\n"
        "plot 'DAT' using 2:xtic(1) title 'received', '' using 3 title "
        "'written', '' using 4 title 'synced'\n", "\n".join(data) + "\n", png)


def render(a):
    with open(a.file) as f:
        res = json.load(f)
    res["_file"] = os.path.relpath(a.file, os.path.dirname(
        os.path.abspath(a.readme)) if a.readme else ".")
    stem = a.file[:-5] if a.file.endswith(".json") else a.file
    plots = []
    if shutil.which("gnuplot"):
        for fn, suffix in ((plot_latency, "-latency.png"),
                           (plot_throughput, "-throughput.png")):
            p = fn(res, stem + suffix)
            if p:
                plots.append(os.path.relpath(p, os.path.dirname(
                    os.path.abspath(a.readme)) if a.readme else "."))
    else:
        print("report.py: gnuplot not found: no plots", file=sys.stderr)
    text = table(res, plots)
    print(text)
    if a.readme:
        with open(a.readme) as f:
            doc = f.read()
        i, j = doc.find(BEGIN), doc.find(END)
        if i < 0 or j < i:
            print(f"report.py: {a.readme}: no {BEGIN} ... {END}",
                  file=sys.stderr)
            return 1
        with open(a.readme, "w") as f:
            f.write(doc[:i + len(BEGIN)] + "\n" + text + "\n" + doc[j:])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    for o in ("--tmp", "--mode", "--build", "--dir", "--out"):
        c.add_argument(o, required=True)
    c.add_argument("--seconds-total", type=int, required=True)
    r = sub.add_parser("render")
    r.add_argument("file")
    r.add_argument("--readme")
    a = ap.parse_args()
    if a.cmd == "collect":
        collect(a)
        return 0
    return render(a)


if __name__ == "__main__":
    sys.exit(main())
