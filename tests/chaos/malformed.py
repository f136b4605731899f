"""Malformed flood: junk datagrams of every kind the protocol names (random
bytes, bit flips, truncations, wrong lengths and counts, bad records, ACKs
from the network...) sent as fast as this process can, from a socket of
their own, mixed with valid traffic of several producers, for the phase
duration. Checks: evgate keeps running, nothing answers the junk, every
rx_evf_<rule> counter moved by exactly what was sent for that rule (with no
frame lost at the port), and every valid event is ACKed and in the log
once, in order, with its content.
"""

import os
import struct
import time

import chaosutil as cu
import evf
import evfsub
import taputil

CONF = "[log]\npartitions = 2\nstore = uring\n[ack]\nlevel = synced\n"
FLOWS = [(41, 1), (42, 2), (43, 3)]
JUNK_PRODUCER = 4900
POOL = 48          # frames per kind, built once (the CRC is Python)
BURST = 64         # junk frames per round of the producers' loop
FINAL_TIMEOUT = 60.0


def _valid(rng, n=None):
    n = n or rng.randint(1, 8)
    ev = [cu.event(JUNK_PRODUCER, 0, 1, s) for s in range(n)]
    return evf.build_data(JUNK_PRODUCER, 0, 1, rng.randrange(1 << 20), ev)


def _patch(frame, fmt, off, value):
    """frame with one header field changed, CRC sealed again."""
    b = bytearray(frame)
    struct.pack_into(fmt, b, off, value)
    return evf.seal(b)


def _bitflip(rng):
    f = bytearray(_valid(rng))
    bit = rng.randrange(40 * 8, len(f) * 8) if rng.random() < 0.8 else \
        rng.randrange(36 * 8, 40 * 8)          # a record byte or the CRC
    f[bit // 8] ^= 1 << (bit % 8)
    return bytes(f)


def _random(rng):
    n = rng.randint(40, 1400)
    b = bytearray(rng.getrandbits(8) for _ in range(n))
    if struct.unpack_from("<I", b)[0] == evf.MAGIC:
        b[0] ^= 0xFF
    return bytes(b)


def _record_patch(rng, off_in_rec, fmt, value):
    f = bytearray(_valid(rng, 1))
    struct.pack_into(fmt, f, 40 + off_in_rec, value)
    return evf.seal(f)


# kind -> (rule evgate counts it under, builder)
KINDS = {
    "random_bytes": ("magic", _random),
    "runt": ("runt", lambda r: bytes(r.getrandbits(8)
                                     for _ in range(r.randint(1, 39)))),
    "bit_flip": ("crc", _bitflip),
    "truncated": ("length", lambda r: (lambda f: f[:r.randint(40, len(f) - 1)])
                  (_valid(r))),
    "wrong_length": ("length", lambda r: (lambda f: _patch(
        f, "<I", 32, len(f) + 8 * r.randint(1, 4)))(_valid(r))),
    "unknown_type": ("type", lambda r: _patch(_valid(r), "<B", 4, 9)),
    "count_zero": ("count", lambda r: _patch(_valid(r), "<H", 6, 0)),
    "count_plus_one": ("records", lambda r: (lambda f: _patch(
        f, "<H", 6, struct.unpack_from("<H", f, 6)[0] + 1))(_valid(r))),
    "key_size_over": ("key_size", lambda r: _record_patch(r, 4, "<H", 999)),
    "attrs_set": ("attrs", lambda r: _record_patch(r, 6, "<H", 1)),
    "producer_zero": ("producer", lambda r: _patch(_valid(r), "<I", 8, 0)),
    "session_zero": ("session", lambda r: _patch(_valid(r), "<Q", 16, 0)),
    "ack_from_network": ("direction", lambda r: evf.build_ack(
        JUNK_PRODUCER, 0, 1, 5)),
}
# Consumer frames (the subscriber extension), one kind per malformation
# of scripts/evfsub.py's list: counted under the same rules, never
# answered, never a subscription.
for _i, (_rule, _frame) in enumerate(evfsub.junk_frames(JUNK_PRODUCER, 1)):
    KINDS[f"consumer_{_rule}_{_i}"] = (_rule, lambda r, f=_frame: f)


class Junk:
    def __init__(self, ns, rng):
        self.rng = rng
        self.pool = [(kind, rule, build(rng)) for kind, (rule, build)
                     in KINDS.items() for _ in range(POOL)]
        self.sock = taputil.udp_socket_in(ns)
        self.sock.connect((cu.GATE_IP, evf.DEFAULT_PORT))
        self.sock.setblocking(False)
        self.sent = {}
        self.by_kind = {}
        self.errors = 0
        self.replies = 0

    def burst(self):
        for _ in range(BURST):
            kind, rule, f = self.pool[self.rng.randrange(len(self.pool))]
            try:
                self.sock.send(f)
            except BlockingIOError:
                return
            except OSError:
                self.errors += 1
                return
            self.sent[rule] = self.sent.get(rule, 0) + 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
        self.take_replies()

    def take_replies(self):
        while True:
            try:
                self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionRefusedError:
                continue
            self.replies += 1

    def close(self):
        self.sock.close()


def rule_deltas(before, after, rules):
    return {r: after.get(f"rx_evf_{r}", 0) - before.get(f"rx_evf_{r}", 0)
            for r in rules}


def run(tap, ctx):
    logdir = os.path.join(ctx.tmp, "malformed-log")
    os.makedirs(logdir)
    conf = cu.write_conf(os.path.join(ctx.tmp, "malformed.ini"), CONF)
    gate = cu.Gate(ctx.evgate, ctx.tb, ctx.prefix, logdir, conf, ctx.procs)
    base = time.time_ns()
    flows = cu.Flows([cu.Flow(ctx.tb.ns, p, s, base + i)
                      for i, (p, s) in enumerate(FLOWS)])
    junk = Junk(ctx.tb.ns, ctx.rng)
    try:
        gate.start()
        cu.pin_neighbor(ctx.tb)
        before = gate.stats()
        links0 = (cu.link_stats(ctx.tb.ns_if, ctx.tb.ns),
                  cu.link_stats(ctx.tb.host_if))
        for fl in flows.flows:
            fl.target = 1 << 40
        flows.run(time.monotonic() + ctx.duration, tick=junk.burst)
        for fl in flows.flows:
            fl.target = fl.high
        flows.run(time.monotonic() + FINAL_TIMEOUT, flows.all_done)
        time.sleep(0.5)
        junk.take_replies()
        after = gate.stats()
        links = (cu.delta(links0[0], cu.link_stats(ctx.tb.ns_if, ctx.tb.ns)),
                 cu.delta(links0[1], cu.link_stats(ctx.tb.host_if)))
        d = cu.delta(before, after)
        taputil.diag(f"namespace end {links[0]}; host end {links[1]}; evgate "
                     + ", ".join(f"{k} +{d.get(k)}" for k in (
                         "port_ipackets", "port_rx_missed", "rx_packets",
                         "rx_net_evf", "rx_evf_ok")))
        alive = gate.alive()
        rc = gate.stop()
        rules = sorted({r for r, _ in KINDS.values()})
        got = rule_deltas(before, after, rules)
        want = {r: junk.sent.get(r, 0) for r in rules}
        missed = (after.get("port_rx_missed", 0) -
                  before.get("port_rx_missed", 0))
        total = sum(want.values())
        tap.result(alive and rc == 0,
                   "evgate_survives_the_malformed_flood_and_exits_0",
                   f"alive {alive}, exit status {rc}; {total} junk frames "
                   f"in {ctx.duration} s")
        tap.result(junk.replies == 0, "no_reply_to_any_junk_frame",
                   f"{junk.replies} replies to {total} junk frames")
        tap.result(got == want and missed == 0,
                   "every_junk_frame_is_counted_under_its_own_rule",
                   f"sent {want}\ncounted {got}\nport_rx_missed +{missed}")
        undone = [(fl.producer, fl.ack(), fl.target) for fl in flows.flows
                  if not fl.done()]
        chk = cu.LogCheck(cu.read_log(ctx.evtail, logdir), flows.truth())
        tap.result(not undone and chk.ok() and chk.acked > 0,
                   "valid_traffic_is_all_acked_and_in_the_log_once",
                   f"not done: {undone}\n" + chk.why())
        return {"junk_sent_by_rule": want, "junk_counted_by_rule": got,
                "junk_by_kind": junk.by_kind, "junk_replies": junk.replies,
                "port_rx_missed": missed, "valid_acked_events": chk.acked,
                "valid_lost": chk.lost, "valid_duplicated": chk.dup,
                "producer_naks": flows.naks()}
    finally:
        junk.close()
        flows.close()
