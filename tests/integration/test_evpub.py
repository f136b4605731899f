#!/usr/bin/env python3
"""evpub -> evgate end to end over the network-namespace testbed. TAP.

    test_evpub.py EVGATE EVPUB EVTAIL [synced|received]

evgate runs in the root namespace on the host end of a veth pair
(net_af_packet) as 10.74.0.2, at ACK level synced unless told otherwise;
evpub runs inside the namespace (`ip netns exec`). Checks: stdin lines
(key<TAB>value and bare values) and generated events are all ACKed (exit 0),
a second run of the same producer gets a higher session and is accepted,
evpub against a port where nothing listens exits 1 after --timeout, and
`evtail --json` of the log holds every event exactly once, in order, with
its key and value. evpub's summary lines are printed as diagnostics (rate
and ACK latency). Needs root; SKIP otherwise. Removes what it made.
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import taputil  # noqa: E402
from taputil import GATE_IP, NS_IP, check  # noqa: E402

PORT = 7470
EVPUB_TIMEOUT = 20  # evpub --timeout (s): generous on a loaded machine


class Ctx:
    def __init__(self, evpub, evtail, ns, logdir):
        self.evpub = evpub
        self.evtail = evtail
        self.ns = ns
        self.logdir = logdir
        self.runs = []      # taputil.run_case kills these (none here)
        self.sent = {}      # (producer, stream) -> [(session, [(key, value)])]


def evpub_in_ns(ctx, args, stdin_text=None, timeout=120):
    """Runs evpub inside the namespace; (exit status, stdout, stderr,
    the --json summary or None, seconds)."""
    cmd = ["ip", "netns", "exec", ctx.ns, ctx.evpub, "--json"] + args
    t0 = time.monotonic()
    p = subprocess.run(cmd, input=stdin_text if stdin_text is not None else "",
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout)
    secs = time.monotonic() - t0
    summary = None
    for line in p.stdout.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    return p.returncode, p.stdout, p.stderr, summary, secs


def published(ctx, producer, stream, events, rc, out, err, summary):
    """Checks one successful evpub run and records what it sent."""
    check(rc == 0, f"evpub exited {rc}\nstdout:\n{out}\nstderr:\n{err}")
    check(summary is not None, f"no --json line in:\n{out}")
    check(summary["sent"] == len(events) and summary["acked"] == len(events)
          and summary["all_acked"],
          f"summary {summary}, expected {len(events)} sent and acked")
    ctx.sent.setdefault((producer, stream), []).append(
        (summary["session"], events))
    return "\n".join(ln for ln in out.splitlines() if ln.startswith("evpub:"))


def case_stdin_lines(ctx):
    lines, events = [], []
    for i in range(300):
        if i % 3 == 0:
            lines.append(f"plain value {i}")
            events.append((b"", f"plain value {i}".encode()))
        else:
            lines.append(f"key-{i}\tvalue {i}\twith a tab")
            events.append((f"key-{i}".encode(), f"value {i}\twith a tab".encode()))
    rc, out, err, s, _ = evpub_in_ns(
        ctx, ["--server", f"{GATE_IP}:{PORT}", "--producer", "11", "--stream",
              "3", "--timeout", str(EVPUB_TIMEOUT)], "\n".join(lines) + "\n")
    return published(ctx, 11, 3, events, rc, out, err, s)


def case_generated(ctx):
    n, size = 5000, 100
    rc, out, err, s, _ = evpub_in_ns(
        ctx, ["--server", f"{GATE_IP}:{PORT}", "--producer", "12", "--count",
              str(n), "--size", str(size), "--timeout", str(EVPUB_TIMEOUT)])
    events = []
    for i in range(n):
        v = str(i).encode()
        events.append((b"", v + b"x" * (size - len(v))))
    return published(ctx, 12, 0, events, rc, out, err, s)


def case_second_session(ctx):
    first = ctx.sent[(11, 3)][0][0]
    events = [(b"again", f"second run {i}".encode()) for i in range(20)]
    text = "".join(f"again\tsecond run {i}\n" for i in range(20))
    rc, out, err, s, _ = evpub_in_ns(
        ctx, ["--server", GATE_IP, "--producer", "11", "--stream", "3",
              "--timeout", str(EVPUB_TIMEOUT)], text)
    note = published(ctx, 11, 3, events, rc, out, err, s)
    check(s["session"] > first, f"session {s['session']} <= first {first}")
    return note


def io_workers(pid):
    """{tid: CPUs} of pid's kernel io workers (threads "iou-wrk-<tid>")."""
    found = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                if f.read().startswith("iou-wrk-"):
                    found[int(t)] = os.sched_getaffinity(int(t))
        except OSError:
            pass  # it exited
    return found


def case_io_workers_off_the_worker_cpu(ctx):
    """evgate runs with -l 0-1: lcore 1 (CPU 1) busy-polls every stage,
    so [log] io_cpus (automatic) puts the kernel's io workers, which run
    every fdatasync, on CPU 0. Checked right after a synced burst, while
    they exist (they exit after seconds of idleness)."""
    line = "evgate: log io workers on CPU(s) 0 (automatic)"
    check(line in ctx.gate.output(), f"no line '{line}' at start")
    n = 2000
    events = [(b"", f"io {i}".encode()) for i in range(n)]
    rc, out, err, s, _ = evpub_in_ns(
        ctx, ["--server", GATE_IP, "--producer", "13",
              "--timeout", str(EVPUB_TIMEOUT)],
        "".join(f"io {i}\n" for i in range(n)))
    note = published(ctx, 13, 0, events, rc, out, err, s)
    workers = io_workers(ctx.gate.pid)
    check(workers, "no kernel io worker in evgate after a synced burst")
    wrong = {t: sorted(c) for t, c in workers.items() if c != {0}}
    check(not wrong, f"io workers not on CPU 0 only: {wrong}")
    return f"{len(workers)} io worker(s), all on CPU 0; {note}"


def case_nothing_listens(ctx):
    timeout = 1.0
    rc, out, err, s, secs = evpub_in_ns(
        ctx, ["--server", f"{NS_IP}:7999", "--producer", "13", "--count", "10",
              "--timeout", str(timeout)], timeout=60)
    check(rc == 1, f"exit status {rc}, expected 1\n{out}\n{err}")
    check(s is not None and s["acked"] == 0 and not s["all_acked"],
          f"summary {s}")
    check(timeout <= secs < timeout + 15, f"took {secs:.1f}s for --timeout {timeout}")
    check("not acknowledged" in err, f"stderr says: {err}")
    return f"exit 1 after {secs:.2f}s: {err.strip()}"


def case_log_holds_every_event_once_in_order(ctx):
    recs = taputil.evtail_json(ctx.evtail, ctx.logdir)
    got = {}
    for r in recs:
        k = (r["producer"], r["stream"], r["session"])
        got.setdefault(k, []).append(
            (r["seq"], base64.b64decode(r["key_b64"]),
             base64.b64decode(r["value_b64"])))
    total = 0
    for (prod, stream), runs in ctx.sent.items():
        for session, events in runs:
            total += len(events)
            have = got.get((prod, stream, session), [])
            seqs = [x[0] for x in have]
            check(seqs == list(range(len(events))),
                  f"producer {prod} session {session}: seqs "
                  f"{seqs[:10]}... ({len(seqs)}), expected 0..{len(events) - 1}")
            kv = [(x[1], x[2]) for x in have]
            bad = [i for i, (a, b) in enumerate(zip(kv, events)) if a != b]
            check(not bad, f"producer {prod} seq {bad[:5]}: got {kv[bad[0]]}"
                  f" expected {events[bad[0]]}" if bad else "")
    check(len(recs) == total, f"{len(recs)} records in the log, {total} sent")
    return f"{len(recs)} records, each once, in order, keys and values intact"


def start_gate(evgate, tb, prefix, logdir, level, procs):
    conf = os.path.join(logdir, "evpub-test.ini")
    with open(conf, "w") as f:
        f.write(f"[ack]\nlevel = {level}\n")
    cmd, why = taputil.evgate_cmd(evgate, tb, prefix,
                                  os.path.join(logdir, "log"),
                                  ["--config", conf])
    taputil.diag(f"{why}; ACK level {level}; starting: {' '.join(cmd)}")
    return taputil.start_evgate(procs, cmd)


def run_all(tap, args, tb, prefix, tmp, procs):
    evgate, evpub, evtail, level = args
    os.makedirs(os.path.join(tmp, "log"))
    gate = start_gate(evgate, tb, prefix, tmp, level, procs)
    ctx = Ctx(evpub, evtail, tb.ns, os.path.join(tmp, "log"))
    ctx.gate = gate
    cases = [
        ("evpub_stdin_lines_are_all_acked", case_stdin_lines),
        ("evpub_generated_events_are_all_acked", case_generated),
        ("second_run_of_a_producer_gets_a_higher_session_and_is_accepted",
         case_second_session),
        ("evpub_exits_1_after_timeout_when_nothing_listens", case_nothing_listens),
    ]
    if level == "synced":
        cases.append(("kernel_io_workers_run_off_the_busy_polling_cpu",
                      case_io_workers_off_the_worker_cpu))
    for name, fn in cases:
        taputil.run_case(tap, name, fn, ctx)
    rc = gate.stop(signal.SIGINT, 20)
    tap.result(rc == 0, "evgate_exits_0_on_sigint", f"exit status {rc}")
    taputil.run_case(tap, "evtail_shows_every_event_once_in_order_with_keys_and_values",
                     case_log_holds_every_event_once_in_order, ctx)


def main(argv):
    if len(argv) < 4 or (len(argv) > 4 and argv[4] not in ("synced", "received")):
        print("usage: test_evpub.py EVGATE EVPUB EVTAIL [synced|received]",
              file=sys.stderr)
        return 2
    args = [os.path.abspath(a) for a in argv[1:4]] + [argv[4] if len(argv) > 4 else "synced"]
    tap = taputil.Tap()
    tap.need_root("network namespaces, veth, af_packet", ("ip", "ethtool"))
    tag = f"evp{os.getpid()}"
    tb = taputil.Testbed(tag)
    procs = taputil.ProcSet()
    tmp = None
    try:
        why = tb.up()
    except taputil.Abort as e:
        why = None
        tap.bail_out(str(e).replace("\n", " "))
        tb.down()
        return 1
    if why is not None:
        tb.down()
        tap.skip_all(why)
    with taputil.signals_raise():
        try:
            tmp = tempfile.mkdtemp(prefix=f"{tag}-")
            run_all(tap, args, tb, tag, tmp, procs)
        except taputil.Abort as e:
            tap.result(False, "test_aborted", str(e))
        except taputil.Interrupted as e:
            tap.result(False, "test_interrupted", str(e))
        except Exception:  # report it as a failure, then clean up as always
            tap.result(False, "unexpected_error", traceback.format_exc())
        finally:
            procs.kill_all(grace=5)
            problems = tb.down()
            problems += [f"process {p.pid} left" for p in procs.left()]
            shutil.rmtree(taputil.eal_runtime_dir(tag), ignore_errors=True)
            if tmp:
                shutil.rmtree(tmp, ignore_errors=True)
            tap.result(not problems, "cleanup_leaves_no_process_namespace_or_link",
                       "\n".join(problems))
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
