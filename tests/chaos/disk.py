"""Disk scenario, two failures under load from several producers at ACK
level synced:

- ENOSPC: the log on a small loop-mounted ext4 (the Disk of
  tests/integration/test_enospc.py) fills up;
- EIO: the log behind the fault-injecting store ([log] fault_injection =
  on), armed with /evgate/fault,eio: every write, sync and segment
  creation fails with EIO until it is disarmed.

Both: NAK STORAGE, evgate keeps running, the storage counters move,
nothing acknowledged is lost, and writing resumes once space is freed or
the fault disarmed. (dm-flakey / dm-error would need device-mapper, which
this kernel lacks; the store wrapper fails the same operations with the
same completions.)
"""

import os
import shutil
import time

import chaosutil as cu
import evf
import taputil

CONF = ("[log]\npartitions = 1\nsegment_mb = 1\nbatch_kb = 64\n"
        "store = uring\n[ack]\nlevel = synced\n")
EIO_CONF = ("[log]\npartitions = 1\nsegment_mb = 1\nbatch_kb = 64\n"
            "store = uring\nfault_injection = on\n[ack]\nlevel = synced\n")
FLOWS = [(51, 1), (52, 2), (53, 3)]
EIO_FLOWS = [(54, 1), (55, 2), (56, 3)]
FREE_LEFT = 256 * 1024
FULL_TIMEOUT = 60.0
FINAL_TIMEOUT = 90.0


def storage_naks(flows):
    return flows.naks().get("storage", 0)


def run_enospc(tap, ctx):
    import test_enospc  # tests/integration: its Disk (loop-mounted ext4)
    for tool in ("mkfs.ext4", "losetup", "mount"):
        if shutil.which(tool) is None:
            tap.skip("enospc_under_load", f"'{tool}' not installed")
            return {"skipped": f"no {tool}"}
    disk = test_enospc.Disk(os.path.join(ctx.tmp, "disk"))
    os.makedirs(os.path.join(ctx.tmp, "disk"))
    ctx.disks = getattr(ctx, "disks", []) + [disk]
    why = disk.make()
    if why is not None:
        tap.skip("enospc_under_load", why)
        return {"skipped": why}
    conf = cu.write_conf(os.path.join(ctx.tmp, "disk.ini"), CONF)
    gate = cu.Gate(ctx.evgate, ctx.tb, ctx.prefix, disk.log, conf, ctx.procs)
    base = time.time_ns()
    flows = cu.Flows([cu.Flow(ctx.tb.ns, p, s, base + i)
                      for i, (p, s) in enumerate(FLOWS)])
    try:
        gate.start()
        refused = fault_cmd(gate, "eio")
        tap.result("fault_injection = off" in str(refused.get("error")),
                   "fault_command_is_refused_without_the_key",
                   f"/evgate/fault,eio answered {refused}")
        for fl in flows.flows:
            fl.target = 1 << 40
        # Load for half the phase, but stop while half the image is still
        # free: with long phases the log would fill the disk by itself,
        # leaving the filler nothing to take and nothing to give back.
        half = disk.free() // 2
        flows.run(time.monotonic() + ctx.duration / 2,
                  lambda: disk.free() < half)
        disk.fill(FREE_LEFT)
        flows.run(time.monotonic() + FULL_TIMEOUT,
                  lambda: storage_naks(flows) > 0)
        flows.run(time.monotonic() + ctx.duration / 2)
        full_naks = storage_naks(flows)
        p = taputil.run(["ip", "netns", "exec", ctx.tb.ns, "ping", "-c", "2",
                         "-i", "0.2", "-W", "1", cu.GATE_IP], timeout=15)
        st = gate.stats()
        tap.result(full_naks > 0 and gate.alive() and p.returncode == 0,
                   "full_disk_under_load_gets_nak_storage_and_evgate_answers_ping",
                   f"NAK STORAGE {full_naks}, alive {gate.alive()}, ping exit "
                   f"{p.returncode}; seq_storage {st.get('seq_storage')}, "
                   f"log_roll_errors {st.get('log_roll_errors')}, "
                   f"log_write_errors {st.get('log_write_errors')}")
        acked_full = flows.acked_events()
        disk.unfill()
        for fl in flows.flows:
            fl.target = fl.high
        flows.run(time.monotonic() + FINAL_TIMEOUT, flows.all_done)
        undone = [(fl.producer, fl.ack(), fl.target) for fl in flows.flows
                  if not fl.done()]
        tap.result(not undone, "writing_resumes_once_space_is_freed",
                   f"not done: {undone}" if undone else
                   f"acked {acked_full} events before freeing, "
                   f"{flows.acked_events()} after")
        rc = gate.stop()
        tap.result(rc == 0, "evgate_exits_0_after_the_disk_was_full",
                   f"exit status {rc}")
        chk = cu.LogCheck(cu.read_log(ctx.evtail, disk.log), flows.truth())
        tap.result(chk.ok(), "no_acked_event_is_lost_on_a_full_disk",
                   chk.why())
        return {"nak_storage": full_naks, "acked_events": chk.acked,
                "lost": chk.lost, "duplicated": chk.dup,
                "producer_naks": flows.naks(), "fault_refused": refused}
    finally:
        flows.close()
        gate.proc and gate.proc.kill(grace=5)
        problems = disk.remove()
        if problems:
            taputil.diag("disk: " + "; ".join(problems))


def fault_cmd(gate, param):
    """/evgate/fault with param: the answer, or {"error": why}."""
    try:
        return taputil.telemetry(gate.prefix, f"/evgate/fault,{param}")
    except (OSError, ValueError, KeyError) as e:
        return {"error": str(e)}


def run_eio(tap, ctx):
    logdir = os.path.join(ctx.tmp, "eio-log")
    os.makedirs(logdir)
    conf = cu.write_conf(os.path.join(ctx.tmp, "eio.ini"), EIO_CONF)
    gate = cu.Gate(ctx.evgate, ctx.tb, ctx.prefix, logdir, conf, ctx.procs)
    base = time.time_ns()
    flows = cu.Flows([cu.Flow(ctx.tb.ns, p, s, base + i)
                      for i, (p, s) in enumerate(EIO_FLOWS)])
    try:
        gate.start()
        for fl in flows.flows:
            fl.target = 1 << 40
        flows.run(time.monotonic() + ctx.duration / 2)
        before = gate.stats()
        armed = fault_cmd(gate, "eio")
        flows.run(time.monotonic() + FULL_TIMEOUT,
                  lambda: storage_naks(flows) > 0)
        flows.run(time.monotonic() + ctx.duration / 2)
        naks = storage_naks(flows)
        st = cu.delta(before, gate.stats())
        acked_armed = flows.acked_events()
        state = fault_cmd(gate, "off")
        tap.result(armed.get("fault") == "eio" and naks > 0 and
                   gate.alive() and st.get("log_write_errors", 0) > 0 and
                   state.get("fault") == "off" and
                   state.get("injected", 0) > 0,
                   "eio_under_load_gets_nak_storage_and_counts_write_errors",
                   f"armed {armed}; NAK STORAGE {naks}, alive "
                   f"{gate.alive()}; while armed: log_write_errors "
                   f"{st.get('log_write_errors')}, log_roll_errors "
                   f"{st.get('log_roll_errors')}, seq_storage "
                   f"{st.get('seq_storage')}; disarmed {state}")
        for fl in flows.flows:
            fl.target = fl.high
        flows.run(time.monotonic() + FINAL_TIMEOUT, flows.all_done)
        undone = [(fl.producer, fl.ack(), fl.target) for fl in flows.flows
                  if not fl.done()]
        tap.result(not undone, "writing_resumes_once_eio_is_disarmed",
                   f"not done: {undone}" if undone else
                   f"acked {acked_armed} events by the disarm, "
                   f"{flows.acked_events()} after")
        rc = gate.stop()
        tap.result(rc == 0, "evgate_exits_0_after_eio", f"exit status {rc}")
        chk = cu.LogCheck(cu.read_log(ctx.evtail, logdir), flows.truth())
        vrc, vout = cu.verify_log(ctx.evtail, logdir)
        tap.result(chk.ok() and vrc == 0, "no_acked_event_is_lost_under_eio",
                   chk.why() + f"\nevtail --verify -> {vrc}: {vout}")
        return {"nak_storage": naks, "acked_events": chk.acked,
                "lost": chk.lost, "duplicated": chk.dup,
                "injected": state.get("injected"),
                "log_write_errors": st.get("log_write_errors"),
                "log_roll_errors": st.get("log_roll_errors"),
                "producer_naks": flows.naks()}
    finally:
        flows.close()
        gate.proc and gate.proc.kill(grace=5)


def run(tap, ctx):
    figures = {"enospc": run_enospc(tap, ctx)}
    figures["eio"] = run_eio(tap, ctx)
    return figures
