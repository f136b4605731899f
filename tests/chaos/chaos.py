#!/usr/bin/env python3
"""The chaos suite: the promises of the EVF/1 protocol under crashes,
power loss, a full disk, overload and malformed floods, with the real
binaries on the netns testbed. TAP on stdout; the figures as one JSON
line (`# figures {...}`) at the end and, with --figures PATH, in a file.

    chaos.py --evgate E --evtail T [--evpub P] [--evsub S]
             [--scenarios crash,disk,overload,malformed,consumer]
             [--iterations N] [--duration S] [--seed N] [--figures PATH]

scripts/chaos.sh is the front end (--short, --long). Needs root; SKIP
otherwise. Removes everything it made, by PID and by name.
"""

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import chaosutil  # noqa: E402,F401  (sets up the paths)
import taputil  # noqa: E402

SCENARIOS = ("crash", "disk", "overload", "malformed", "consumer")


class Ctx:
    pass


def parse(argv):
    ap = argparse.ArgumentParser(description="evgate chaos scenarios (TAP)")
    ap.add_argument("--evgate", required=True)
    ap.add_argument("--evtail", required=True)
    ap.add_argument("--evpub", default=None,
                    help="evpub, for the overload scenario")
    ap.add_argument("--evsub", default=None,
                    help="evsub, for the consumer scenario")
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--iterations", type=int, default=5,
                    help="crash iterations (kills)")
    ap.add_argument("--duration", type=float, default=5.0,
                    help="seconds per load phase; the crash scenario kills "
                    "within min(S, 2) s of each start")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--figures", default=None, help="write figures JSON here")
    a = ap.parse_args(argv)
    bad = [s for s in a.scenarios.split(",") if s not in SCENARIOS]
    if bad:
        ap.error(f"--scenarios: unknown {','.join(bad)}; "
                 f"expected some of {','.join(SCENARIOS)}")
    if a.iterations < 1 or a.duration <= 0:
        ap.error("--iterations must be >= 1 and --duration > 0")
    for p in (a.evgate, a.evtail):
        if not os.access(p, os.X_OK):
            ap.error(f"{p}: not an executable")
    return a


def scenario(name):
    if name == "crash":
        import crash
        return crash.run
    if name == "disk":
        import disk
        return disk.run
    if name == "overload":
        import overload
        return overload.run
    if name == "consumer":
        import consumer
        return consumer.run
    import malformed
    return malformed.run


def run_scenarios(tap, a, ctx):
    figures = {}
    for name in a.scenarios.split(","):
        t0 = time.monotonic()
        taputil.diag(f"== scenario {name}")
        try:
            figures[name] = scenario(name)(tap, ctx)
        except taputil.Abort as e:
            tap.result(False, f"{name}_aborted", str(e))
            figures[name] = {"error": str(e)[:300]}
        except taputil.Fail as e:
            tap.result(False, f"{name}_failed", str(e))
            figures[name] = {"error": str(e)[:300]}
        finally:
            ctx.procs.kill_all(grace=3)
            shutil.rmtree(taputil.eal_runtime_dir(ctx.prefix),
                          ignore_errors=True)
        figures[name] = dict(figures.get(name) or {},
                             seconds=round(time.monotonic() - t0, 1))
    return figures


def main(argv):
    a = parse(argv[1:])
    tap = taputil.Tap()
    if os.geteuid() != 0:
        tap.skip_all("needs root (network namespaces, veth, af_packet)")
    for tool in ("ip", "ethtool", "ping"):
        if shutil.which(tool) is None:
            tap.skip_all(f"'{tool}' not installed")
    seed = a.seed if a.seed is not None else random.randrange(1 << 31)
    pid = os.getpid()
    ctx = Ctx()
    ctx.evgate, ctx.evtail = os.path.abspath(a.evgate), os.path.abspath(a.evtail)
    ctx.evpub = os.path.abspath(a.evpub) if a.evpub else None
    ctx.evsub = os.path.abspath(a.evsub) if a.evsub else None
    ctx.iterations, ctx.duration = a.iterations, a.duration
    ctx.rng = chaosutil.rng_from_env(seed)
    ctx.prefix = f"evch{pid}"
    ctx.tb = taputil.Testbed(ctx.prefix)
    ctx.procs = taputil.ProcSet()
    ctx.tmp = tempfile.mkdtemp(prefix=f"{ctx.prefix}-")
    figures = {"seed": seed}
    problems = []
    try:
        with taputil.signals_raise():
            try:
                why = ctx.tb.up()
                if why is not None:
                    tap.skip("testbed", why)
                else:
                    figures.update(run_scenarios(tap, a, ctx))
            except taputil.Abort as e:
                tap.result(False, "chaos_aborted", str(e))
            except taputil.Interrupted as e:
                tap.result(False, "chaos_interrupted", str(e))
            except Exception:
                tap.result(False, "unexpected_error", traceback.format_exc())
    finally:
        ctx.procs.kill_all(grace=3)
        problems += ctx.tb.down()
        problems += [f"process {p.pid} left" for p in ctx.procs.left()]
        for d in getattr(ctx, "disks", []):
            problems += d.remove()
        shutil.rmtree(taputil.eal_runtime_dir(ctx.prefix), ignore_errors=True)
        shutil.rmtree(ctx.tmp, ignore_errors=True)
        tap.result(not problems, "cleanup_leaves_no_process_namespace_or_mount",
                   "\n".join(problems))
    line = json.dumps(figures, sort_keys=True)
    taputil.diag(f"figures {line}")
    if a.figures:
        with open(a.figures, "w") as f:
            f.write(line + "\n")
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
