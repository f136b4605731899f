#!/usr/bin/env python3
"""Subscribers end to end over the network-namespace testbed. TAP.

    test_subscribers.py EVGATE EVPUB EVSUB EVTAIL

evgate runs in the root namespace on the host end of a veth pair
(net_af_packet) at ACK level synced, with an allow list and short [sub]
timeouts; producers (evpub) and consumers (evsub, and scripts/evfsub.py for
the frame-level cases) run in the namespace. What is checked
(docs/protocol.md, "Subscribers"):

- replay from the oldest event, an offset, a timestamp and the end gives
  exactly what `evtail --json` shows of the log, in offset order;
- two groups of three members under each of the five policies each get
  every event exactly once per group, with the split the policy promises
  (round-robin even, weighted 3:1:1 within 10 %, random and
  least-outstanding shared, key-hash: a key always at one member, the same
  one for a second batch);
- a member killed (SIGKILL) mid-stream loses the group nothing: its
  unprocessed events go to the others, flagged and counted;
- DELIVER frames lost on the wire (nftables drops 10 % in the namespace)
  are asked for again and every event arrives once, in order;
- a subscriber that grants no credit holds back no producer and no other
  subscriber of the stream;
- events too large for one DELIVER frame at the MTU arrive whole (pieces);
- the cookie round trip: a first SUBSCRIBE gets only a smaller CHALLENGE
  and makes no subscription; forged cookies, wrong tokens and unknown
  subscriptions are counted, never answered with more than 40 bytes;
  malformed consumer frames are counted per rule and never answered; the
  allow list refuses consumer ids outside it;
- commits survive kill -9 of evgate: the group starts again at its commit.

Needs root (SKIP otherwise) and nft for the loss case (a failure saying so
when it is missing: scripts/setup-deps.sh installs nftables). Removes what
it made.
"""

import base64
import collections
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
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import taputil  # noqa: E402
from taputil import GATE_IP, check  # noqa: E402

sys.path.insert(0, os.path.join(taputil.ROOT, "scripts"))
import evfsub  # noqa: E402

PORT = 7470
ALLOWED = "10.74.0.0/24:1-999999"  # producers and consumers of the test
CONF = f"""[ack]
level = synced
[acl]
allow = {ALLOWED}
[sub]
timeout_ms = 1000
rto_ms = 50
group = cfg-weighted:weighted
"""
EVPUB_TIMEOUT = 30
POLICIES = ["round-robin", "random", "weighted", "least-outstanding",
            "key-hash"]


class Ctx:
    def __init__(self, args, tb, prefix, tmp, procs):
        self.evgate, self.evpub, self.evsub, self.evtail = args
        self.tb, self.ns, self.prefix, self.tmp = tb, tb.ns, prefix, tmp
        self.procs = procs
        self.logdir = os.path.join(tmp, "log")
        self.conf = os.path.join(tmp, "sub-test.ini")
        self.gate = None
        self.runs = []
        self.next_id = 100

    def consumer_id(self):
        self.next_id += 1
        return self.next_id


# ---- helpers -----------------------------------------------------------------

def start_gate(ctx):
    cmd, why = taputil.evgate_cmd(ctx.evgate, ctx.tb, ctx.prefix, ctx.logdir,
                                  ["--config", ctx.conf])
    taputil.diag(f"{why}; starting: {' '.join(cmd)}")
    ctx.gate = taputil.start_evgate(ctx.procs, cmd)


def stats(ctx):
    return taputil.telemetry(ctx.prefix, "/evgate/stats")


def subscribers(ctx):
    return taputil.telemetry(ctx.prefix, "/evgate/subscribers")


def publish(ctx, producer, stream, lines):
    """evpub in the namespace, every line ACKed at synced; its summary."""
    cmd = ["ip", "netns", "exec", ctx.ns, ctx.evpub, "--json", "--server",
           f"{GATE_IP}:{PORT}", "--producer", str(producer), "--stream",
           str(stream), "--timeout", str(EVPUB_TIMEOUT)]
    p = subprocess.run(cmd, input="".join(ln + "\n" for ln in lines),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    summary = None
    for ln in p.stdout.splitlines():
        if ln.startswith("{"):
            summary = json.loads(ln)
    check(p.returncode == 0 and summary and summary["all_acked"],
          f"evpub exited {p.returncode}\n{p.stdout[-1500:]}\n{p.stderr[-1500:]}")
    return summary


def log_records(ctx, stream):
    return [r for r in taputil.evtail_json(ctx.evtail, ctx.logdir)
            if r["stream"] == stream]


def evsub_start(ctx, args):
    cmd = ["ip", "netns", "exec", ctx.ns, ctx.evsub, "--server",
           f"{GATE_IP}:{PORT}", "--json", *[str(a) for a in args]]
    p = ctx.procs.start(cmd)
    ctx.runs.append(p)
    return p


def evsub_events(p):
    """(events, summary) of an evsub --json run."""
    evs, summary = [], None
    for ln in p.output():
        if not ln.startswith("{"):
            continue
        d = json.loads(ln)
        if d.get("summary"):
            summary = d
        else:
            evs.append(d)
    return evs, summary


def evsub_run(ctx, args, timeout=60):
    p = evsub_start(ctx, args)
    rc = p.wait(timeout)
    check(rc is not None, f"evsub still running after {timeout}s\n"
          f"{p.report(20, tail=True)}")
    evs, summary = evsub_events(p)
    return rc, evs, summary, p


def wait_subscribed(ctx, ids, timeout=15):
    """Until /evgate/subscribers lists every consumer id of ids."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        have = subscribers(ctx)
        if all(str(i) in have for i in ids):
            return have
        time.sleep(0.1)
    raise taputil.Fail(f"consumers {ids} not all subscribed: "
                       f"{sorted(subscribers(ctx))}")


def key_of(e):
    return base64.b64decode(e["key_b64"])


def sub_in_ns(ctx, **kw):
    return evfsub.Subscriber(GATE_IP, sock=taputil.udp_socket_in(ctx.ns), **kw)


def recv_all(sock, secs):
    """Every datagram arriving within secs."""
    out, deadline = [], time.monotonic() + secs
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return out
        sock.settimeout(left)
        try:
            out.append(sock.recv(65536))
        except (OSError, TimeoutError):
            return out


def delta(before, after, name):
    return after.get(name, 0) - before.get(name, 0)


# ---- replay ------------------------------------------------------------------

def case_replay(ctx):
    stream, n = 11, 600
    t_mid = None
    lines = [f"r{i}\tvalue {i}" for i in range(n)]
    publish(ctx, 11, stream, lines[:300])
    time.sleep(0.05)
    t_mid = time.time_ns()
    time.sleep(0.05)
    publish(ctx, 11, stream, lines[300:])
    log = log_records(ctx, stream)
    check(len(log) == n, f"{len(log)} records of stream {stream} in the log")
    offs = [r["offset"] for r in log]
    notes = []
    fields = ("partition", "offset", "stream", "producer", "session", "seq",
              "ts_ns", "key_b64", "value_b64")

    def same(evs, want, what):
        got = [tuple(e[f] for f in fields) for e in evs]
        exp = [tuple(r[f] for f in fields) for r in want]
        check(got == exp, f"{what}: {len(got)} events; first difference at "
              f"{next((i for i, (a, b) in enumerate(zip(got, exp)) if a != b), min(len(got), len(exp)))}:"
              f" got {got[:2]} ... want {exp[:2]} ...")
        notes.append(f"{what}: {len(got)}")

    rc, evs, _, _ = evsub_run(ctx, ["--stream", stream, "--from", "oldest",
                                    "--count", n, "--timeout", 30])
    check(rc == 0, f"evsub --from oldest exited {rc}")
    same(evs, log, "oldest")
    at = offs[123]
    rc, evs, _, _ = evsub_run(ctx, ["--stream", stream, "--from", at,
                                    "--count", n - 123, "--timeout", 30])
    same(evs, log[123:], f"offset {at}")
    first = next(i for i, r in enumerate(log) if r["ts_ns"] >= t_mid)
    rc, evs, _, _ = evsub_run(ctx, ["--stream", stream, "--from-time", t_mid,
                                    "--count", n - first, "--timeout", 30])
    same(evs, log[first:], f"time {t_mid}")
    cid = ctx.consumer_id()
    tail = evsub_start(ctx, ["--consumer", cid, "--stream", stream,
                             "--from-end", "--count", 50, "--timeout", 30])
    wait_subscribed(ctx, [cid])
    publish(ctx, 11, stream, [f"live {i}" for i in range(50)])
    rc = tail.wait(30)
    evs, _ = evsub_events(tail)
    log = log_records(ctx, stream)
    check(rc == 0, f"evsub --from-end exited {rc}\n{tail.report(10, True)}")
    same(evs, log[n:], "end")
    return "; ".join(notes)


# ---- groups ------------------------------------------------------------------

def run_groups(ctx, policy, stream, batches, n):
    """Two groups of three live-tail members under policy; batches of n
    keyed events each; the members' events per group. Every member's
    credit holds a whole batch: a policy picks among members with credit,
    so the split it promises holds while none runs out (a member without
    credit is passed over, or waited for under key-hash)."""
    weights = [3, 1, 1] if policy == "weighted" else [1, 1, 1]
    members = {}
    for g in ("a", "b"):
        for k in range(3):
            cid = ctx.consumer_id()
            p = evsub_start(ctx, ["--consumer", cid, "--stream", stream,
                                  "--group", f"{policy[:8]}-{g}", "--policy",
                                  policy, "--weight", weights[k], "--from-end",
                                  "--idle", 4, "--timeout", 90, "--credit",
                                  4096])
            members[(g, k)] = (cid, p)
    wait_subscribed(ctx, [cid for cid, _ in members.values()])
    for b in range(batches):
        publish(ctx, 20 + b, stream,
                [f"key-{i % 37}\tb{b} v{i}" for i in range(n)])
    out = {}
    for key, (cid, p) in members.items():
        rc = p.wait(90)
        evs, summary = evsub_events(p)
        check(rc == 0, f"member {key} exited {rc}\n{p.report(10, True)}")
        out[key] = evs
    return out


def check_groups(policy, out, total):
    notes = []
    for g in ("a", "b"):
        evs = [e for k in range(3) for e in out[(g, k)]]
        offs = [e["offset"] for e in evs]
        check(len(offs) == total and len(set(offs)) == total,
              f"group {g}: {len(offs)} events, {len(set(offs))} distinct, "
              f"want {total} each once")
        check(not any(e["redelivered"] for e in evs),
              f"group {g}: redeliveries while every member was live")
        counts = [len(out[(g, k)]) for k in range(3)]
        for k in range(3):
            o = [e["offset"] for e in out[(g, k)]]
            check(o == sorted(o), f"group {g} member {k}: out of order")
        if policy == "round-robin":
            check(max(counts) - min(counts) <= total * 0.1,
                  f"group {g}: round-robin split {counts}")
        elif policy == "weighted":
            ratio = counts[0] / max(1, (counts[1] + counts[2]) / 2)
            check(2.7 <= ratio <= 3.3,
                  f"group {g}: weighted 3:1:1 split {counts}, ratio {ratio:.2f}")
        elif policy == "random":
            check(min(counts) > total * 0.15,
                  f"group {g}: random split {counts}")
        elif policy == "least-outstanding":
            check(min(counts) > 0, f"group {g}: a member got nothing {counts}")
        elif policy == "key-hash":
            owner = {}
            for k in range(3):
                for e in out[(g, k)]:
                    owner.setdefault(key_of(e), set()).add(k)
            moved = {kk: v for kk, v in owner.items() if len(v) > 1}
            check(not moved, f"group {g}: keys at several members: "
                  f"{list(moved.items())[:3]}")
            check(len({min(v) for v in owner.values()}) >= 2,
                  f"group {g}: every key at one member {counts}")
        notes.append(f"{g}: {counts}")
    return f"{policy}: " + ", ".join(notes)


def make_group_case(policy, stream):
    def case(ctx):
        batches = 2 if policy == "key-hash" else 1
        n = 900
        out = run_groups(ctx, policy, stream, batches, n)
        return check_groups(policy, out, batches * n)
    return case


def case_configured_policy_refuses_another(ctx):
    s = sub_in_ns(ctx, consumer=ctx.consumer_id(), streams=[30],
                  group=b"cfg-weighted", policy=evfsub.POLICIES["random"])
    try:
        s.subscribe()
    except evfsub.SubError as e:
        check(e.reason == "POLICY", f"got {e.reason}")
        return "SUB_ERROR POLICY for random in a weighted group"
    finally:
        s.close()
    raise taputil.Fail("subscribed with another policy than the configured")


# ---- a member dies -----------------------------------------------------------

def case_killed_member(ctx):
    stream, n = 31, 3000
    ids = [ctx.consumer_id() for _ in range(3)]
    before = stats(ctx)
    procs = [evsub_start(ctx, ["--consumer", cid, "--stream", stream,
                               "--group", "killme", "--policy",
                               "round-robin", "--from-end", "--credit", 64,
                               "--idle", 5, "--timeout", 90])
             for cid in ids]
    wait_subscribed(ctx, ids)
    pub = subprocess.Popen(
        ["ip", "netns", "exec", ctx.ns, ctx.evpub, "--server",
         f"{GATE_IP}:{PORT}", "--producer", "31", "--stream", str(stream),
         "--count", str(n), "--size", "32", "--timeout", str(EVPUB_TIMEOUT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    victim = procs[0]
    check(victim.wait_lines(100, 30), "the victim got no events")
    victim.kill()  # SIGKILL: no UNSUBSCRIBE, no last CREDIT
    _, err = pub.communicate(timeout=120)
    check(pub.returncode == 0, f"evpub exited {pub.returncode}: {err}")
    for p in procs[1:]:
        check(p.wait(90) == 0, f"member exited {p.rc}\n{p.report(10, True)}")
    got = {}
    for p in procs:
        for e in evsub_events(p)[0]:
            got.setdefault(e["offset"], []).append(e)
    log = {r["offset"] for r in log_records(ctx, stream)}
    missing = sorted(log - set(got))
    check(len(log) == n and not missing,
          f"{len(missing)} of {len(log)} events reached no member: "
          f"{missing[:10]}")
    survivors = [e for p in procs[1:] for e in evsub_events(p)[0]]
    redelivered = sum(1 for e in survivors if e["redelivered"])
    after = stats(ctx)
    counted = delta(before, after, "sub_redelivered")
    check(redelivered > 0 and counted == redelivered,
          f"{redelivered} events flagged redelivered at the survivors, "
          f"sub_redelivered went up by {counted}")
    twice = [o for o, v in got.items() if len(v) > 1]
    unflagged = [o for o in twice if not any(e["redelivered"] for e in got[o])]
    check(not unflagged, f"duplicates not flagged redelivered: {unflagged[:5]}")
    check(delta(before, after, "sub_timeouts") >= 1, "no timeout counted")
    return (f"{n} events, none lost; the victim had "
            f"{len(evsub_events(victim)[0])} printed, {redelivered} "
            f"redelivered (= sub_redelivered), {len(twice)} seen twice")


# ---- loss on the wire ----------------------------------------------------------

def nft(ctx, *args):
    return subprocess.run(["ip", "netns", "exec", ctx.ns, "nft", *args],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=20)


def case_loss_repaired(ctx):
    check(shutil.which("nft") is not None,
          "nft (nftables) is not installed: scripts/setup-deps.sh installs it")
    stream, n = 41, 4000
    publish(ctx, 41, stream, [f"loss {i}" for i in range(n)])
    log = log_records(ctx, stream)
    rules = ["add table inet evgsub", "add chain inet evgsub in "
             "{ type filter hook input priority 0 ; }",
             "add rule inet evgsub in udp sport 7470 numgen random mod 100 "
             "< 10 drop"]
    for r in rules:
        p = nft(ctx, *r.split())
        check(p.returncode == 0, f"nft {r}: {p.stdout}")
    before = stats(ctx)
    try:
        rc, evs, summary, p = evsub_run(
            ctx, ["--stream", stream, "--from", "oldest", "--count", n,
                  "--credit", 512, "--timeout", 60], timeout=90)
    finally:
        nft(ctx, "delete", "table", "inet", "evgsub")
    after = stats(ctx)
    check(rc == 0, f"evsub exited {rc}\n{p.report(10, True)}")
    got = [e["offset"] for e in evs]
    check(got == [r["offset"] for r in log],
          f"{len(got)} events, want the log's {len(log)} in order")
    resent = delta(before, after, "sub_frames_resent")
    check(resent > 0, "nothing was resent: was anything dropped?")
    return (f"{n} events once and in order through 10 % loss; frames resent "
            f"{resent}, NAKs {delta(before, after, 'sub_naks')}, rto "
            f"{delta(before, after, 'sub_rto')}")


# ---- a subscriber without credit ----------------------------------------------

def case_no_credit_holds_nobody_back(ctx):
    stream = 51
    cid, other = ctx.consumer_id(), ctx.consumer_id()
    s = sub_in_ns(ctx, consumer=cid, streams=[stream],
                  start=evfsub.START_OLDEST, credit_events=0)
    try:
        s.subscribe()
        n = 20000
        reader = evsub_start(ctx, ["--consumer", other, "--stream", stream,
                                   "--from", "oldest", "--count", n,
                                   "--quiet", "--timeout", 60])
        t0 = time.monotonic()
        summary = publish(ctx, 51, stream, [f"nc {i}" for i in range(n)])
        secs = time.monotonic() - t0
        check(reader.wait(60) == 0,
              f"the other subscriber did not get all {n} events\n"
              f"{reader.report(10, True)}")
        s.credit()  # a heartbeat: it stays subscribed, granting nothing
        time.sleep(0.2)
        me = subscribers(ctx)[str(cid)]
        check(me["events"] == 0 and me["lag"] >= n,
              f"subscriber state {me}")
        got = s.take(1, timeout=0.5, ack=False)
        check(not got, f"{len(got)} events delivered without credit")
        return (f"{summary['acked']} events ACKed at synced in {secs:.1f}s "
                f"and all delivered to another subscriber while one "
                f"granted nothing (lag {me['lag']})")
    finally:
        s.unsubscribe()
        s.close()


# ---- events too large for one DELIVER frame ----------------------------------

def case_large_events_arrive_whole(ctx):
    """1400 bytes of value: a DATA frame at MTU 1500 holds it, a DELIVER
    frame does not (1376), so it goes as two pieces, joined by the
    consumer."""
    stream, n = 81, 40
    lines = [f"big-{i}\t" + chr(ord("a") + i % 26) * 1400 for i in range(n)]
    publish(ctx, 81, stream, lines)
    log = log_records(ctx, stream)
    before = stats(ctx)
    rc, evs, _, p = evsub_run(ctx, ["--stream", stream, "--from", "oldest",
                                    "--count", n, "--timeout", 30])
    after = stats(ctx)
    check(rc == 0, f"evsub exited {rc}\n{p.report(10, True)}")
    got = [(e["offset"], e["key_b64"], e["value_b64"]) for e in evs]
    want = [(r["offset"], r["key_b64"], r["value_b64"]) for r in log]
    check(got == want, f"{len(got)} events, not the log's {len(want)}")
    frames = delta(before, after, "sub_frames")
    check(frames >= 2 * n, f"{frames} DELIVER frames for {n} large events")
    return f"{n} events of 1400 + 6 bytes whole, in {frames} DELIVER frames"


# ---- the handshake and bad frames ---------------------------------------------

def case_first_subscribe_gets_only_a_smaller_challenge(ctx):
    sock = taputil.udp_socket_in(ctx.ns)
    sock.connect((GATE_IP, PORT))
    base = time.time_ns()
    sent = 0
    for i in range(50):
        f = evfsub.build_subscribe(700000 + i, base + i, [1],
                                   evfsub.START_OLDEST)
        sock.send(f)
        sent += len(f)
    replies = recv_all(sock, 1.0)
    sock.close()
    got = sum(len(r) for r in replies)
    kinds = collections.Counter(evfsub.header(r)[0] for r in replies)
    check(set(kinds) <= {evfsub.T_CHALLENGE} and got < sent,
          f"replies {dict(kinds)}: {got} bytes for {sent} sent")
    have = [k for k in subscribers(ctx) if 700000 <= int(k) < 700050]
    check(not have, f"subscriptions made without a cookie: {have}")
    return f"{len(replies)} CHALLENGEs, {got} bytes, for {sent} bytes sent"


def case_forged_cookie_and_token(ctx):
    before = stats(ctx)
    sock = taputil.udp_socket_in(ctx.ns)
    sock.connect((GATE_IP, PORT))
    sess = time.time_ns()
    sock.send(evfsub.build_subscribe(710001, sess, [1], cookie=0x1234567))
    r = recv_all(sock, 0.5)
    check(len(r) == 1 and evfsub.header(r[0])[0] == evfsub.T_CHALLENGE,
          f"forged cookie answered {[evfsub.header(x) for x in r]}")
    sock.send(evfsub.build_credit(710002, sess, 99, 0, 0))
    r = recv_all(sock, 0.5)
    check(len(r) == 1 and evfsub.header(r[0])[0] == evfsub.T_SUB_ERROR and
          evfsub.header(r[0])[2] == 6 and len(r[0]) == 40,
          f"unknown subscription answered {[evfsub.header(x) for x in r]}")
    sock.close()
    cid = ctx.consumer_id()
    s = sub_in_ns(ctx, consumer=cid, streams=[1])
    try:
        s.subscribe()
        s.sock.send(evfsub.build_credit(cid, s.session, s.token ^ 1, 0, 0,
                                        credit_events=1000000))
        r = recv_all(s.sock, 0.5)
        check(not r, f"a wrong token was answered: {r[:1]}")
    finally:
        s.unsubscribe()
        s.close()
    after = stats(ctx)
    for name in ("sub_cookie_bad", "sub_unknown", "sub_bad_token"):
        check(delta(before, after, name) == 1,
              f"{name} went up by {delta(before, after, name)}, expected 1")
    return "forged cookie challenged again, unknown -> 40-byte UNKNOWN, " \
           "wrong token dropped; each counted once"


def case_junk_consumer_frames(ctx):
    before = stats(ctx)
    frames = evfsub.junk_frames(720001, time.time_ns())
    sock = taputil.udp_socket_in(ctx.ns)
    sock.connect((GATE_IP, PORT))
    want = collections.Counter()
    for rule, f in frames:
        sock.send(f)
        want[rule] += 1
    replies = recv_all(sock, 1.0)
    sock.close()
    after = stats(ctx)
    check(not replies, f"{len(replies)} replies to junk")
    got = {r: delta(before, after, f"rx_evf_{r}") for r in want}
    check(got == dict(want), f"counted {got}, sent {dict(want)}")
    return f"{sum(want.values())} frames, counted per rule: {dict(want)}"


def case_allow_list_refuses_a_consumer(ctx):
    s = sub_in_ns(ctx, consumer=2000000, streams=[1])
    try:
        s.subscribe(timeout=2)
    except evfsub.SubError as e:
        check(e.reason == "REJECTED", f"got {e.reason}")
        return f"consumer 2000000 outside {ALLOWED}: SUB_ERROR REJECTED"
    finally:
        s.close()
    raise taputil.Fail("a consumer outside the allow list subscribed")


# ---- commits across kill -9 ---------------------------------------------------

def case_commits_survive_kill(ctx):
    stream, n = 61, 1000
    publish(ctx, 61, stream, [f"c {i}" for i in range(n)])
    log = log_records(ctx, stream)
    s = sub_in_ns(ctx, consumer=ctx.consumer_id(), streams=[stream],
                  start=evfsub.START_OLDEST, group=b"durable")
    try:
        s.subscribe()
        got = s.take(400, timeout=10)
        check(len(got) == 400, f"{len(got)} events")
        points = s.commit()
    finally:
        s.close()  # no UNSUBSCRIBE: evgate dies with the member in it
    want = log[400]["offset"]
    check(points.get(stream) == want,
          f"COMMITTED {points}, expected {stream}: {want}")
    ctx.gate.signal(signal.SIGKILL)
    ctx.gate.wait(10)
    start_gate(ctx)
    line = [ln for ln in ctx.gate.output() if "consumer offsets" in ln]
    s = sub_in_ns(ctx, consumer=ctx.consumer_id(), streams=[stream],
                  start=evfsub.START_OLDEST, group=b"durable")
    try:
        info = s.subscribe()
        check(info["resumed"] and info["positions"][0]["start"] == want,
              f"after the restart: {info}")
        got = s.take(n - 400, timeout=10)
        check([r.offset for r in got] == [r["offset"] for r in log[400:]],
              f"{len(got)} events after the restart, from "
              f"{got[0].offset if got else None}, want from {want}")
        s.unsubscribe()
    finally:
        s.close()
    return f"committed {want}; after kill -9: {line[:1]}, resumed there"


def case_telemetry_lists_subscribers(ctx):
    cid = ctx.consumer_id()
    s = sub_in_ns(ctx, consumer=cid, streams=[1, 2], group=b"tele")
    try:
        s.subscribe()
        me = subscribers(ctx)[str(cid)]
        for k in ("address", "group", "streams", "credit_events", "lag",
                  "inflight", "events", "frames_resent", "stalls"):
            check(k in me, f"no '{k}' in {me}")
        check(me["group"] == "tele" and me["streams"] == [1, 2],
              f"entry {me}")
        s.unsubscribe()
        time.sleep(0.2)
        check(str(cid) not in subscribers(ctx), "still listed")
    finally:
        s.close()
    return f"{me['address']} group {me['group']} streams {me['streams']}"


# ---- driver ------------------------------------------------------------------

def run_all(tap, ctx):
    with open(ctx.conf, "w") as f:
        f.write(CONF)
    os.makedirs(ctx.logdir)
    start_gate(ctx)
    cases = [
        ("first_subscribe_gets_only_a_smaller_challenge_and_no_subscription",
         case_first_subscribe_gets_only_a_smaller_challenge),
        ("forged_cookie_unknown_subscription_and_wrong_token_are_counted",
         case_forged_cookie_and_token),
        ("malformed_consumer_frames_are_counted_per_rule_never_answered",
         case_junk_consumer_frames),
        ("allow_list_refuses_a_consumer_outside_it",
         case_allow_list_refuses_a_consumer),
        ("telemetry_lists_each_subscription", case_telemetry_lists_subscribers),
        ("replay_from_oldest_offset_time_and_end_is_exactly_the_log",
         case_replay),
    ]
    for i, pol in enumerate(POLICIES):
        cases.append((f"two_groups_of_three_{pol.replace('-', '_')}_get_"
                      "every_event_once_each_with_the_policys_split",
                      make_group_case(pol, 70 + i)))
    cases += [
        ("configured_group_policy_refuses_another",
         case_configured_policy_refuses_another),
        ("killed_member_loses_the_group_nothing_redeliveries_counted",
         case_killed_member),
        ("lost_deliver_frames_are_asked_for_again_every_event_once_in_order",
         case_loss_repaired),
        ("subscriber_without_credit_holds_back_no_producer_nor_subscriber",
         case_no_credit_holds_nobody_back),
        ("events_too_large_for_a_deliver_frame_arrive_whole_in_pieces",
         case_large_events_arrive_whole),
        ("commits_survive_kill_9_of_evgate_group_resumes_there",
         case_commits_survive_kill),
    ]
    for name, fn in cases:
        taputil.run_case(tap, name, fn, ctx)
        ctx.runs = []
    rc = ctx.gate.stop(signal.SIGINT, 20)
    tap.result(rc == 0, "evgate_exits_0_on_sigint_with_no_mbuf_left",
               f"exit status {rc}\n" + "\n".join(ctx.gate.output()[-5:]))


def main(argv):
    if len(argv) != 5:
        print("usage: test_subscribers.py EVGATE EVPUB EVSUB EVTAIL",
              file=sys.stderr)
        return 2
    args = [os.path.abspath(a) for a in argv[1:5]]
    tap = taputil.Tap()
    tap.need_root("network namespaces, veth, af_packet", ("ip", "ethtool"))
    tag = f"evs{os.getpid()}"
    tb = taputil.Testbed(tag)
    procs = taputil.ProcSet()
    tmp = None
    try:
        why = tb.up()
    except taputil.Abort as e:
        tap.bail_out(str(e).replace("\n", " "))
        tb.down()
        return 1
    if why is not None:
        tb.down()
        tap.skip_all(why)
    with taputil.signals_raise():
        try:
            tmp = tempfile.mkdtemp(prefix=f"{tag}-")
            run_all(tap, Ctx(args, tb, tag, tmp, procs))
        except taputil.Abort as e:
            tap.result(False, "test_aborted", str(e))
        except taputil.Interrupted as e:
            tap.result(False, "test_interrupted", str(e))
        except Exception:
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
