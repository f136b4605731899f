"""Consumer scenario: a consumer group of three evsub members reads two
streams from the oldest event while producers send, and N times either a
member is killed with SIGKILL and a new one joins, or evgate itself is
killed with SIGKILL and restarted (the members subscribe again by
themselves, and the group starts again at its commit). At the end every
event in the log of those streams must have reached a member (delivery
is at-least-once: duplicates are counted, not failed), the members must
stop cleanly on SIGINT and evgate must exit 0.
"""

import json
import os
import signal
import time

import chaosutil as cu
import taputil

CONF = ("[log]\npartitions = 2\nsegment_mb = 1\nbatch_kb = 64\n"
        "[ack]\nlevel = synced\n"
        "[sub]\ntimeout_ms = 1000\nrto_ms = 50\n")
FLOWS = [(61, 1), (62, 2), (63, 1)]
STREAMS = (1, 2)
MEMBERS = 3
GATE_KILL_P = 0.3
FINAL_TIMEOUT = 90.0


class Members:
    """The evsub members, alive and dead; every line any of them printed
    counts (a pipe keeps what a killed process wrote)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.all = []
        self.live = []
        self.next_id = 6100

    def start(self):
        self.next_id += 1
        cmd = ["ip", "netns", "exec", self.ctx.tb.ns, self.ctx.evsub,
               "--server", f"{cu.GATE_IP}:7470", "--json", "--consumer",
               str(self.next_id), "--group", "chaos", "--policy",
               "round-robin", "--from", "oldest", "--credit", "512"]
        for s in STREAMS:
            cmd += ["--stream", str(s)]
        p = self.ctx.procs.start(cmd)
        self.all.append(p)
        self.live.append(p)
        return p

    def kill_one(self, rng):
        p = self.live.pop(rng.randrange(len(self.live)))
        p.signal(signal.SIGKILL)
        p.wait(10)

    def seen(self):
        """offset key (partition, offset) -> times delivered, redelivered."""
        times, redelivered = {}, 0
        for p in self.all:
            for ln in p.output():
                if not ln.startswith("{") or '"summary"' in ln:
                    continue
                e = json.loads(ln)
                k = (e["partition"], e["offset"])
                times[k] = times.get(k, 0) + 1
                redelivered += bool(e["redelivered"])
        return times, redelivered

    def stop(self):
        rcs = [p.stop(signal.SIGINT, 20) for p in self.live]
        self.live = []
        return rcs


def log_keys(ctx, logdir):
    return {(r["partition"], r["offset"])
            for r in cu.read_log(ctx.evtail, logdir)
            if r["stream"] in STREAMS}


def run(tap, ctx):
    if ctx.evsub is None:
        raise taputil.Abort("the consumer scenario needs --evsub")
    logdir = os.path.join(ctx.tmp, "consumer-log")
    os.makedirs(logdir)
    conf = cu.write_conf(os.path.join(ctx.tmp, "consumer.ini"), CONF)
    gate = cu.Gate(ctx.evgate, ctx.tb, ctx.prefix, logdir, conf, ctx.procs)
    base = time.time_ns()
    flows = cu.Flows([cu.Flow(ctx.tb.ns, p, s, base + i)
                      for i, (p, s) in enumerate(FLOWS)])
    members = Members(ctx)
    rng = ctx.rng
    kills = {"member": 0, "evgate": 0}
    try:
        gate.start()
        for _ in range(MEMBERS):
            members.start()
        for fl in flows.flows:
            fl.target = 1 << 40
        for it in range(ctx.iterations):
            flows.run(time.monotonic() + rng.uniform(0.3, min(ctx.duration,
                                                              2.0)))
            if rng.random() < GATE_KILL_P:
                gate.kill9()
                flows.drain(0.2)
                kills["evgate"] += 1
                for fl in flows.flows:
                    fl.resume()
                gate.start()
            else:
                members.kill_one(rng)
                kills["member"] += 1
                members.start()
        for fl in flows.flows:
            fl.resume()
            fl.target = fl.high
        flows.run(time.monotonic() + FINAL_TIMEOUT, flows.all_done)
        want = log_keys(ctx, logdir)
        deadline = time.monotonic() + FINAL_TIMEOUT
        while time.monotonic() < deadline:
            times, redelivered = members.seen()
            if want <= set(times):
                break
            time.sleep(0.5)
        times, redelivered = members.seen()
        missing = sorted(want - set(times))
        tap.result(
            not missing and len(want) > 0,
            "every_event_reaches_the_group_through_member_and_evgate_kills",
            f"{len(missing)} of {len(want)} events reached no member: "
            f"{missing[:10]}" if missing else
            f"{len(want)} events; kills {kills}; delivered "
            f"{sum(times.values())} times ({sum(1 for v in times.values() if v > 1)}"
            f" more than once, {redelivered} flagged redelivered)")
        rcs = members.stop()
        tap.result(all(rc == 0 for rc in rcs),
                   "members_stop_cleanly_committing_on_sigint",
                   f"exit statuses {rcs}")
        stats = gate.stats()
        rc = gate.stop()
        tap.result(rc == 0, "evgate_exits_0_on_sigint_after_the_consumer_chaos",
                   f"exit status {rc}")
        return {"events": len(want), "kills": kills,
                "deliveries": sum(times.values()),
                "more_than_once": sum(1 for v in times.values() if v > 1),
                "redelivered": redelivered,
                "sub_timeouts": stats.get("sub_timeouts"),
                "sub_redelivered": stats.get("sub_redelivered"),
                "sub_frames_resent": stats.get("sub_frames_resent")}
    finally:
        flows.close()
