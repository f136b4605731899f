#!/usr/bin/env python3
"""The evgate command line: --help, --version, the one-line configuration
errors before the EAL starts, the start-up errors after it, and a clean
start and stop on a net_null port. Speaks TAP to meson.

    test_cli.py EVGATE_BINARY

Every error must be exactly one line on stderr, "<program>: ...", naming
the option or key and the value, with exit status 2 (app/evgate/main.c).
The cases that start the EAL (--no-huge, net_null) need root and are
skipped without it. Every evgate run is bounded by a timeout and killed by
PID past it; the temporary directory and the EAL runtime directory
(/var/run/dpdk/evgcli<pid>) are removed at the end.
"""

import os
import shutil
import signal
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from taputil import (Fail, Interrupted, ProcSet, Tap, check, diag,  # noqa: E402
                     run_case, signals_raise)

READY_LINE = "evgate: ready"
DRAIN_LINE = "evgate: signal "  # "evgate: signal N: draining"
FINAL_LINE = "evgate: final counters"
RUNTIME_DIR = "/var/run/dpdk"

CONFIG_TIMEOUT = 10.0  # a run that stops before the EAL starts
EAL_TIMEOUT = 30.0     # a run that stops at a start-up error
READY_TIMEOUT = 30.0
EXIT_TIMEOUT = 10.0    # SIGTERM after ready -> exit 0
PROMPT_TIMEOUT = 5.0   # a second signal, or one during start-up -> gone

HELP_OPTIONS = ("--ip", "--udp-port", "--ack", "--log-dir", "--stats",
                "--allow", "--config")
IP = "10.0.0.1/24"


class Case:
    """One TAP test point; the context for what it runs."""

    def __init__(self, prog, tmp, prefix, procs):
        self.prog = prog
        self.tmp = tmp
        self.prefix = prefix
        self.procs = procs
        self.runs = []

    def start(self, args):
        g = self.procs.start([self.prog] + args)
        self.runs.append(g)
        return g

    def run(self, args, timeout):
        """Runs evgate to its end; kills it past timeout."""
        g = self.start(args)
        if g.wait(timeout) is None:
            g.kill()
            raise Fail(f"still running after {timeout:g}s; killed")
        return g

    def config_file(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def eal(self, lcores, *extra):
        return ["-l", lcores, "--no-huge", "-m", "256", "--no-pci",
                "--no-shconf", "--no-telemetry", "--file-prefix",
                self.prefix] + list(extra)

    def app(self, *extra):
        """evgate's own options for a run: our address and a log directory
        of the test's own (the journal needs an existing one)."""
        log = os.path.join(self.tmp, "log")
        os.makedirs(log, exist_ok=True)
        return ["--", "--ip", IP, "--log-dir", log] + list(extra)

    def error_lines(self, g):
        """stderr lines from evgate itself ("<prog>: "), warnings aside."""
        own = self.prog + ": "
        return [line for line in g.err if line.startswith(own) and
                not line.startswith(own + "warning: ")]


# ---- the cases -------------------------------------------------------------

def expect_config_error(c, args, *words):
    """Exit 2 before the EAL: exactly one stderr line, "<prog>: ...",
    containing every one of words; nothing on stdout."""
    g = c.run(args, CONFIG_TIMEOUT)
    check(g.rc == 2, f"exit status {g.rc}, expected 2")
    check(len(g.err) == 1, f"{len(g.err)} lines on stderr, expected 1")
    line = g.err[0]
    check(line.startswith(c.prog + ": "),
          f"stderr does not start with '{c.prog}: ': {line!r}")
    for w in words:
        check(w in line, f"{w!r} not in {line!r}")
    check(not g.out, "something on stdout")


def expect_startup_error(c, args, *words):
    """Exit 2 after the EAL started: one line of evgate's own among the
    EAL's, containing every one of words."""
    g = c.run(args, EAL_TIMEOUT)
    check(g.rc == 2, f"exit status {g.rc}, expected 2")
    lines = c.error_lines(g)
    check(len(lines) == 1,
          f"{len(lines)} error lines starting '{c.prog}: ', expected 1")
    for w in words:
        check(w in lines[0], f"{w!r} not in {lines[0]!r}")
    check(READY_LINE not in "\n".join(g.out), "evgate said it was ready")


def t_help(c):
    g = c.run(["--help"], CONFIG_TIMEOUT)
    check(g.rc == 0, f"exit status {g.rc}, expected 0")
    text = "\n".join(g.out)
    missing = [o for o in HELP_OPTIONS if o not in text]
    check(not missing, f"--help does not list {', '.join(missing)}")
    check(not g.err, "something on stderr")


def t_version(c):
    g = c.run(["--version"], CONFIG_TIMEOUT)
    check(g.rc == 0, f"exit status {g.rc}, expected 0")
    check(len(g.out) == 1 and g.out[0].startswith("evgate "),
          "stdout is not one line starting 'evgate '")
    check(not g.err, "something on stderr")


def t_missing_ip(c):
    expect_config_error(c, [], "[net] ip")


def t_bad_prefix(c):
    expect_config_error(c, ["--ip", "10.0.0.1/33"], "--ip", "10.0.0.1/33")


def t_udp_port_0(c):
    expect_config_error(c, ["--ip", IP, "--udp-port", "0"], "--udp-port 0")


def t_ack_bogus(c):
    expect_config_error(c, ["--ip", IP, "--ack", "bogus"], "--ack bogus")


def t_missing_log_dir(c):
    expect_startup_error(c, c.eal("0-1", "--vdev=net_null0") +
                         ["--", "--ip", IP, "--ack", "synced", "--log-dir",
                          "/nonexistent/evgate-log"],
                         "/nonexistent/evgate-log")


def t_allow_host_bits(c):
    expect_config_error(c, ["--ip", IP, "--allow", "10.0.0.1/24"],
                        "--allow", "10.0.0.1/24")


def t_missing_config(c):
    expect_config_error(c, ["--ip", IP, "--config", "/nonexistent.ini"],
                        "/nonexistent.ini")


def t_config_bad_value(c):
    path = c.config_file("ring.ini", "[pipeline]\nring_size = 1000\n")
    expect_config_error(c, ["--ip", IP, "--config", path], path,
                        "ring_size", "1000")


def t_unknown_option(c):
    expect_config_error(c, ["--ip", IP, "--no-such-option"],
                        "--no-such-option")


def t_stray_argument(c):
    expect_config_error(c, ["--ip", IP, "stray"], "stray")


def t_error_after_eal_options(c):
    # The EAL options are not even looked at: no "EAL:" line, no root.
    expect_config_error(c, c.eal("0") + ["--", "--ip", IP, "--udp-port",
                                         "0"], "--udp-port 0")


def t_no_worker(c):
    expect_startup_error(c, c.eal("0", "--vdev=net_null0") + c.app(),
                         "worker")


def t_no_ports(c):
    expect_startup_error(c, c.eal("0-1") + c.app(), "no ports")


def t_rx_lcore_not_given(c):
    path = c.config_file("lcores.ini", "[pipeline]\nrx_lcores = 5\n")
    expect_startup_error(c, c.eal("0-1", "--vdev=net_null0") +
                         c.app("--config", path), "rx_lcores", "lcore 5")


def start_ready(c):
    g = c.start(c.eal("0-1", "--vdev=net_null0") + c.app())
    if g.wait_line(READY_LINE, READY_TIMEOUT, prefix=True) < 0:
        g.kill()
        raise Fail(f"no '{READY_LINE}' within {READY_TIMEOUT:g}s")
    return g


def t_clean_run(c):
    g = start_ready(c)
    t0 = time.monotonic()
    g.signal(signal.SIGTERM)
    if g.wait(EXIT_TIMEOUT) is None:
        g.kill()
        raise Fail(f"still running {EXIT_TIMEOUT:g}s after SIGTERM")
    took = time.monotonic() - t0
    check(g.rc == 0, f"exit status {g.rc} after SIGTERM, expected 0")
    check(any(line.startswith(FINAL_LINE) for line in g.out),
          f"no '{FINAL_LINE}' on stdout")
    check(not c.error_lines(g), "an error on stderr")
    return f"exited {took:.2f}s after SIGTERM"


def t_sigint_twice(c):
    g = start_ready(c)
    t0 = time.monotonic()
    g.signal(signal.SIGINT)
    # Two signals sent back to back may arrive as one; the second goes
    # once the first is taken, while evgate drains (if it still does).
    drained = g.wait_line(DRAIN_LINE, PROMPT_TIMEOUT, prefix=True) >= 0
    g.signal(signal.SIGINT)
    if g.wait(PROMPT_TIMEOUT) is None:
        g.kill()
        raise Fail(f"still running {PROMPT_TIMEOUT:g}s after two SIGINTs")
    note = (f"exit status {g.rc}, "
            f"{time.monotonic() - t0:.2f}s after the first signal")
    if not drained:
        note += f" (no '{DRAIN_LINE}' line seen)"
    return note


def t_sigterm_during_startup(c):
    g = c.start(c.eal("0-1", "--vdev=net_null0") + c.app())
    # The EAL's first line: the EAL is starting, the port is not set up.
    started = g.wait_stderr_any(READY_TIMEOUT)
    ready_before = any(line.startswith(READY_LINE) for line in g.out)
    t0 = time.monotonic()
    g.signal(signal.SIGTERM)
    if g.wait(PROMPT_TIMEOUT) is None:
        g.kill()
        raise Fail(f"still running {PROMPT_TIMEOUT:g}s after SIGTERM")
    note = (f"exit status {g.rc}, {time.monotonic() - t0:.2f}s after "
            f"SIGTERM")
    if ready_before:
        note += " (it was already ready: not a start-up signal this time)"
    elif not started:
        note += " (it had printed nothing before the signal)"
    return note


CASES = [
    # name, function, needs root
    ("help_lists_every_option_and_exits_0", t_help, False),
    ("version_prints_evgate_and_exits_0", t_version, False),
    ("missing_ip_names_net_ip_and_exits_2", t_missing_ip, False),
    ("ip_prefix_33_names_the_option_and_value_and_exits_2",
     t_bad_prefix, False),
    ("udp_port_0_exits_2", t_udp_port_0, False),
    ("ack_bogus_exits_2", t_ack_bogus, False),
    ("missing_log_dir_is_named_and_exits_2", t_missing_log_dir, True),
    ("allow_with_host_bits_exits_2", t_allow_host_bits, False),
    ("missing_config_file_names_the_file_and_exits_2",
     t_missing_config, False),
    ("config_ring_size_1000_names_key_and_value_and_exits_2",
     t_config_bad_value, False),
    ("unknown_option_exits_2", t_unknown_option, False),
    ("stray_argument_exits_2", t_stray_argument, False),
    ("option_error_after_eal_options_exits_2_before_the_eal",
     t_error_after_eal_options, False),
    ("one_lcore_only_says_worker_and_exits_2", t_no_worker, True),
    ("no_vdev_says_no_ports_and_exits_2", t_no_ports, True),
    ("rx_lcores_5_not_given_to_the_eal_exits_2", t_rx_lcore_not_given, True),
    ("net_null_run_ready_then_sigterm_exits_0_with_final_counters",
     t_clean_run, True),
    ("sigint_twice_while_draining_exits_within_5s", t_sigint_twice, True),
    ("sigterm_during_startup_exits_within_5s", t_sigterm_during_startup,
     True),
]


# ---- main ------------------------------------------------------------------

def main(argv):
    if len(argv) != 2:
        print("usage: test_cli.py EVGATE_BINARY", file=sys.stderr)
        return 2
    prog = argv[1]
    if not os.access(prog, os.X_OK):
        print(f"test_cli: {prog}: not an executable", file=sys.stderr)
        return 2
    root = os.geteuid() == 0
    prefix = f"evgcli{os.getpid()}"
    tmp = tempfile.mkdtemp(prefix=f"{prefix}-")
    tap = Tap()
    procs = ProcSet()
    tap.plan(len(CASES) + 1)
    try:
        with signals_raise():
            for name, fn, needs_root in CASES:
                if needs_root and not root:
                    tap.skip(name, "needs root (starts the EAL)")
                    continue
                run_case(tap, name, fn, Case(prog, tmp, prefix, procs))
            left = procs.left()
            tap.result(not left, "every_evgate_started_has_exited",
                       f"{len(procs.started)} evgate process(es) started")
            for g in left:
                diag(f"PID {g.pid} was still there: {' '.join(g.cmd)}")
    except Interrupted as e:
        tap.bail_out(e)
    finally:
        procs.kill_all()
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(os.path.join(RUNTIME_DIR, prefix), ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
