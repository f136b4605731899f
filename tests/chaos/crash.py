"""Crash scenario: evgate (ACK level synced) is killed with SIGKILL at a
random moment while several producers send, N times; between some
iterations the tail of the last segment is damaged as a power loss would
(powerloss.py). Producers resume with the same session (retransmitting
from their ACK) or, one time in four, with a new one. At the end every
event ever acknowledged must be in the log exactly once, in seq order per
(producer, stream, session), with its content, and `evtail --verify` must
pass.
"""

import os
import time

import chaosutil as cu
import powerloss
import taputil

CONF = ("[log]\npartitions = 2\nsegment_mb = 1\nbatch_kb = 64\n"
        "store = uring\n[ack]\nlevel = synced\n")
FLOWS = [(31, 0), (31, 1), (32, 2), (33, 3), (34, 0), (35, 5)]
NEW_SESSION_P = 0.25
POWER_LOSS_P = 0.3
FINAL_TIMEOUT = 60.0


class Figures:
    def __init__(self):
        self.iterations = 0
        self.kills = 0
        self.power = {}
        self.new_sessions = 0
        self.ready_s = []


def one_iteration(gate, flows, rng, dur, fig, tap):
    for fl in flows.flows:
        if fl.high > 0 and rng.random() < NEW_SESSION_P:
            fl.new_session(cu.new_session(fl.session))
            fig.new_sessions += 1
        else:
            fl.resume()
        fl.target = 1 << 40      # send until the kill
    t0 = time.monotonic()
    gate.start()
    fig.ready_s.append(time.monotonic() - t0)
    flows.run(time.monotonic() + rng.uniform(0.05, min(dur, 2.0)))
    alive = gate.alive()
    rc = gate.kill9()
    flows.drain(0.3)
    fig.iterations += 1
    fig.kills += 1
    if not alive:
        raise taputil.Fail(f"evgate died before the kill (status {rc}):\n"
                           + gate.proc.report(40, tail=True))


def finish(gate, flows):
    """Last start: every flow completes what it sent in its session."""
    for fl in flows.flows:
        fl.resume()
        fl.target = fl.high
    gate.start()
    flows.run(time.monotonic() + FINAL_TIMEOUT, flows.all_done)
    flows.drain(0.3)
    stats = gate.stats()
    rc = gate.stop()
    return rc, stats


def run(tap, ctx):
    """ctx: evgate, evtail, tb, tmp, procs, prefix, rng, iterations,
    duration. Emits its own test points; returns the figures."""
    logdir = os.path.join(ctx.tmp, "crash-log")
    os.makedirs(logdir)
    conf = cu.write_conf(os.path.join(ctx.tmp, "crash.ini"), CONF)
    gate = cu.Gate(ctx.evgate, ctx.tb, ctx.prefix, logdir, conf, ctx.procs)
    base = time.time_ns()
    flows = cu.Flows([cu.Flow(ctx.tb.ns, p, s, base + i)
                      for i, (p, s) in enumerate(FLOWS)])
    fig = Figures()
    rng = ctx.rng
    try:
        failure = None
        try:
            for it in range(ctx.iterations):
                if it > 0 and rng.random() < POWER_LOSS_P:
                    mode, what = powerloss.simulate(logdir, flows.truth(), rng)
                    fig.power[mode] = fig.power.get(mode, 0) + 1
                    taputil.diag(f"crash {it}: power loss: {what}")
                one_iteration(gate, flows, rng, ctx.duration, fig, tap)
            rc, stats = finish(gate, flows)
        except taputil.Fail as e:
            failure = str(e)
            rc, stats = None, {}
        tap.result(failure is None,
                   "evgate_restarts_after_every_sigkill_and_power_loss",
                   failure or f"{fig.iterations} kills, power losses "
                   f"{fig.power}, {fig.new_sessions} new sessions, ready "
                   f"in {min(fig.ready_s):.1f}-{max(fig.ready_s):.1f} s")
        if failure is not None:
            return {"iterations": fig.iterations, "error": failure}
        undone = [(fl.producer, fl.stream, fl.ack(), fl.target)
                  for fl in flows.flows if not fl.done()]
        tap.result(not undone, "every_sent_event_is_acked_after_the_last_restart",
                   f"not done (producer, stream, ack, target): {undone}"
                   if undone else
                   f"NAKs {flows.naks()}, frames {flows.stat('frames')}, "
                   f"resent {flows.stat('resent')}, timeouts "
                   f"{flows.stat('timeouts')}")
        tap.result(rc == 0, "evgate_exits_0_on_sigint_after_the_crashes",
                   f"exit status {rc}")
        chk = cu.LogCheck(cu.read_log(ctx.evtail, logdir), flows.truth())
        tap.result(chk.ok(),
                   "every_acked_event_is_in_the_log_once_in_seq_order",
                   chk.why())
        vrc, vout = cu.verify_log(ctx.evtail, logdir)
        tap.result(vrc == 0, "evtail_verify_passes_after_the_crashes",
                   vout.splitlines()[-1] if vout else f"exit {vrc}")
        return {"iterations": fig.iterations, "kills": fig.kills,
                "power_loss": fig.power, "new_sessions": fig.new_sessions,
                "acked_events": chk.acked, "records": chk.records,
                "lost": chk.lost, "duplicated": chk.dup,
                "out_of_order": chk.disorder, "holes": chk.holes,
                "bad_payloads": len(chk.bad_payload),
                "producer_naks": flows.naks(),
                "frames": flows.stat("frames"),
                "resent": flows.stat("resent"),
                "seq_events_duplicate": stats.get("seq_events_duplicate")}
    finally:
        flows.close()
