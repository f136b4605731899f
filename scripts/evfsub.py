#!/usr/bin/env python3
"""EVF/1 subscriber extension for Python: frames and a small consumer.

The protocol is docs/protocol.md, "Subscribers"; this module follows it
field for field, on top of evf.py's header codec and CRC. It is what the
integration tests use to speak the protocol at the frame level (the
cookie round trip, tokens, loss, junk); real consumers use libevclient's
evg_consumer_* API or `evsub`. Python 3 standard library only.

    import evfsub
    s = evfsub.Subscriber("10.74.0.2", consumer=9, streams=[1],
                          start=evfsub.START_OLDEST)
    s.subscribe()                      # CHALLENGE, SUBSCRIBE again, SUBSCRIBED
    evs = s.take(1000, timeout=5)      # [Record], in dseq order
    s.unsubscribe()

As a command:

    evfsub.py junk --to 10.74.0.2 --count 20    # malformed consumer frames
    evfsub.py selftest
"""

import argparse
import collections
import socket
import struct
import sys
import time

import evf

T_SUBSCRIBE, T_CREDIT, T_UNSUBSCRIBE = 16, 17, 18
T_CHALLENGE, T_SUBSCRIBED, T_DELIVER, T_COMMITTED, T_SUB_ERROR = 24, 25, 26, 27, 28
START_OLDEST, START_END, START_OFFSET, START_TIME = 0, 1, 2, 3
POLICIES = {"round-robin": 1, "random": 2, "weighted": 3,
            "least-outstanding": 4, "key-hash": 5}
F_NAK, F_COMMIT = 0x01, 0x02
REC_REDELIVERED, REC_MORE, REC_CONT = 0x01, 0x02, 0x04
ERRORS = {1: "REJECTED", 2: "FULL", 3: "FENCED", 4: "POLICY", 5: "GROUPS",
          6: "UNKNOWN"}
NO_BYTE_LIMIT = 0xFFFFFFFF
SUBSCRIBE_MIN = 128
SUB_FIXED = struct.Struct("<QBBBBHHIIQ32s")   # at 40: cookie .. group
DREC = struct.Struct("<IHHIIQQQQ")  # size key_size flags producer rsvd offset session seq ts
DREC_SIZE = DREC.size  # 48

Record = collections.namedtuple(
    "Record", "dseq stream partition offset producer session seq ts_ns flags key value")


class SubError(Exception):
    """A SUB_ERROR came back; .reason is its name."""

    def __init__(self, code):
        super().__init__(f"SUB_ERROR {ERRORS.get(code, code)}")
        self.code = code
        self.reason = ERRORS.get(code, str(code))


# ---- frames ------------------------------------------------------------------

def build_subscribe(consumer, session, streams, start=START_END, policy=0,
                    group=b"", credit_events=4096, credit_bytes=NO_BYTE_LIMIT,
                    cookie=0, weight=0, start_time=0, offsets=None,
                    version=1, length=None):
    """A SUBSCRIBE; streams a list of stream ids, offsets (START_OFFSET) a
    list of the same length. version and length are for malformed tests."""
    nb = len(streams)
    body = SUB_FIXED.pack(cookie, version, start, policy, nb, weight, 0,
                          credit_events, credit_bytes, start_time,
                          group.ljust(32, b"\0"))
    offsets = offsets or [0] * nb
    for s, o in zip(streams, offsets):
        body += struct.pack("<IIQ", s, 0, o)
    want = max(SUBSCRIBE_MIN, 104 + 16 * nb) if length is None else length
    body = body.ljust(want - evf.HDR_SIZE, b"\0")[:max(0, want - evf.HDR_SIZE)]
    return evf.build_frame(T_SUBSCRIBE, consumer, 0, session, 0, body)


def build_credit(consumer, session, token, received, processed,
                 credit_events=4096, credit_bytes=NO_BYTE_LIMIT, flags=0):
    body = struct.pack("<QQII", token, processed, credit_events, credit_bytes)
    return evf.build_frame(T_CREDIT, consumer, 0, session, received, body,
                           flags=flags)


def build_unsubscribe(consumer, session, token, processed):
    return evf.build_frame(T_UNSUBSCRIBE, consumer, 0, session, processed,
                           struct.pack("<Q", token))


def header(buf):
    """(type, flags, count, consumer, stream, session, seq, length) of a
    frame whose CRC and length are right, else None."""
    if len(buf) < evf.HDR_SIZE:
        return None
    magic, t, fl, cnt, cid, st, sess, seq, ln, crc = evf.HDR.unpack_from(buf)
    if magic != evf.MAGIC or ln != len(buf):
        return None
    if evf.crc32c(buf[:evf.CRC_OFFSET] + bytes(4) + buf[evf.CRC_OFFSET + 4:]) != crc:
        return None
    return t, fl, cnt, cid, st, sess, seq, ln


def parse_subscribed(buf):
    token, timeout, inflight, flags, members, parts = struct.unpack_from(
        "<QIIHHI", buf, 40)
    cnt = struct.unpack_from("<H", buf, 6)[0]
    pos = [struct.unpack_from("<IIQQ", buf, 64 + 24 * i) for i in range(cnt)]
    return {"token": token, "timeout_ms": timeout, "max_inflight": inflight,
            "resumed": bool(flags & 1), "members": members,
            "partitions": parts,
            "positions": [{"stream": p[0], "partition": p[1], "start": p[2],
                           "end": p[3]} for p in pos]}


def parse_committed(buf):
    cnt = struct.unpack_from("<H", buf, 6)[0]
    return {struct.unpack_from("<I", buf, 40 + 16 * i)[0]:
            struct.unpack_from("<Q", buf, 48 + 16 * i)[0] for i in range(cnt)}


def parse_deliver(buf):
    """The records of a DELIVER frame, as Records (pieces not joined)."""
    cnt, stream, dseq = (struct.unpack_from("<H", buf, 6)[0],
                         struct.unpack_from("<I", buf, 12)[0],
                         struct.unpack_from("<Q", buf, 24)[0])
    part = struct.unpack_from("<I", buf, 40)[0]
    off, out = 48, []
    for i in range(cnt):
        size, ks, fl, prod, _, offset, sess, seq, ts = DREC.unpack_from(buf, off)
        data = buf[off + DREC_SIZE:off + DREC_SIZE + size]
        out.append(Record(dseq + i, stream, part, offset, prod, sess, seq, ts,
                          fl, bytes(data[:ks]), bytes(data[ks:])))
        off += DREC_SIZE + ((size + 7) & ~7)
    return out


# ---- a consumer ----------------------------------------------------------------

class Subscriber:
    """One subscription over a UDP socket: handshake, in-order delivery,
    NAK on a gap, CREDIT reporting received = processed (or not at all:
    credit=0 / ack=False), commits. Not fast; exact."""

    def __init__(self, to, consumer, streams, start=START_END, port=evf.DEFAULT_PORT,
                 session=None, group=b"", policy=0, credit_events=4096,
                 credit_bytes=NO_BYTE_LIMIT, offsets=None, start_time=0,
                 weight=0, sock=None):
        self.to, self.port = to, port
        self.consumer = consumer
        self.session = session or time.time_ns()
        self.streams, self.start, self.offsets = streams, start, offsets
        self.group, self.policy, self.weight = group, policy, weight
        self.credit_events, self.credit_bytes = credit_events, credit_bytes
        self.start_time = start_time
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect((to, port))
        self.info = None
        self.token = 0
        self.received = 0
        self.processed = 0
        self.pending = collections.deque()
        self.stats = collections.Counter()
        self.committed = {}

    def close(self):
        self.sock.close()

    def _subscribe_frame(self, cookie):
        return build_subscribe(self.consumer, self.session, self.streams,
                               self.start, self.policy, self.group,
                               self.credit_events, self.credit_bytes, cookie,
                               self.weight, self.start_time, self.offsets)

    def recv(self, timeout):
        self.sock.settimeout(max(timeout, 0.001))
        try:
            buf = self.sock.recv(65536)
        except (socket.timeout, ConnectionRefusedError):
            return None, None
        return header(buf), buf

    def subscribe(self, timeout=5.0):
        """The cookie round trip; returns SUBSCRIBED's fields, raises
        SubError or TimeoutError."""
        deadline = time.monotonic() + timeout
        cookie = 0
        while time.monotonic() < deadline:
            self.sock.send(self._subscribe_frame(cookie))
            self.stats["subscribes"] += 1
            h, buf = self.recv(min(0.2, deadline - time.monotonic()))
            if h is None:
                continue
            if h[0] == T_CHALLENGE:
                cookie = struct.unpack_from("<Q", buf, 40)[0]
                self.stats["challenges"] += 1
            elif h[0] == T_SUBSCRIBED:
                self.info = parse_subscribed(buf)
                self.token = self.info["token"]
                return self.info
            elif h[0] == T_SUB_ERROR:
                raise SubError(h[2])
        raise TimeoutError("no SUBSCRIBED")

    def credit(self, flags=0, received=None, processed=None):
        self.sock.send(build_credit(
            self.consumer, self.session, self.token,
            self.received if received is None else received,
            self.processed if processed is None else processed,
            self.credit_events, self.credit_bytes, flags))
        self.stats["credits"] += 1

    def poll(self, timeout):
        """Handles one datagram (or a timeout, with a heartbeat CREDIT);
        returns the records it added to self.pending."""
        h, buf = self.recv(timeout)
        if h is None:
            self.credit()
            return []
        if h[0] == T_COMMITTED:
            self.committed.update(parse_committed(buf))
            self.stats["committed"] += 1
            return []
        if h[0] == T_SUB_ERROR:
            raise SubError(h[2])
        if h[0] != T_DELIVER:
            self.stats["other"] += 1
            return []
        recs = parse_deliver(buf)
        first, n = h[6], len(recs)
        if first + n <= self.received:
            self.stats["duplicates"] += 1
            return []
        if first > self.received:
            self.stats["gaps"] += 1
            self.credit(F_NAK)
            return []
        fresh = recs[self.received - first:]
        self.received = first + n
        self.pending.extend(fresh)
        self.stats["frames"] += 1
        return fresh

    def take(self, n, timeout, ack=True):
        """Up to n records within timeout, reported processed as taken
        (unless ack is False)."""
        out, deadline = [], time.monotonic() + timeout
        while len(out) < n and time.monotonic() < deadline:
            while self.pending and len(out) < n:
                out.append(self.pending.popleft())
            if len(out) >= n:
                break
            got = self.poll(min(0.1, deadline - time.monotonic()))
            if ack and got:
                self.processed = self.received - len(self.pending)
                self.credit()
        if ack:
            self.processed = self.received - len(self.pending)
            self.credit()
        return out

    def commit(self, timeout=5.0):
        """CREDIT with COMMIT until a COMMITTED arrives; its points."""
        deadline = time.monotonic() + timeout
        want = self.stats["committed"] + 1
        while time.monotonic() < deadline:
            self.credit(F_COMMIT)
            end = time.monotonic() + 0.2
            while time.monotonic() < end and self.stats["committed"] < want:
                self.poll(0.05)
            if self.stats["committed"] >= want:
                return dict(self.committed)
        raise TimeoutError("no COMMITTED")

    def unsubscribe(self):
        self.sock.send(build_unsubscribe(self.consumer, self.session,
                                         self.token, self.processed))


# ---- junk: malformed consumer frames, one rule broken each ---------------------

def junk_frames(consumer=77, session=1):
    """(rule, datagram) pairs evgate must drop, count under rx_evf_<rule>
    and never answer."""
    good = build_subscribe(consumer, session, [1])

    def patch(frame, fmt, off, value):
        b = bytearray(frame)
        struct.pack_into(fmt, b, off, value)
        return evf.seal(b)

    return [
        ("records", build_subscribe(consumer, session, [1], length=120)),
        ("records", evf.build_frame(T_CREDIT, consumer, 0, session, 0,
                                    bytes(16))),
        ("count", patch(good, "<H", 6, 1)),
        ("field", build_subscribe(consumer, session, [1], version=2)),
        ("field", patch(good, "<B", 49, 9)),          # start
        ("field", patch(good, "<B", 50, 6)),          # policy
        ("field", patch(good, "<B", 51, 0)),          # nb_streams
        ("field", build_subscribe(consumer, session, [1], group=b"no spaces")),
        ("field", build_subscribe(consumer, session, [1, 1])),
        ("field", build_credit(consumer, session, 1, 5, 6)),  # processed > received
        ("producer", build_subscribe(0, session, [1])),
        ("session", evf.build_frame(T_CREDIT, consumer, 0, 0, 0, bytes(24))),
        ("direction", evf.build_frame(T_SUB_ERROR, consumer, 0, session, 0,
                                      count=6)),
        ("direction", evf.build_frame(T_CHALLENGE, consumer, 0, session, 0,
                                      bytes(8))),
        ("type", evf.build_frame(19, consumer, 0, session, 0)),
    ]


def selftest():
    f = build_subscribe(9, 5, [1, 2], START_OFFSET, offsets=[3, 4])
    h = header(f)
    assert h[0] == T_SUBSCRIBE and len(f) == 136 and h[3] == 9, h
    c = build_credit(9, 5, 0xABCD, 10, 7, flags=F_NAK)
    h = header(c)
    assert h[0] == T_CREDIT and h[6] == 10 and len(c) == 64 and h[1] == F_NAK
    rules = [r for r, _ in junk_frames()]
    assert rules.count("field") >= 6, rules
    return True


def cmd_junk(a):
    frames = junk_frames(a.consumer, a.session or 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((a.to, a.port))
    sent = collections.Counter()
    for i in range(a.count):
        rule, frame = frames[i % len(frames)]
        sock.send(frame)
        sent[rule] += 1
    replies = 0
    deadline = time.monotonic() + a.timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            sock.recv(65536)
            replies += 1
        except socket.timeout:
            break
        except ConnectionRefusedError:
            replies += 1
    kinds = ",".join(f"{k}:{n}" for k, n in sorted(sent.items()))
    print(f"evfsub junk: sent={a.count} ({kinds}) replies={replies}", flush=True)
    return 0 if replies == 0 else 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="evfsub.py",
                                 description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("junk", help="send malformed consumer frames; fail on any reply")
    p.add_argument("--to", default="10.74.0.2")
    p.add_argument("--port", type=int, default=evf.DEFAULT_PORT)
    p.add_argument("--consumer", type=int, default=77)
    p.add_argument("--session", type=int, default=None)
    p.add_argument("--count", type=int, default=15)
    p.add_argument("--timeout", type=float, default=1.0)
    sub.add_parser("selftest", help="check the builders")
    a = ap.parse_args(argv)
    if a.cmd == "selftest":
        selftest()
        print("evfsub selftest: ok")
        return 0
    return cmd_junk(a)


if __name__ == "__main__":
    sys.exit(main())
