#!/usr/bin/env python3
"""EVF/1 for Python: the frame codec and a small producer.

A stopgap producer for the integration tests and the demo until the C
client library exists. Python 3 standard library only. The protocol is
docs/protocol.md; the module follows it field for field.

As a module (scripts/ on sys.path):

    import evf
    p = evf.Producer("10.74.0.2", producer=7, stream=1, session=5)
    r = p.send_events([evf.Event(b"k", b"v")] * 100, batch=16)
    print(r.line())          # frames=7 ... acked_seq=100 ...

As a command:

    evf.py send --to 10.74.0.2 --producer 7 --stream 1 --session 5 \\
        --events 1000 --batch 16 [--ack-now] [--timeout 1]
    evf.py ping --to 10.74.0.2 --producer 7 --stream 1 --session 5
    evf.py junk --to 10.74.0.2 --count 8
    evf.py selftest

`send` prints one line and exits 0 when every event was acknowledged,
1 otherwise; `ping` exits 0 when an ACK came back; `junk` sends malformed
datagrams and exits 0 when none of them was answered.
"""

import argparse
import collections
import socket
import struct
import sys
import time

MAGIC = 0x31465645  # the bytes "EVF1"
DEFAULT_PORT = 7470
HDR = struct.Struct("<IBBHIIQQII")  # magic type flags count prod stream session seq length crc
HDR_SIZE = HDR.size  # 40
REC = struct.Struct("<IHHQ")  # size key_size attrs ts_ns
REC_SIZE = REC.size  # 16
CRC_OFFSET = 36
# Largest UDP payload on a 1500-byte Ethernet MTU (IPv4 and UDP headers off).
MAX_FRAME = 1500 - 20 - 8

TYPE_DATA, TYPE_ACK, TYPE_NAK, TYPE_PING = 1, 2, 3, 4
TYPE_NAMES = {TYPE_DATA: "DATA", TYPE_ACK: "ACK", TYPE_NAK: "NAK", TYPE_PING: "PING"}
FLAG_ACK_NOW = 0x01

NAK_GAP, NAK_FENCED, NAK_BUSY, NAK_REJECTED, NAK_STORAGE = 1, 2, 3, 4, 5
NAK_NAMES = {
    NAK_GAP: "gap",
    NAK_FENCED: "fenced",
    NAK_BUSY: "busy",
    NAK_REJECTED: "rejected",
    NAK_STORAGE: "storage",
}


# ---- CRC-32C (Castagnoli), reflected, table-driven -------------------------

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc32c_table()


def crc32c(data, crc=0):
    """CRC-32C of data; pass a previous result as crc to continue it."""
    table = _CRC_TABLE
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---- frames ----------------------------------------------------------------

class EvfError(ValueError):
    """A datagram that is not a well-formed EVF/1 frame; .reason names the
    rule it breaks, as the protocol's validation list does (runt, magic,
    type, length, crc, count, records, key_size, attrs, producer, session)."""

    def __init__(self, reason, detail):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


Event = collections.namedtuple("Event", "key value ts_ns", defaults=(b"", b"", 0))

Frame = collections.namedtuple(
    "Frame", "type flags count producer stream session seq length crc body")


def _align8(n):
    return (n + 7) & ~7


def encode_events(events):
    """The record area of a DATA frame holding events (Event or tuples)."""
    out = bytearray()
    for ev in events:
        key, value, ts_ns = Event(*ev)
        size = len(key) + len(value)
        if len(key) > 0xFFFF:
            raise ValueError(f"key of {len(key)} bytes, expected at most 65535")
        out += REC.pack(size, len(key), 0, ts_ns)
        out += key
        out += value
        out += bytes(_align8(size) - size)
    return bytes(out)


def record_size(key_len, value_len):
    """Bytes one event occupies in a frame."""
    return REC_SIZE + _align8(key_len + value_len)


def seal(frame):
    """Returns frame (bytes-like, header first) with its CRC filled in."""
    buf = bytearray(frame)
    buf[CRC_OFFSET:CRC_OFFSET + 4] = bytes(4)
    struct.pack_into("<I", buf, CRC_OFFSET, crc32c(buf))
    return bytes(buf)


def build_frame(ftype, producer, stream, session, seq, body=b"", flags=0,
                count=0, length=None):
    """Any frame, sealed with its CRC. length overrides the length field
    (for malformed test frames); by default it is 40 + len(body)."""
    if length is None:
        length = HDR_SIZE + len(body)
    hdr = HDR.pack(MAGIC, ftype, flags, count, producer, stream, session,
                   seq, length, 0)
    return seal(hdr + body)


def build_data(producer, stream, session, seq, events, flags=0):
    events = list(events)
    if not 1 <= len(events) <= 0xFFFF:
        raise ValueError(f"{len(events)} events, expected 1-65535")
    return build_frame(TYPE_DATA, producer, stream, session, seq,
                       encode_events(events), flags=flags, count=len(events))


def build_ping(producer, stream, session):
    return build_frame(TYPE_PING, producer, stream, session, 0)


def build_ack(producer, stream, session, seq):
    return build_frame(TYPE_ACK, producer, stream, session, seq)


def build_nak(producer, stream, session, code, seq=0):
    return build_frame(TYPE_NAK, producer, stream, session, seq, count=code)


def decode(buf, check_crc=True):
    """Decodes and validates a frame's header (and for DATA its records).
    Returns a Frame or raises EvfError. Accepts every type, ACK and NAK
    included: this is the producer's side."""
    buf = bytes(buf)
    if len(buf) < HDR_SIZE:
        raise EvfError("runt", f"{len(buf)} bytes, expected at least {HDR_SIZE}")
    magic, *fields = HDR.unpack_from(buf)
    if magic != MAGIC:
        raise EvfError("magic", f"0x{magic:08x}, expected 0x{MAGIC:08x}")
    f = Frame(*fields, body=buf[HDR_SIZE:])
    if f.type not in TYPE_NAMES:
        raise EvfError("type", f"type {f.type}")
    if f.length != len(buf):
        raise EvfError("length", f"length field {f.length}, datagram {len(buf)} bytes")
    if check_crc:
        want = crc32c(buf[:CRC_OFFSET] + bytes(4) + buf[CRC_OFFSET + 4:])
        if want != f.crc:
            raise EvfError("crc", f"crc32c 0x{f.crc:08x}, computed 0x{want:08x}")
    if f.type == TYPE_DATA:
        if f.count == 0:
            raise EvfError("count", "DATA with count 0")
        decode_events(f)
    elif f.type == TYPE_PING and f.count != 0:
        raise EvfError("count", f"PING with count {f.count}")
    if f.producer == 0:
        raise EvfError("producer", "producer_id 0")
    if f.session == 0:
        raise EvfError("session", "session 0")
    return f


def decode_events(f):
    """The events of a DATA Frame, checking that its records fill it."""
    body, off, out = f.body, 0, []
    for i in range(f.count):
        if off + REC_SIZE > len(body):
            raise EvfError("records", f"record {i} starts past the frame")
        size, key_size, attrs, ts_ns = REC.unpack_from(body, off)
        end = off + REC_SIZE + _align8(size)
        if end > len(body):
            raise EvfError("records", f"record {i} ends past the frame")
        if key_size > size:
            raise EvfError("key_size", f"record {i}: key_size {key_size} > size {size}")
        if attrs != 0:
            raise EvfError("attrs", f"record {i}: attrs {attrs}")
        data = body[off + REC_SIZE:off + REC_SIZE + size]
        out.append(Event(data[:key_size], data[key_size:], ts_ns))
        off = end
    if off != len(body):
        raise EvfError("records", f"{len(body) - off} bytes after the last record")
    return out


def describe(f):
    """One line for a decoded frame."""
    what = TYPE_NAMES.get(f.type, str(f.type))
    extra = ""
    if f.type == TYPE_NAK:
        what += " " + NAK_NAMES.get(f.count, f"code {f.count}").upper()
    elif f.type == TYPE_DATA:
        extra = f" count={f.count} flags=0x{f.flags:02x}"
    return (f"{what} producer={f.producer} stream={f.stream} "
            f"session={f.session} seq={f.seq}{extra}")


# ---- the producer ----------------------------------------------------------

class SendResult:
    """What Producer.send_events() did; line() is the CLI's summary."""

    def __init__(self, events, seq_start):
        self.events = events
        self.seq_start = seq_start
        self.frames = 0          # DATA frames sent, retransmissions included
        self.retransmitted = 0   # of those, frames sent again
        self.acks = 0            # ACKs received
        self.acked_seq = seq_start
        self.naks = {code: 0 for code in NAK_NAMES}
        self.stray = 0           # replies for someone else, or undecodable
        self.timeouts = 0
        self.elapsed = 0.0
        self.ok = False
        self.error = ""

    def line(self):
        naks = ",".join(f"{NAK_NAMES[c]}:{n}" for c, n in sorted(self.naks.items()))
        rate = self.events / self.elapsed if self.elapsed > 0 else 0.0
        s = (f"{'ok' if self.ok else 'FAILED'} frames={self.frames} "
             f"retransmitted={self.retransmitted} events={self.events} "
             f"acks={self.acks} acked_seq={self.acked_seq} naks={naks} "
             f"timeouts={self.timeouts} elapsed={self.elapsed:.3f}s "
             f"rate={rate:.0f}/s")
        if self.error:
            s += f" error={self.error!r}"
        return s


class Producer:
    """One producer's (producer, stream, session) over a connected UDP
    socket. Keeps every unacknowledged event and resends from the
    acknowledged seq on NAK GAP or after `timeout` seconds without
    progress, at most `retries` times in a row."""

    def __init__(self, to, port=DEFAULT_PORT, producer=1, stream=1,
                 session=None, timeout=1.0, retries=5, window=32, sock=None):
        if session is None:
            session = time.time_ns() // 1000  # rises across runs
        self.to = (to, port)
        self.producer, self.stream, self.session = producer, stream, session
        self.timeout, self.retries, self.window = timeout, retries, window
        self.skipped = 0  # datagrams received that were not our replies
        self.sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.connect(self.to)

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send_raw(self, frame):
        self.sock.send(frame)

    def recv(self, timeout):
        """The next reply for this (producer, stream, session) within
        timeout seconds, as a Frame, or None. Other datagrams are skipped
        and counted in self.skipped."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                buf = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionRefusedError:
                # ICMP port unreachable: a kernel, not an appliance, answered.
                raise ConnectionRefusedError(
                    f"{self.to[0]}:{self.to[1]} answered ICMP port unreachable")
            try:
                f = decode(buf)
            except EvfError:
                self.skipped += 1
                continue
            if (f.producer, f.stream, f.session) != (self.producer, self.stream, self.session):
                self.skipped += 1
                continue
            return f

    def request(self, frame, timeout=None):
        """Sends one frame and returns the first reply to it, or None."""
        self.send_raw(frame)
        return self.recv(self.timeout if timeout is None else timeout)

    def ping(self, timeout=None):
        return self.request(build_ping(self.producer, self.stream, self.session), timeout)

    def data(self, seq, events, flags=0):
        return build_data(self.producer, self.stream, self.session, seq, events, flags)

    def send_events(self, events, seq_start=0, batch=16, ack_now=False):
        """Sends events as DATA frames of up to `batch` events with seqs
        from seq_start, keeping at most `window` frames unacknowledged,
        until an ACK covers them all. Returns a SendResult."""
        events = list(events)
        end = seq_start + len(events)
        res = SendResult(len(events), seq_start)
        flags = FLAG_ACK_NOW if ack_now else 0
        cache = {}

        def frame_at(s):
            if s not in cache:
                n = min(batch, end - s)
                cache[s] = (build_data(self.producer, self.stream, self.session, s,
                                       events[s - seq_start:s - seq_start + n], flags), n)
            return cache[s]

        t0 = time.monotonic()
        acked = next_send = high = seq_start
        progress_at = t0
        gap_seq, gap_until = None, 0.0
        backoff = 0.01
        window_events = max(1, self.window) * batch
        try:
            while acked < end:
                while next_send < end and next_send - acked < window_events:
                    frame, n = frame_at(next_send)
                    if len(frame) > MAX_FRAME:
                        res.error = (f"frame of {len(frame)} bytes exceeds {MAX_FRAME}:"
                                     " use a smaller --batch or --value-size")
                        return res
                    self.send_raw(frame)
                    res.frames += 1
                    if next_send < high:
                        res.retransmitted += 1
                    next_send += n
                    high = max(high, next_send)
                now = time.monotonic()
                f = self.recv(progress_at + self.timeout - now)
                now = time.monotonic()
                if f is None:
                    res.timeouts += 1
                    if res.timeouts > self.retries and now - progress_at >= self.timeout:
                        res.error = (f"no ACK past seq {acked} after {self.retries}"
                                     " retransmissions")
                        return res
                    next_send = acked  # go back and resend what is unacknowledged
                    progress_at = now
                    continue
                if f.type == TYPE_ACK:
                    res.acks += 1
                    if f.seq > end:
                        res.error = f"ACK seq {f.seq} is beyond the last event sent ({end})"
                        return res
                    if f.seq > acked:
                        acked = f.seq
                        progress_at = now
                        res.timeouts = 0
                        backoff = 0.01
                        next_send = max(next_send, acked)
                elif f.type == TYPE_NAK:
                    res.naks[f.count] = res.naks.get(f.count, 0) + 1
                    if f.count == NAK_GAP:
                        if f.seq < seq_start or f.seq > end:
                            res.error = (f"NAK GAP asks for seq {f.seq}, outside the"
                                         f" events held ({seq_start}-{end})")
                            return res
                        # Frames in flight behind the gap all get the same NAK:
                        # go back once per seq and round trip, not once per NAK.
                        if f.seq != gap_seq or now >= gap_until:
                            gap_seq, gap_until = f.seq, now + self.timeout
                            next_send = f.seq
                    elif f.count in (NAK_BUSY, NAK_STORAGE):
                        time.sleep(backoff)
                        backoff = min(backoff * 2, 0.5)
                        next_send = acked
                    else:
                        res.error = f"NAK {NAK_NAMES.get(f.count, f.count)} (seq {f.seq})"
                        return res
                else:
                    res.stray += 1
            res.ok = True
            return res
        except OSError as e:
            res.error = str(e)
            return res
        finally:
            res.acked_seq = acked
            res.elapsed = time.monotonic() - t0


def make_events(n, seq_start=0, value_size=32):
    """n events with keys k<seq> and value_size-byte values."""
    now = time.time_ns()
    pad = b"v" * value_size
    return [Event(b"k%d" % (seq_start + i), pad, now) for i in range(n)]


# ---- junk: malformed datagrams, one rule broken each -----------------------

def junk_frames(producer=1, stream=1, session=1):
    """(name, datagram) pairs that the appliance must drop without a reply.
    Names follow the protocol's validation rules (and evgate's evf_<name>
    counters)."""
    good = build_data(producer, stream, session, 0, [Event(b"k", b"junk", 0)])
    bad_magic = bytearray(good)
    bad_magic[0:4] = b"XVF1"
    bad_crc = bytearray(good)
    bad_crc[CRC_OFFSET] ^= 0xFF
    bad_length = build_frame(TYPE_DATA, producer, stream, session, 0,
                             encode_events([Event(b"k", b"junk", 0)]),
                             count=1, length=len(good) + 8)
    return [
        ("magic", seal(bad_magic)),
        ("crc", bytes(bad_crc)),
        ("runt", good[:HDR_SIZE - 1]),
        ("direction", build_ack(producer, stream, session, 1)),
        ("direction", build_nak(producer, stream, session, NAK_GAP, 0)),
        ("length", bad_length),
        ("type", build_frame(9, producer, stream, session, 0)),
        ("producer", build_ping(0, stream, session)),
        ("session", build_ping(producer, stream, 0)),
        ("count", build_frame(TYPE_DATA, producer, stream, session, 0)),
    ]


# ---- self-test -------------------------------------------------------------

VECTOR_DATA = bytes.fromhex(
    "4556463101000200070000002a000000efcdab896745230100000000000000005800000056ed090f"
    "070000000200000000002a36fe9c97176b3168656c6c6f0008000000000000000000000000000000"
    "776f726c64212121")
VECTOR_ACK = bytes.fromhex(
    "4556463102000000070000002a000000efcdab89674523010200000000000000280000006c01d39d")


def selftest():
    """Checks the codec against the protocol's vectors; raises on failure."""
    assert crc32c(b"123456789") == 0xE3069283, hex(crc32c(b"123456789"))
    evs = [Event(b"k1", b"hello", 1700000000000000000), Event(b"", b"world!!!", 0)]
    got = build_data(7, 42, 0x0123456789ABCDEF, 0, evs)
    assert got == VECTOR_DATA, got.hex()
    assert build_ack(7, 42, 0x0123456789ABCDEF, 2) == VECTOR_ACK
    f = decode(VECTOR_DATA)
    assert (f.type, f.count, f.producer, f.stream, f.seq) == (TYPE_DATA, 2, 7, 42, 0)
    assert decode_events(f) == evs
    a = decode(VECTOR_ACK)
    assert (a.type, a.seq, a.session) == (TYPE_ACK, 2, 0x0123456789ABCDEF)
    for name, frame in junk_frames():
        try:
            f = decode(frame)
        except EvfError as e:
            assert e.reason == name or name == "direction", (name, e.reason)
        else:
            assert name == "direction" and f.type in (TYPE_ACK, TYPE_NAK), name
    return True


# ---- command line ----------------------------------------------------------

def _common(p):
    p.add_argument("--to", default="10.74.0.2", help="appliance address [%(default)s]")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="UDP port [%(default)s]")
    p.add_argument("--producer", type=int, default=7, help="producer_id [%(default)s]")
    p.add_argument("--stream", type=int, default=1, help="stream_id [%(default)s]")
    p.add_argument("--session", type=int, default=None,
                   help="session (non-zero) [microseconds since the epoch]")
    p.add_argument("--timeout", type=float, default=1.0,
                   help="seconds to wait for a reply [%(default)s]")


def cmd_send(a):
    with Producer(a.to, a.port, a.producer, a.stream, a.session,
                  timeout=a.timeout, retries=a.retries, window=a.window) as p:
        evs = make_events(a.events, a.seq, a.value_size)
        r = p.send_events(evs, seq_start=a.seq, batch=a.batch, ack_now=a.ack_now)
    print(f"evf send: session={p.session} {r.line()}", flush=True)
    return 0 if r.ok else 1


def cmd_ping(a):
    with Producer(a.to, a.port, a.producer, a.stream, a.session, timeout=a.timeout) as p:
        for _ in range(max(1, a.count)):
            t0 = time.monotonic()
            try:
                f = p.ping()
            except ConnectionRefusedError as e:
                print(f"evf ping: {e}", flush=True)
                return 1
            if f is None:
                print(f"evf ping: no reply from {a.to}:{a.port} within {a.timeout}s",
                      flush=True)
                return 1
            rtt = (time.monotonic() - t0) * 1e6
            print(f"evf ping: {describe(f)} rtt={rtt:.0f}us", flush=True)
            if f.type != TYPE_ACK:
                return 1
    return 0


def cmd_junk(a):
    frames = junk_frames(a.producer, a.stream, a.session or 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.connect((a.to, a.port))
    sent = collections.Counter()
    for i in range(a.count):
        name, frame = frames[i % len(frames)]
        sock.send(frame)
        sent[name] += 1
    replies = []
    deadline = time.monotonic() + a.timeout
    while len(replies) < 100:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            buf = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionRefusedError:
            replies.append("ICMP port unreachable")
            continue
        try:
            replies.append(describe(decode(buf)))
        except EvfError as e:
            replies.append(f"undecodable ({e})")
    sock.close()
    kinds = ",".join(f"{k}:{n}" for k, n in sorted(sent.items()))
    print(f"evf junk: sent={a.count} ({kinds}) replies={len(replies)}"
          f" waited={a.timeout}s", flush=True)
    for r in replies[:10]:
        print(f"evf junk: unexpected reply: {r}", flush=True)
    return 0 if not replies else 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="evf.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("send", help="send events and wait until all are ACKed")
    _common(p)
    p.add_argument("--events", type=int, default=1000, help="events to send [%(default)s]")
    p.add_argument("--batch", type=int, default=16, help="events per frame [%(default)s]")
    p.add_argument("--seq", type=int, default=0, help="seq of the first event [%(default)s]")
    p.add_argument("--value-size", type=int, default=32, help="bytes per value [%(default)s]")
    p.add_argument("--window", type=int, default=32,
                   help="frames in flight before waiting for ACKs [%(default)s]")
    p.add_argument("--retries", type=int, default=5,
                   help="timeouts in a row before giving up [%(default)s]")
    p.add_argument("--ack-now", action="store_true", help="set ACK_NOW on every frame")
    p = sub.add_parser("ping", help="send a PING and print the ACK")
    _common(p)
    p.add_argument("--count", type=int, default=1, help="PINGs to send [%(default)s]")
    p = sub.add_parser("junk", help="send malformed datagrams; fail on any reply")
    _common(p)
    p.add_argument("--count", type=int, default=10, help="datagrams to send [%(default)s]")
    sub.add_parser("selftest", help="check the codec against the protocol's vectors")
    a = ap.parse_args(argv)

    if a.cmd == "selftest":
        selftest()
        print("evf selftest: ok (crc32c, DATA and ACK vectors, junk frames)")
        return 0
    if a.session is not None and a.session <= 0:
        ap.error("--session must be a positive integer")
    if a.cmd == "send":
        if a.events < 1 or not 1 <= a.batch <= 0xFFFF:
            ap.error("--events must be >= 1 and --batch 1-65535")
        return cmd_send(a)
    if a.cmd == "ping":
        return cmd_ping(a)
    return cmd_junk(a)


if __name__ == "__main__":
    sys.exit(main())
