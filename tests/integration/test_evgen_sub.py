#!/usr/bin/env python3
"""evgen as a subscriber of evgate over memif. Speaks TAP.

    test_evgen_sub.py EVGEN EVGATE EVTAIL

evgate (memif server, ACK level written, 2 partitions, its log in a
temporary directory) and evgen (memif client) run as two DPDK processes
with their own --file-prefix, --no-huge and --no-pci. Four evgen runs:

1. one process produces N events (2 producers x 2 streams) and holds K
   subscriptions from the oldest event: every subscription must receive
   exactly the events of the log, in offset order, each once;
2. a consumer only (--producers 0): a consumer group of two round-robin
   members from the oldest: together they receive the log exactly once;
3. K subscriptions from the end, then M more events produced: each gets
   exactly the events appended after it subscribed, with their latency;
4. a consumer only that drops 3 % of the DELIVER frames on purpose
   (--sub-drop-pct): its NAKs, and evgate's rto for a lost last frame,
   repair every gap, and it still gets the whole log once, in order.

Every run prints --json and writes --sub-dump (one line per event); the
log is read with `evtail --json` once evgate has stopped, and every
subscription's events are compared with it. evgate must have no
subscription left after each run (evgen UNSUBSCRIBEs). Needs root (SKIP
without). Every process is bounded by a timeout and killed by PID; the
temporary directory and the EAL runtime directories go at the end.
"""

import collections
import json
import os
import shutil
import signal
import sys
import tempfile

sys.dont_write_bytecode = True
import taputil  # noqa: E402

GATE_IP, GEN_IP = "10.78.0.2", "10.78.0.1"
EAL_COMMON = ["--no-huge", "--no-pci", "--no-shconf",
              "--log-level=lib.eal:error"]
GATE_CONF = ("[ack]\nlevel = written\nnak_rate = 1000000\nnak_burst = 100000\n"
             "[log]\npartitions = 2\n")
N, K, M = 20000, 3, 5000
PREFIXES = ("g", "a", "b", "c", "d")


def lcores():
    """evgate: main + one worker; evgen: one lcore, on the CPUs there are."""
    cpus = sorted(os.sched_getaffinity(0))
    a, b = cpus[0], cpus[-1]
    return [f"--lcores=0@{a},1@{b}"], [f"--lcores=0@{b}"]


class Ctx:
    def __init__(self, tools, tmp, pid):
        self.evgen, self.evgate, self.evtail = tools
        self.tmp, self.pid = tmp, pid
        self.procs = taputil.ProcSet()
        self.runs = []
        self.sock = os.path.join(tmp, "memif.sock")
        self.logdir = os.path.join(tmp, "log")
        self.gprefix = f"evgs{pid}g"
        self.gate = None
        self.results = {}

    def evgen_run(self, tag, opts, timeout=90):
        """One evgen run (memif client); its JSON summary and dump."""
        _, gen_eal = lcores()
        dump = os.path.join(self.tmp, f"dump-{tag}.txt")
        cmd = ([self.evgen, *gen_eal, *EAL_COMMON, "-m", "256",
                "--file-prefix", f"evgs{self.pid}{tag}",
                f"--vdev=net_memif0,role=client,socket={self.sock}", "--",
                "--dst-ip", GATE_IP, "--src-ip", GEN_IP, "--json",
                "--sub-dump", dump] + opts)
        p = self.procs.start(cmd)
        self.runs.append(p)
        rc = p.wait(timeout)
        if rc is None:
            p.kill()
            raise taputil.Fail(f"evgen did not finish in {timeout} s")
        js = [ln for ln in p.output() if ln.startswith("{")]
        if rc != 0 or len(js) != 1:
            raise taputil.Fail(f"evgen exited {rc} with {len(js)} JSON lines")
        return json.loads(js[0]), read_dump(dump)

    def subscribers_left(self):
        return taputil.telemetry(self.gprefix, "/evgate/subscribers")


def read_dump(path):
    """Per subscription index: the events, in the order received, as
    (partition, offset, producer, session, seq, stream, flags)."""
    out = collections.defaultdict(list)
    with open(path) as f:
        for ln in f:
            sub, stream, part, off, prod, sess, seq, flags = map(int, ln.split())
            out[sub].append((part, off, prod, sess, seq, stream, flags))
    return out


def start_gate(ctx):
    gate_eal, _ = lcores()
    os.mkdir(ctx.logdir)
    conf = os.path.join(ctx.tmp, "gate.ini")
    with open(conf, "w") as f:
        f.write(GATE_CONF)
    cmd = ([ctx.evgate, *gate_eal, *EAL_COMMON, "-m", "512", "--file-prefix",
            ctx.gprefix, f"--vdev=net_memif0,role=server,socket={ctx.sock}",
            "--", "--ip", f"{GATE_IP}/24", "--log-dir", ctx.logdir,
            "--config", conf])
    ctx.gate = taputil.start_evgate(ctx.procs, cmd)


def no_subscription_left(ctx, what):
    left = ctx.subscribers_left()
    taputil.check(not left, f"after {what}: evgate still serves {left}")


def case_produce_and_subscribe(ctx):
    """One process: N events produced, K subscriptions from the oldest;
    evgate's subscriber counters moved by what evgen counted."""
    before = taputil.telemetry(ctx.gprefix, "/evgate/stats")
    gen, dump = ctx.evgen_run("a", [
        "--count", str(N), "--batch", "16", "--producers", "2",
        "--streams", "2", "--event-size", "16-64", "--subscribe", str(K),
        "--sub-from", "oldest", "--sub-count", str(K * N),
        "--drain-ms", "30000"])
    ctx.results["a"] = (gen, dump)
    subs = gen["subscribers"]
    taputil.check(gen["acked_events"] == N and gen["unacked"] == 0,
                  f"acked {gen['acked_events']} of {N}, {gen['unacked']} "
                  "frames unacked")
    taputil.check(subs["events"] == K * N,
                  f"subscriptions received {subs['events']}, want {K * N}")
    no_subscription_left(ctx, "the first run")
    after = taputil.telemetry(ctx.gprefix, "/evgate/stats")
    d = {k: after[k] - before.get(k, 0) for k in after
         if k.startswith("sub_") and isinstance(after[k], int)}
    bad = [f"{what}: evgate {got}, evgen {want}" for what, got, want in (
        ("sub_events + sub_redelivered = events",
         d.get("sub_events", 0) + d.get("sub_redelivered", 0), subs["events"]),
        ("sub_frames = frames", d.get("sub_frames", 0), subs["frames"]),
        ("sub_credits = credits", d.get("sub_credits", 0), subs["credits"]),
        ("sub_subscribed = subscriptions", d.get("sub_subscribed", 0), K),
        ("sub_unsubscribes = subscriptions", d.get("sub_unsubscribes", 0), K))
        if got != want]
    taputil.check(not bad, "; ".join(bad))
    return (f"{N} events acked; {K} subscriptions: {subs['events']} events "
            f"in {subs['frames']} frames, {subs['events_per_s']:.0f} events/s, "
            f"duplicates {subs['duplicates']}, naks {subs['naks']}")


def case_group(ctx):
    """A consumer only: two round-robin members of one group."""
    gen, dump = ctx.evgen_run("b", [
        "--producers", "0", "--streams", "2", "--subscribe", "2",
        "--sub-src-port", "51000", "--sub-consumer-base", "2000",
        "--sub-group", "evgen-test", "--sub-policy", "round-robin",
        "--sub-from", "oldest", "--sub-count", str(N),
        "--sub-credit", "256", "--duration", "60"])
    ctx.results["b"] = (gen, dump)
    per = gen["subscribers"]["per_subscription"]
    taputil.check(all(p["state"] == "closed" and p["members"] >= 1
                      for p in per), f"members: {per}")
    no_subscription_left(ctx, "the group run")
    return ", ".join(f"member {p['consumer_id']}: {p['events']} events"
                     for p in per)


def case_live_tail(ctx):
    """K subscriptions from the end, then M more events."""
    gen, dump = ctx.evgen_run("c", [
        "--count", str(M), "--batch", "8", "--producers", "1",
        "--producer-base", "50", "--streams", "2", "--rate", "100000",
        "--subscribe", str(K), "--sub-src-port", "52000",
        "--sub-consumer-base", "3000", "--sub-from", "end",
        "--sub-count", str(K * M), "--drain-ms", "30000"])
    ctx.results["c"] = (gen, dump)
    lat = gen["subscribers"]["latency_ns"]
    taputil.check(gen["acked_events"] == M, f"acked {gen['acked_events']}")
    taputil.check(lat["count"] == K * M and
                  0 < lat["p50"] <= lat["p99"] <= lat["max"],
                  f"latency: {lat}")
    no_subscription_left(ctx, "the live-tail run")
    return (f"latency ns p50 {lat['p50']} p99 {lat['p99']} p99.9 "
            f"{lat['p99_9']} max {lat['max']} over {lat['count']} events")


def case_lossy(ctx):
    """A consumer only that drops 3 % of the DELIVER frames on purpose:
    NAKs (and evgate's rto, for a lost last frame) repair every gap."""
    gen, dump = ctx.evgen_run("d", [
        "--producers", "0", "--streams", "2", "--subscribe", "2",
        "--sub-src-port", "53000", "--sub-consumer-base", "4000",
        "--sub-drop-pct", "3", "--sub-credit", "1024",
        "--sub-count", str(2 * (N + M)), "--duration", "60"])
    ctx.results["d"] = (gen, dump)
    subs = gen["subscribers"]
    taputil.check(subs["events"] == 2 * (N + M),
                  f"received {subs['events']} of {2 * (N + M)}")
    taputil.check(subs["dropped"] > 0 and subs["gaps"] > 0 and
                  subs["naks"] > 0, f"dropped {subs['dropped']} gaps "
                  f"{subs['gaps']} naks {subs['naks']}")
    no_subscription_left(ctx, "the lossy run")
    return (f"dropped {subs['dropped']} frames: gaps {subs['gaps']}, naks "
            f"{subs['naks']}, duplicates {subs['duplicates']}, records past "
            f"a gap {subs['dropped_past_gap']}")


def log_by_partition(recs):
    """partition -> [(offset, producer, session, seq)] in offset order."""
    out = collections.defaultdict(list)
    for r in recs:
        out[r["partition"]].append((r["offset"], r["producer"],
                                    r["session"], r["seq"]))
    for v in out.values():
        v.sort()
    return out


def received_by_partition(events):
    out = collections.defaultdict(list)
    for part, off, prod, sess, seq, _, _ in events:
        out[part].append((off, prod, sess, seq))
    return out


def compare(want, got, who):
    """Problems of got (partition -> events in arrival order) against
    want (the same, from the log)."""
    bad = []
    for part in sorted(set(want) | set(got)):
        w, g = want.get(part, []), got.get(part, [])
        if g != sorted(g):
            bad.append(f"{who}: partition {part} not in offset order")
        if len(set(g)) != len(g):
            bad.append(f"{who}: partition {part}: {len(g) - len(set(g))} "
                       "events twice")
        if sorted(set(g)) != w:
            missing = len(set(w) - set(g))
            extra = len(set(g) - set(w))
            bad.append(f"{who}: partition {part}: {len(g)} events, log "
                       f"{len(w)}: {missing} missing, {extra} not in the log")
    return bad


def check_logs(tap, ctx, recs):
    """The three runs' dumps against the log (first N, then all)."""
    log = log_by_partition(recs)
    gen_a, dump_a = ctx.results["a"]
    first = {p: [e for e in v if e[1] in (1, 2)] for p, v in log.items()}
    bad = []
    for i in range(K):
        bad += compare(first, received_by_partition(dump_a.get(i, [])),
                       f"subscription {i}")
    tap.result(not bad and len(recs) == N + M,
               "every_subscription_from_oldest_receives_the_log_in_offset_order_once",
               "\n".join(bad[:10]) or f"{K} x {N} events = evtail's log "
               f"({len(recs)} records in all)")
    subs = gen_a["subscribers"]
    tap.result(subs["gaps_unrepaired"] == 0 and subs["out_of_order"] == 0,
               "no_gap_left_unrepaired_and_no_event_out_of_order",
               f"gaps {subs['gaps']} naks {subs['naks']} unrepaired "
               f"{subs['gaps_unrepaired']} out_of_order {subs['out_of_order']} "
               f"duplicates {subs['duplicates']}")
    if "b" in ctx.results:
        _, dump_b = ctx.results["b"]
        union = dump_b.get(0, []) + dump_b.get(1, [])
        union.sort(key=lambda e: (e[0], e[1]))
        bad = compare(first, received_by_partition(union), "the group")
        for i in (0, 1):
            for part, g in received_by_partition(dump_b.get(i, [])).items():
                if any(a >= b for a, b in zip(g, g[1:])):
                    bad.append(f"member {i}: partition {part} not in "
                               "strictly increasing offset order")
        tap.result(not bad, "a_group_of_two_round_robin_members_shares_the_log_exactly_once",
                   "\n".join(bad[:10]) or
                   f"{len(dump_b.get(0, []))} + {len(dump_b.get(1, []))} "
                   f"events = the {N} of the log, each member in offset order")
        tap.result(len(dump_b.get(0, [])) > 0 and len(dump_b.get(1, [])) > 0,
                   "both_round_robin_members_receive_events",
                   f"{len(dump_b.get(0, []))} and {len(dump_b.get(1, []))}")
    if "d" in ctx.results:
        gen_d, dump_d = ctx.results["d"]
        bad = []
        for i in (0, 1):
            bad += compare(log, received_by_partition(dump_d.get(i, [])),
                           f"lossy subscription {i}")
        subs = gen_d["subscribers"]
        tap.result(not bad and subs["gaps_unrepaired"] == 0 and
                   subs["out_of_order"] == 0,
                   "dropped_deliver_frames_are_naked_and_resent_until_the_log_arrives_whole",
                   "\n".join(bad[:10]) or
                   f"2 x {len(recs)} events in offset order once; "
                   f"{subs['dropped']} frames dropped, {subs['naks']} NAKs, "
                   f"{subs['gaps_unrepaired']} unrepaired")
    if "c" in ctx.results:
        gen_c, dump_c = ctx.results["c"]
        bad = []
        for i, p in enumerate(gen_c["subscribers"]["per_subscription"]):
            ends = {s["partition"]: s["end"] for s in p["start"]}
            want = {part: [e for e in v if e[0] >= ends.get(part, 0)]
                    for part, v in log.items()}
            bad += compare(want, received_by_partition(dump_c.get(i, [])),
                           f"live subscription {i}")
        tap.result(not bad,
                   "live_tail_subscriptions_receive_exactly_the_events_appended_after_subscribing",
                   "\n".join(bad[:10]) or f"{K} x {M} events, each from the "
                   "log's end when it subscribed")


def cli_cases(tap, evgen):
    p = taputil.run([evgen, "--", "--help"], timeout=10)
    tap.result(p.returncode == 0 and "--subscribe" in p.stdout and
               "--sub-group" in p.stdout,
               "help_lists_the_subscriber_options", p.stdout[-300:])
    p = taputil.run([evgen, "--", "--dst-ip", GATE_IP, "--src-ip", GEN_IP,
                     "--subscribe", "2", "--sub-from", "middle"], timeout=10)
    tap.result(p.returncode == 2 and p.stdout.count("\n") == 1 and
               "--sub-from middle" in p.stdout,
               "a_bad_subscriber_option_is_refused_in_one_line_before_the_eal",
               f"exit {p.returncode}: {p.stdout}")


def run_all(tap, ctx):
    cli_cases(tap, ctx.evgen)
    start_gate(ctx)
    tap.result(True, "evgate_starts_on_a_memif_server_port")
    ok = taputil.run_case(
        tap, "one_process_produces_and_its_subscriptions_receive_every_event",
        case_produce_and_subscribe, ctx, last=1)
    if ok:
        taputil.run_case(tap, "a_consumer_only_run_joins_a_group_of_two",
                         case_group, ctx, last=1)
        taputil.run_case(tap, "live_tail_subscriptions_measure_latency",
                         case_live_tail, ctx, last=1)
        taputil.run_case(tap, "a_lossy_consumer_gets_its_gaps_repaired",
                         case_lossy, ctx, last=1)
    rc = ctx.gate.stop(signal.SIGINT, 20)
    tap.result(rc == 0, "evgate_exits_0_after_sigint", f"exit {rc}")
    if not ok:
        return
    recs = taputil.evtail_json(ctx.evtail, ctx.logdir)
    check_logs(tap, ctx, recs)


def main(argv):
    if len(argv) != 4:
        print("usage: test_evgen_sub.py EVGEN EVGATE EVTAIL", file=sys.stderr)
        return 2
    tools = [os.path.abspath(a) for a in argv[1:]]
    taputil.Tap.need_root("EAL, memif")
    tap = taputil.Tap()
    pid = os.getpid()
    tmp = tempfile.mkdtemp(prefix=f"evgs{pid}-")
    ctx = Ctx(tools, tmp, pid)
    with taputil.signals_raise():
        try:
            run_all(tap, ctx)
        except taputil.Abort as e:
            tap.result(False, "test_aborted", str(e))
        except taputil.Interrupted as e:
            tap.bail_out(f"interrupted: {e}")
        finally:
            ctx.procs.kill_all(grace=2)
            left = ctx.procs.left()
            if left:
                tap.diag(f"{len(left)} process(es) had to be killed")
            shutil.rmtree(tmp, ignore_errors=True)
            for suffix in PREFIXES:
                shutil.rmtree(taputil.eal_runtime_dir(f"evgs{pid}{suffix}"),
                              ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
