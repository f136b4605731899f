#!/usr/bin/env python3
"""evtail, the journal reader, on logs that journal_writer writes through
the psync store. Speaks TAP to meson.

    test_evtail.py EVTAIL_BINARY JOURNAL_WRITER_BINARY

journal_writer appends a deterministic pattern (tests/integration/
journal_writer.c; expected() below is the same pattern): event i has
producer 1 + i % 3, stream (i / 3) % 4, seq 1 + i / 12, ts_ns and
ingest_ns TS0 + i ms, and keys and values of every kind evtail prints
differently (empty, ASCII, UTF-8, binary, longer than 64 bytes).

One log of BASE_EVENTS events in two partitions of several 64 KiB
segments is written once and only read; the cases that change a log
(follow, corruption, torn tail) work on copies. Every process is bounded
by a timeout and killed by PID past it; the temporary directory is
removed at the end.
"""

import base64
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from taputil import (Fail, Interrupted, ProcSet, Tap, check,  # noqa: E402
                     run_case, signals_raise)

PRODUCERS = 3
STREAMS = 4
PARTITIONS = 2
BASE_EVENTS = 3000
SEGMENT_BYTES = 65536
TS0 = 1795428000 * 10**9  # 2026-11-23T10:00:00Z
TS_STEP = 10**6

RUN_TIMEOUT = 30.0     # a run that reads what is there and exits
FOLLOW_TIMEOUT = 30.0  # for a follower to print what it should
EXIT_TIMEOUT = 5.0     # after SIGINT/SIGTERM


# ---- the pattern -----------------------------------------------------------

def expected(i, session=1):
    """Event i as journal_writer appends it: the fields of evtail --json
    but partition and offset."""
    if i % 11 == 0:
        value = b""
    elif i % 7 == 3:
        value = bytes((i * 31 + k) & 0xff for k in range(1 + i % 97))
    elif i % 7 == 5:
        value = f"\u00e9v\u00e9nement {i} \u2713".encode()
    else:
        value = f"value {i} {'x' * (i % 80)}".encode()
    stream = (i // PRODUCERS) % STREAMS
    return {
        "stream": stream,
        "producer": 1 + i % PRODUCERS,
        "session": session,
        "seq": 1 + i // (PRODUCERS * STREAMS),
        "ts_ns": TS0 + i * TS_STEP,
        "ingest_ns": TS0 + i * TS_STEP,
        "key": b"" if i % 13 == 0 else f"key-{i:06d}".encode(),
        "value": value,
    }


def event_index(rec):
    """The i of a record, from producer, stream and seq."""
    return ((rec["seq"] - 1) * PRODUCERS * STREAMS +
            rec["stream"] * PRODUCERS + rec["producer"] - 1)


def parse_json_lines(lines):
    recs = []
    for n, line in enumerate(lines, 1):
        try:
            rec = json.loads(line)
            rec["key"] = base64.b64decode(rec.pop("key_b64"), validate=True)
            rec["value"] = base64.b64decode(rec.pop("value_b64"),
                                            validate=True)
        except (ValueError, KeyError) as e:
            raise Fail(f"line {n} is not a record: {e}: {line!r}")
        recs.append(rec)
    return recs


def check_records(recs, indexes, what):
    """recs are exactly the events of indexes, in the log's order: by
    partition (stream % 2) and, within one, in the order of i."""
    want = sorted(indexes, key=lambda i: (
        ((i // PRODUCERS) % STREAMS) % PARTITIONS, i))
    got = [event_index(r) for r in recs]
    check(len(got) == len(want),
          f"{what}: {len(got)} records, expected {len(want)}")
    for n, (r, i) in enumerate(zip(recs, want)):
        check(event_index(r) == i,
              f"{what}: record {n} is event {event_index(r)}, expected {i}")
        exp = expected(i)
        for k, v in exp.items():
            check(r[k] == v, f"{what}: event {i}: {k} {r[k]!r}, "
                             f"expected {v!r}")
        check(r["partition"] == exp["stream"] % PARTITIONS,
              f"{what}: event {i} in partition {r['partition']}")


# ---- processes -------------------------------------------------------------

class Case:
    """One TAP test point; the context for what it runs."""

    def __init__(self, env):
        self.env = env
        self.runs = []

    def start(self, cmd):
        p = self.env.procs.start(cmd)
        self.runs.append(p)
        return p

    def run(self, cmd, timeout=RUN_TIMEOUT):
        p = self.start(cmd)
        if p.wait(timeout) is None:
            p.kill()
            raise Fail(f"still running after {timeout:g}s; killed")
        return p

    def evtail(self, *args):
        return self.run([self.env.evtail] + [str(a) for a in args])

    def evtail_ok(self, *args):
        p = self.evtail(*args)
        check(p.rc == 0, f"exit status {p.rc}, expected 0")
        check(not p.err, f"stderr: {p.err[:3]}")
        return p

    def json(self, *args):
        return parse_json_lines(self.evtail_ok("--json", *args).out)

    def write(self, log, start, events):
        p = self.run([self.env.writer, log, "--partitions", str(PARTITIONS),
                      "--producers", str(PRODUCERS), "--streams",
                      str(STREAMS), "--events", str(events), "--start",
                      str(start), "--segment-bytes", str(SEGMENT_BYTES)])
        check(p.rc == 0, f"journal_writer exit status {p.rc}: {p.err[:3]}")

    def copy(self, name):
        dst = os.path.join(self.env.tmp, name)
        shutil.copytree(self.env.base, dst)
        return dst


class Env:
    def __init__(self, evtail, writer, tmp, procs):
        self.evtail = evtail
        self.procs = procs  # every process started, for the final check
        self.writer = writer
        self.tmp = tmp
        self.base = os.path.join(tmp, "base")
        self.full = None  # --json of base, parsed


def segments(log, partition):
    """The segment files of a partition, oldest first."""
    d = os.path.join(log, f"p{partition:04d}")
    return sorted(os.path.join(d, f) for f in os.listdir(d)
                  if f.endswith(".seg"))


def find_in(path, data):
    with open(path, "rb") as f:
        return f.read().find(data)


# ---- the cases -------------------------------------------------------------

def t_write_base(c):
    os.mkdir(c.env.base)
    c.write(c.env.base, 0, BASE_EVENTS)
    c.env.full = c.json(c.env.base)
    for p in range(PARTITIONS):
        n = len(segments(c.env.base, p))
        check(n >= 2, f"partition {p} has {n} segment(s); the cases need 2+")


def t_json_round_trip(c):
    recs = c.env.full
    check_records(recs, range(BASE_EVENTS), "--json")
    for p in range(PARTITIONS):
        offs = [r["offset"] for r in recs if r["partition"] == p]
        check(offs == list(range(offs[0], offs[0] + len(offs))),
              f"partition {p}: offsets not consecutive")
    last = {}
    for r in recs:
        k = (r["producer"], r["stream"])
        check(r["seq"] > last.get(k, 0), f"{k}: seq {r['seq']} out of order")
        last[k] = r["seq"]
    return f"{len(recs)} records"


def line_of(lines, key):
    found = [l for l in lines if f' key="{key}" ' in l]
    check(len(found) == 1, f"{len(found)} lines with key {key}")
    return found[0]


def t_human(c):
    out = c.evtail_ok(c.env.base).out
    check(len(out) == BASE_EVENTS, f"{len(out)} lines")
    # i = 5: UTF-8 value; i = 17: binary; i = 94: binary past 64 bytes;
    # i = 79: ASCII past 64 bytes; i = 13: empty key; i = 22: empty value.
    line = line_of(out, "key-000005")
    check(re.match(r"^\d+/\d+ stream=1 producer=3 session=1 seq=1 "
                   r"ts=2026-11-23T10:00:00\.005000000Z key=", line),
          f"fields: {line!r}")
    check(line.endswith(' value="\u00e9v\u00e9nement 5 \u2713"'), line)
    v17 = bytes((17 * 31 + k) & 0xff for k in range(18)).hex()
    check(line_of(out, "key-000017").endswith(f" value=0x{v17}"),
          "binary value not hex")
    # i = 3: bytes 0x5d..0x60, all printable: shown as text.
    check(line_of(out, "key-000003").endswith(' value="]^_`"'),
          "printable bytes not shown as text")
    v94 = bytes((94 * 31 + k) & 0xff for k in range(64)).hex()
    check(line_of(out, "key-000094").endswith(f" value=0x{v94}..."),
          "long binary value not cut at 64 bytes")
    v79 = f"value 79 {'x' * 79}"[:64]
    check(line_of(out, "key-000079").endswith(f' value="{v79}"...'),
          "long text value not cut at 64 bytes")
    check(any(' stream=0 producer=2 session=1 seq=2 ' in l and
              ' key="" ' in l for l in out), "empty key (event 13)")
    check(line_of(out, "key-000022").endswith(' value=""'), "empty value")


def t_partition(c):
    for p in range(PARTITIONS):
        recs = c.json("--partition", p, c.env.base)
        want = [r for r in c.env.full if r["partition"] == p]
        check(recs == want, f"--partition {p}: {len(recs)} records, "
                            f"expected {len(want)}")


def t_stream_producer(c):
    full = c.env.full
    for args, keep in (
            (["--stream", 2], lambda r: r["stream"] == 2),
            (["--producer", 3], lambda r: r["producer"] == 3),
            (["--producer", 2, "--stream", 1],
             lambda r: r["producer"] == 2 and r["stream"] == 1),
            (["--partition", 0, "--stream", 1], lambda r: False)):
        recs = c.json(*args, c.env.base)
        want = [r for r in full if keep(r)]
        check(recs == want, f"{args}: {len(recs)} records, expected "
                            f"{len(want)}")


def t_count(c):
    recs = c.json("--count", 10, c.env.base)
    check(recs == c.env.full[:10], f"--count 10: {len(recs)} records")
    recs = c.json("--count", 5, "--stream", 3, c.env.base)
    want = [r for r in c.env.full if r["stream"] == 3][:5]
    check(recs == want, "--count 5 --stream 3")


def t_from_offset(c):
    p1 = [r for r in c.env.full if r["partition"] == 1]
    mid = p1[len(p1) // 2]["offset"]
    recs = c.json("--partition", 1, "--from", mid, c.env.base)
    want = [r for r in p1 if r["offset"] >= mid]
    check(recs == want, f"--from {mid}: {len(recs)} records, expected "
                        f"{len(want)}")


def t_from_end(c):
    out = c.evtail_ok("--from-end", c.env.base).out
    check(not out, f"{len(out)} lines after --from-end")


def t_from_time(c):
    i0 = 1500
    for t in ("2026-11-23T10:00:01.5Z", str(TS0 + i0 * TS_STEP)):
        recs = c.json("--from-time", t, c.env.base)
        want = [r for r in c.env.full if r["ts_ns"] >= TS0 + i0 * TS_STEP]
        check(recs == want, f"--from-time {t}: {len(recs)} records, "
                            f"expected {len(want)}")


def follower(c, log, args, n_before, start, events):
    """evtail --follow on log: n_before lines, then journal_writer adds
    events from start; all must show up; SIGTERM ends it with 0."""
    f = c.start([c.env.evtail, "--follow", "--json"] + args + [log])
    if n_before:
        check(f.wait_lines(n_before, FOLLOW_TIMEOUT),
              f"{len(f.out)} lines before appending, expected {n_before}")
    else:
        time.sleep(1.0)  # let it reach the end before anything is added
    check(f.proc.poll() is None, "the follower exited")
    c.write(log, start, events)
    ok = f.wait_lines(n_before + events, FOLLOW_TIMEOUT)
    check(ok, f"{len(f.out) - n_before} new records, expected {events}")
    f.signal(signal.SIGTERM)
    if f.wait(EXIT_TIMEOUT) is None:
        f.kill()
        raise Fail(f"still running {EXIT_TIMEOUT:g}s after SIGTERM")
    check(f.rc == 0, f"exit status {f.rc} after SIGTERM")
    check(len(f.out) == n_before + events,
          f"{len(f.out)} lines, expected {n_before + events}")
    return parse_json_lines(f.out[n_before:])


def sorted_by_event(recs):
    return sorted(recs, key=event_index)


def t_follow(c):
    log = c.copy("follow")
    new = follower(c, log, [], BASE_EVENTS, BASE_EVENTS, 600)
    # Round-robin: the partitions interleave; each keeps its order.
    for p in range(PARTITIONS):
        got = [event_index(r) for r in new if r["partition"] == p]
        check(got == sorted(got), f"partition {p} out of order")
    check_records(sorted(new, key=lambda r: (r["partition"],
                                             event_index(r))),
                  range(BASE_EVENTS, BASE_EVENTS + 600), "followed")


def t_follow_from_end(c):
    log = c.copy("follow-end")
    new = follower(c, log, ["--from-end"], 0, BASE_EVENTS, 300)
    check_records(sorted(new, key=lambda r: (r["partition"],
                                             event_index(r))),
                  range(BASE_EVENTS, BASE_EVENTS + 300), "followed")


def t_follow_sigint_idle(c):
    f = c.start([c.env.evtail, "--follow", "--from-end", c.env.base])
    time.sleep(0.3)
    f.signal(signal.SIGINT)
    if f.wait(EXIT_TIMEOUT) is None:
        f.kill()
        raise Fail(f"still running {EXIT_TIMEOUT:g}s after SIGINT")
    check(f.rc == 0 and not f.out and not f.err,
          f"exit status {f.rc}, {len(f.out)} + {len(f.err)} lines")


SUMMARY = re.compile(r"partitions (\d+), .*records (\d+), producers (\d+)"
                     r".*problems (\d+)$")


def summary(p):
    m = SUMMARY.search(p.out[-1]) if p.out else None
    check(m, f"no summary line: {p.out[-1:]}")
    return tuple(int(x) for x in m.groups())


COUNTS = re.compile(r", segments (\d+), batches (\d+), records (\d+), .*"
                    r"corrupt batches (\d+), sequence errors (\d+)")
PART_LINE = re.compile(r": partition (\d+): segments (\d+), batches (\d+), "
                       r"records (\d+), corrupt batches (\d+), "
                       r"sequence errors (\d+), torn tail (yes|no)$")


def counts(p):
    """(segments, batches, records, corrupt, seq errors) of the summary."""
    m = COUNTS.search(p.out[-1]) if p.out else None
    check(m, f"no counts in the summary: {p.out[-1:]}")
    return tuple(int(x) for x in m.groups())


def part_lines(p):
    """{partition: (segments, batches, records, corrupt, seq, torn)}."""
    got = {}
    for line in p.out:
        m = PART_LINE.search(line)
        if m:
            g = m.groups()
            got[int(g[0])] = tuple(int(x) for x in g[1:6]) + (g[6],)
    return got


def batches_in(seg):
    """Batches in a segment file, by their headers: magic "EVB1", the
    length at byte 8; zero blocks are padding (docs/storage.md)."""
    n = pos = 0
    with open(seg, "rb") as f:
        data = f.read()
    while pos + 64 <= len(data):
        magic = data[pos:pos + 4]
        if magic == b"\0\0\0\0":
            pos = (pos // 4096 + 1) * 4096
            continue
        check(magic == b"EVB1", f"{seg}: no batch at byte {pos}")
        n += 1
        pos += int.from_bytes(data[pos + 8:pos + 12], "little")
    return n


def t_verify_clean(c):
    p = c.evtail_ok("--verify", c.env.base)
    got = summary(p)
    check(got == (PARTITIONS, BASE_EVENTS, PRODUCERS, 0),
          f"summary {p.out[-1]!r}")
    check(len(p.out) == PARTITIONS + 1,
          f"{len(p.out)} lines, expected one a partition and the summary")
    parts = part_lines(p)
    check(sorted(parts) == list(range(PARTITIONS)), f"partition lines {parts}")
    segs = bats = 0
    for n in range(PARTITIONS):
        files = segments(c.env.base, n)
        b = sum(batches_in(f) for f in files)
        recs = len([r for r in c.env.full if r["partition"] == n])
        check(parts[n] == (len(files), b, recs, 0, 0, "no"),
              f"partition {n}: {parts[n]}, expected {len(files)} "
              f"segments, {b} batches, {recs} records, clean")
        segs += len(files)
        bats += b
    check(counts(p) == (segs, bats, BASE_EVENTS, 0, 0),
          f"summary counts {counts(p)}, expected {segs} segments, "
          f"{bats} batches")
    check("sessions 12," in p.out[-1], f"sessions: {p.out[-1]!r}")
    return p.out[-1]


def t_verify_corrupt(c):
    log = c.copy("corrupt")
    # A record half-way through a middle segment: neither the tail nor
    # that segment's first batch, so the offset named means something,
    # and a later segment follows that verify must still read.
    segs = segments(log, 0)
    check(len(segs) >= 3, f"partition 0 has {len(segs)} segments, need 3")
    seg, seg2 = segs[1], segs[2]
    base = int(os.path.basename(seg)[:20])
    end = int(os.path.basename(seg2)[:20])
    rec = next(r for r in c.env.full if r["partition"] == 0 and r["key"]
               and r["offset"] >= (base + end) // 2)
    pos = find_in(seg, rec["key"])
    check(pos > 0, f"key {rec['key']!r} not in {seg}")
    with open(seg, "r+b") as f:
        f.seek(pos + 2)
        b = f.read(1)
        f.seek(pos + 2)
        f.write(bytes([b[0] ^ 0x55]))
    p = c.evtail("--verify", log)
    check(p.rc == 1, f"exit status {p.rc}, expected 1")
    bad = [l for l in p.out if "partition 0" in l and "corrupt" in l and
           "segments" not in l]
    check(len(bad) == 1, f"{len(bad)} lines name partition 0 and "
                         f"corruption: {p.out[:3]}")
    name = f"p0000/{os.path.basename(seg)}"
    m = re.search(r"offset (\d+): corrupt batch .* at byte (\d+) of "
                  r"(\S+); offsets (\d+)\.\.(\d+) not read, verify goes "
                  r"on at (\S+)$", bad[0])
    check(m, f"line does not say where: {bad[0]!r}")
    at, byte = int(m.group(1)), int(m.group(2))
    check(base < at <= rec["offset"],
          f"{bad[0]!r}: not the batch of offset {rec['offset']}")
    check(m.group(3) == name, f"{bad[0]!r} does not name {name}")
    check(0 < byte <= pos and byte % 4096 == 0, f"byte {byte}, key at {pos}")
    check((int(m.group(4)), int(m.group(5))) == (at, end - 1),
          f"{bad[0]!r}: lost range, expected {at}..{end - 1}")
    check(m.group(6) == f"p0000/{os.path.basename(seg2)}",
          f"{bad[0]!r}: does not go on at {seg2}")
    segs_, bats, records, corrupt, seqerr = counts(p)
    check(records == BASE_EVENTS - (end - at),
          f"verify read {records} records, expected all but the "
          f"{end - at} after the corrupt batch in its segment")
    check((corrupt, seqerr) == (1, 0),
          f"{corrupt} corrupt batches, {seqerr} sequence errors; expected "
          f"1 and none (seqs after a skipped segment may jump)")
    check(part_lines(p)[0][0] == len(segs),
          f"partition 0 line {part_lines(p)[0]}: not every segment read")
    r = c.evtail(log)
    check(r.rc == 1, f"plain read: exit status {r.rc}, expected 1")
    check(len(r.err) == 1 and r.err[0].startswith(f"evtail: {log}: ")
          and "partition 0" in r.err[0] and "corrupt" in r.err[0]
          and f"offset {at}" in r.err[0], f"plain read: stderr {r.err}")
    check(len(r.out) == at, f"plain read: {len(r.out)} records before the "
                            f"corrupt batch, expected {at}")
    return f"{bad[0]} (flipped a byte of offset {rec['offset']})"


def write_more(c, log, start, events, *extra):
    """journal_writer with options the base pattern does not use."""
    p = c.run([c.env.writer, log, "--partitions", str(PARTITIONS),
               "--producers", str(PRODUCERS), "--streams", str(STREAMS),
               "--events", str(events), "--start", str(start),
               "--segment-bytes", str(SEGMENT_BYTES)] +
              [str(a) for a in extra])
    check(p.rc == 0, f"journal_writer exit status {p.rc}: {p.err[:3]}")


def seq_lines(p, word):
    return [l for l in p.out if word in l and "seq " in l]


def t_verify_seq_gap_and_step_back(c):
    log = c.copy("gap")
    k = PRODUCERS * STREAMS  # events of one seq, one per (producer, stream)
    write_more(c, log, BASE_EVENTS + k, k)   # seq 252 after 250
    write_more(c, log, BASE_EVENTS - 2 * k, k)  # seq 249 after 252
    p = c.evtail("--verify", log)
    check(p.rc == 1, f"exit status {p.rc}, expected 1")
    last = 1 + (BASE_EVENTS - 1) // k
    gaps = seq_lines(p, f"seq {last + 2} follows seq {last}: seqs "
                        f"{last + 1}..{last + 1} missing")
    back = seq_lines(p, f"seq {last - 1} goes back after seq {last + 2}")
    check(len(gaps) == k and len(back) == k,
          f"{len(gaps)} gap and {len(back)} step-back lines, expected {k} "
          f"each: {p.out[:2]}")
    check(counts(p)[3:] == (0, 2 * k), f"summary {p.out[-1]!r}")
    return gaps[0]


def t_verify_sessions(c):
    log = c.copy("sessions")
    k = PRODUCERS * STREAMS
    # Session 2 starts at seq 0 for every (producer, stream): clean.
    write_more(c, log, BASE_EVENTS, 10 * k, "--session", 2, "--seq-from", 0)
    p = c.evtail_ok("--verify", log)
    check(summary(p)[3] == 0 and "sessions 24," in p.out[-1],
          f"new sessions at seq 0: {p.out[-1]!r}")
    # --json: a line per (producer, stream, session) with its seq range.
    p = c.evtail_ok("--verify", "--json", log)
    lines = [json.loads(ln) for ln in p.out if ln.startswith("{")]
    check(len(lines) == 2 * k, f"{len(lines)} session lines, expected {2 * k}")
    for ln in lines:
        key = (ln["producer"], ln["stream"])
        seqs = [r["seq"] for r in c.env.full
                if (r["producer"], r["stream"]) == key]
        want = ((min(seqs), max(seqs), len(seqs)) if ln["session"] == 1
                else (0, 9, 10))
        got = (ln["first_seq"], ln["last_seq"], ln["records"])
        check(got == want, f"{key} session {ln['session']}: {got}, "
                           f"expected {want}")
    # Session 1 again (fenced), then session 3 from seq 5.
    write_more(c, log, BASE_EVENTS + 10 * k, k, "--session", 1)
    write_more(c, log, BASE_EVENTS + 11 * k, k, "--session", 3,
               "--seq-from", 5)
    p = c.evtail("--verify", log)
    check(p.rc == 1, f"exit status {p.rc}, expected 1")
    fenced = seq_lines(p, "of a session older than session 2 (fenced)")
    late = seq_lines(p, "session 3: seq 5 opens the session after session "
                        "2, expected seq 0")
    check(len(fenced) == k and len(late) == k,
          f"{len(fenced)} fenced and {len(late)} late-start lines, "
          f"expected {k} each: {p.out[:2]}")
    check(counts(p)[3:] == (0, 2 * k), f"summary {p.out[-1]!r}")
    return fenced[0]


def t_verify_duplicates(c):
    log = c.copy("dup")
    c.write(log, BASE_EVENTS - 10, 10)  # the last 10 events once more
    p = c.evtail("--verify", log)
    check(p.rc == 1, f"exit status {p.rc}, expected 1")
    dups = [l for l in p.out if "duplicates" in l]
    check(len(dups) == 10, f"{len(dups)} duplicate lines, expected 10")
    for i in range(BASE_EVENTS - 10, BASE_EVENTS):
        e = expected(i)
        part = e["stream"] % PARTITIONS
        want = (f"partition {part}, offset ", f"producer {e['producer']}, "
                f"stream {e['stream']}, session 1: seq {e['seq']} "
                f"duplicates seq {e['seq']}")
        check(any(all(w in l for w in want) for l in dups),
              f"no line says {want[1]!r}")
    check(summary(p)[3] == 10, f"summary {p.out[-1]!r}")
    return dups[0]


def t_torn_tail(c):
    log = c.copy("torn")
    seg = segments(log, 1)[-1]
    last = [r for r in c.env.full if r["partition"] == 1 and r["key"]][-1]
    pos = find_in(seg, last["key"])
    check(pos > 0, f"key {last['key']!r} not in {seg}")
    os.truncate(seg, pos + 3)
    recs = c.json(log)
    full1 = [r for r in c.env.full if r["partition"] == 1]
    got1 = [r for r in recs if r["partition"] == 1]
    check(len(got1) < len(full1), "the torn batch was read")
    check(got1 == full1[:len(got1)], "partition 1 is not a prefix")
    check([r for r in recs if r["partition"] == 0] ==
          [r for r in c.env.full if r["partition"] == 0], "partition 0")
    p = c.evtail_ok("--verify", log)
    check(summary(p)[3] == 0, f"verify: {p.out[-1]!r}")
    torn = [l for l in p.out if "partition 1" in l and "torn tail at byte"
            in l and "not corruption" in l]
    check(len(torn) == 1, f"no torn tail line: {p.out}")
    check(part_lines(p)[1][5] == "yes" and "torn tails 1," in p.out[-1],
          f"torn tail not counted: {p.out[-1]!r}")
    return f"{len(full1) - len(got1)} records of partition 1 cut"


def t_verify_crc_bad_last_batch(c):
    log = c.copy("badtail")
    seg = segments(log, 1)[-1]
    last = [r for r in c.env.full if r["partition"] == 1 and r["key"]][-1]
    pos = find_in(seg, last["key"])
    check(pos > 0, f"key {last['key']!r} not in {seg}")
    with open(seg, "r+b") as f:
        f.seek(pos + 1)
        b = f.read(1)
        f.seek(pos + 1)
        f.write(bytes([b[0] ^ 0x01]))
    r = c.evtail(log)
    check(r.rc == 0, f"plain read: exit status {r.rc}: it is the end")
    p = c.evtail("--verify", log)
    check(p.rc == 1, f"exit status {p.rc}, expected 1")
    bad = [l for l in p.out if "partition 1" in l and "corrupt batch" in l
           and "newest segment: complete but bad" in l]
    check(len(bad) == 1, f"no line names the bad last batch: {p.out}")
    check(counts(p)[3] == 1, f"summary {p.out[-1]!r}")
    return bad[0]


def expect_usage(c, args, *words):
    p = c.evtail(*args)
    check(p.rc == 2, f"{args}: exit status {p.rc}, expected 2")
    check(len(p.err) == 1 and p.err[0].startswith("evtail: "),
          f"{args}: stderr {p.err}")
    for w in words:
        check(w in p.err[0], f"{args}: {w!r} not in {p.err[0]!r}")
    check(not p.out, f"{args}: something on stdout")


def t_usage(c):
    base = c.env.base
    missing = os.path.join(c.env.tmp, "missing")
    for args, words in (
            ([], ["DIR"]),
            (["--count", "0", base], ["--count", "0"]),
            (["--count", "x", base], ["--count", "x"]),
            (["--from", "-1", base], ["--from", "-1"]),
            (["--from-time", "2026-13-01T00:00:00Z", base],
             ["--from-time", "2026-13-01"]),
            (["--from-time", "yesterday", base], ["--from-time"]),
            (["--from", "1", "--from-end", base], ["--from-end"]),
            (["--stream", "4294967296", base], ["--stream"]),
            (["--no-such-option", base], ["--no-such-option"]),
            (["-x", base], ["-x"]),
            (["--partition"], ["--partition"]),
            ([base, base], ["unexpected"]),
            (["--verify", "--follow", base], ["--verify"]),
            (["--partition", "2", base], [base, "partition 2"]),
            ([missing], [missing]),
            (["--verify", missing], [missing])):
        expect_usage(c, args, *words)


def t_help_version(c):
    p = c.evtail_ok("--help")
    text = "\n".join(p.out)
    for o in ("--partition", "--from", "--from-time", "--from-end",
              "--follow", "--stream", "--producer", "--count", "--json",
              "--verify", "--version"):
        check(o in text, f"--help does not list {o}")
    check("round-robin" in text, "--help does not say how partitions merge")
    p = c.evtail_ok("--version")
    check(len(p.out) == 1 and re.match(r"^evtail \d+\.\d+", p.out[0]),
          f"--version: {p.out}")


CASES = [
    ("journal_writer_writes_a_log_of_several_segments", t_write_base),
    ("json_round_trips_every_record_in_log_order", t_json_round_trip),
    ("human_lines_show_text_utf8_hex_and_cut_at_64_bytes", t_human),
    ("partition_reads_that_partition_only", t_partition),
    ("stream_and_producer_filters_keep_only_matching_records",
     t_stream_producer),
    ("count_stops_after_n_printed", t_count),
    ("from_offset_starts_at_that_offset", t_from_offset),
    ("from_end_prints_nothing_without_follow", t_from_end),
    ("from_time_iso_and_ns_start_at_that_time", t_from_time),
    ("follow_sees_records_a_second_writer_appends", t_follow),
    ("follow_from_end_sees_only_new_records", t_follow_from_end),
    ("follow_exits_0_on_sigint", t_follow_sigint_idle),
    ("verify_clean_log_exits_0_with_counts", t_verify_clean),
    ("verify_flipped_byte_in_middle_segment_named_later_ones_still_read",
     t_verify_corrupt),
    ("verify_duplicate_seqs_exit_1_naming_each", t_verify_duplicates),
    ("verify_seq_gap_and_step_back_exit_1_naming_each",
     t_verify_seq_gap_and_step_back),
    ("verify_new_session_at_seq_0_is_clean_fenced_or_late_start_is_not",
     t_verify_sessions),
    ("torn_tail_is_the_end_not_corruption", t_torn_tail),
    ("verify_crc_bad_last_batch_is_corruption", t_verify_crc_bad_last_batch),
    ("usage_errors_exit_2_with_one_line", t_usage),
    ("help_and_version_exit_0", t_help_version),
]


def main(argv):
    if len(argv) != 3:
        print("usage: test_evtail.py EVTAIL JOURNAL_WRITER", file=sys.stderr)
        return 2
    for prog in argv[1:]:
        if not os.access(prog, os.X_OK):
            print(f"test_evtail: {prog}: not an executable", file=sys.stderr)
            return 2
    tmp = tempfile.mkdtemp(prefix="evtail-")
    procs = ProcSet()
    env = Env(argv[1], argv[2], tmp, procs)
    tap = Tap()
    tap.plan(len(CASES) + 1)
    with signals_raise():
        try:
            for name, fn in CASES:
                if tap.n > 0 and env.full is None:
                    tap.skip(name, "no log to read")
                    continue
                run_case(tap, name, fn, Case(env), reports=10, last=3)
            left = procs.left()
            tap.result(not left, "every_process_started_has_exited",
                       f"{len(procs.started)} process(es) started")
        except Interrupted as e:
            tap.bail_out(str(e))
        finally:
            procs.kill_all()
            shutil.rmtree(tmp, ignore_errors=True)
    return tap.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
