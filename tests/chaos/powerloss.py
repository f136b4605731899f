"""What a power loss can do to the tail of a log that evgate wrote at ACK
level synced, simulated on a stopped evgate's log directory.

A power loss keeps every synced byte and may lose or garble any write that
was not synced. At level synced nothing was acknowledged before its batch
was synced, so only batches that hold no acknowledged event, and bytes
past the last batch, may be damaged. The modes (docs/reliability.md):

- garbage: random bytes (1 B to 8 KiB) written at the valid end of the
  last segment: a write of a batch that never completed;
- torn:    the first part of the last batch copied to the valid end: a
  batch header whose length runs past the end of the file, or whose CRC
  does not match;
- cut:     the last batch removed (file truncated at its start) when none
  of its records was acknowledged: the unsynced batch never reached the
  disk; falls back to garbage when an acknowledged record is in it;
- zero:    like cut, but the batch's second half is zeroed instead (a
  partly written batch whose CRC fails), file size unchanged.

The batch walk follows docs/storage.md: 64-byte headers at 4096-byte
boundaries, a zero magic is padding.
"""

import os
import struct

BATCH = struct.Struct("<IHHIIQQQQIQI")   # 64 bytes
REC = struct.Struct("<IHHQIIQQQQQ")      # 64 bytes
BATCH_MAGIC = 0x31425645
ALIGN = 4096
MODES = ("garbage", "torn", "cut", "zero")


def _up(n):
    return (n + ALIGN - 1) // ALIGN * ALIGN


def batches(data):
    """[(start, length, [(producer, stream, session, seq)])] of the valid
    batches from the start of a segment's bytes, up to the first invalid
    one (CRC not checked: evgate's recovery does that)."""
    out, pos = [], 0
    while pos + BATCH.size <= len(data):
        h = BATCH.unpack_from(data, pos)
        magic, hlen, length, count = h[0], h[1], h[3], h[4]
        if magic == 0:
            pos = _up(pos + 1)
            continue
        if (magic != BATCH_MAGIC or hlen != 64 or length < 64 or
                pos + length > len(data)):
            break
        recs, off = [], pos + 64
        for _ in range(count):
            r = REC.unpack_from(data, off)
            recs.append((r[4], r[5], r[6], r[7]))
            off += 64 + ((r[0] + 7) & ~7)
        out.append((pos, length, recs))
        pos = _up(pos + length)
    return out


def last_segment(logdir):
    """The path of the newest .seg of the partition whose newest segment
    is the largest (most likely the last written), or None."""
    best = None
    for part in sorted(os.listdir(logdir)):
        pdir = os.path.join(logdir, part)
        if not (part.startswith("p") and os.path.isdir(pdir)):
            continue
        segs = sorted(s for s in os.listdir(pdir) if s.endswith(".seg"))
        if not segs:
            continue
        path = os.path.join(pdir, segs[-1])
        size = os.path.getsize(path)
        if best is None or size > best[0]:
            best = (size, path)
    return best[1] if best else None


def _acked(rec, truth):
    return rec[3] < truth.get(rec[:3], 0)


def simulate(logdir, truth, rng):
    """Damages the tail of one last segment as a power loss could; returns
    (mode, one line saying what was done)."""
    path = last_segment(logdir)
    if path is None:
        return "none", "no segment"
    with open(path, "rb") as f:
        data = f.read()
    bs = batches(data)
    end = _up(bs[-1][0] + bs[-1][1]) if bs else 0
    mode = rng.choice(MODES)
    last = bs[-1] if bs else None
    if mode in ("cut", "zero") and (
            last is None or any(_acked(r, truth) for r in last[2])):
        mode = "garbage"
    name = os.path.relpath(path, logdir)
    with open(path, "r+b") as f:
        if mode == "garbage":
            n = rng.randint(1, 8192)
            f.seek(end)
            f.write(bytes(rng.getrandbits(8) for _ in range(n)))
            return mode, f"{name}: {n} random bytes at {end}"
        if mode == "torn":
            if last is None:
                return "none", f"{name}: no batch to tear"
            n = rng.randint(8, max(8, last[1] - 8))
            f.seek(end)
            f.write(data[last[0]:last[0] + n])
            return mode, f"{name}: first {n} of {last[1]} bytes of the " \
                         f"last batch copied to {end}"
        start, length = last[0], last[1]
        if mode == "cut":
            f.truncate(start)
            return mode, f"{name}: unacknowledged last batch of " \
                         f"{len(last[2])} records cut at {start}"
        half = length // 2
        f.seek(start + half)
        f.write(bytes(length - half))
        return mode, f"{name}: second half of the unacknowledged last " \
                     f"batch ({len(last[2])} records) zeroed at {start}"
