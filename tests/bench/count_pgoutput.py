#!/usr/bin/env python3
"""Counts the messages in a pg_recvlogical output file written with the
pgoutput plugin (binary protocol, version 1, or 2 with streaming = on):
pg_recvlogical writes each
XLogData payload followed by one newline. Walks every message by its own
length, so the count is exact (payload bytes may contain newlines).

Usage: count_pgoutput.py FILE   prints "begin=N commit=N insert=N ..." and
"changes=N" (inserts + updates + deletes + truncated relations).
"""
import struct
import sys


def read_cstring(buf, pos):
    end = buf.index(b"\0", pos)
    return end + 1


def skip_tuple(buf, pos):
    (ncols,) = struct.unpack_from(">h", buf, pos)
    pos += 2
    for _ in range(ncols):
        kind = buf[pos]
        pos += 1
        if kind in (0x74, 0x62):  # 't' text, 'b' binary
            (length,) = struct.unpack_from(">i", buf, pos)
            pos += 4 + length
        elif kind not in (0x6E, 0x75):  # 'n' null, 'u' unchanged TOAST
            raise ValueError(f"bad tuple column kind {kind!r} at {pos - 1}")
    return pos


def main(path):
    with open(path, "rb") as f:
        buf = f.read()
    counts = {}
    pos = 0
    size = len(buf)
    in_stream = False  # inside Stream Start .. Stop, changes carry an xid
    while pos < size:
        start = pos
        kind = chr(buf[pos])
        pos += 1
        if in_stream and kind in "RYIUDTM":
            pos += 4
        if kind == "S":  # Stream Start: xid, first-segment flag
            pos += 4 + 1
            in_stream = True
        elif kind == "E":  # Stream Stop
            in_stream = False
        elif kind == "c":  # Stream Commit: xid, flags, LSNs, timestamp
            pos += 4 + 1 + 8 + 8 + 8
        elif kind == "A":  # Stream Abort (protocol 2): xid, subxid
            pos += 4 + 4
        elif kind == "B":
            pos += 8 + 8 + 4
        elif kind == "C":
            pos += 1 + 8 + 8 + 8
        elif kind == "O":
            pos = read_cstring(buf, pos + 8)
        elif kind == "R":
            pos += 4
            pos = read_cstring(buf, pos)
            pos = read_cstring(buf, pos)
            pos += 1
            (ncols,) = struct.unpack_from(">h", buf, pos)
            pos += 2
            for _ in range(ncols):
                pos = read_cstring(buf, pos + 1) + 8
        elif kind == "Y":
            pos = read_cstring(buf, read_cstring(buf, pos + 4))
        elif kind == "I":
            pos += 4
            if buf[pos] != ord("N"):
                raise ValueError(f"Insert without N at {pos}")
            pos = skip_tuple(buf, pos + 1)
        elif kind == "U":
            pos += 4
            if buf[pos] in (ord("K"), ord("O")):
                pos = skip_tuple(buf, pos + 1)
            if buf[pos] != ord("N"):
                raise ValueError(f"Update without N at {pos}")
            pos = skip_tuple(buf, pos + 1)
        elif kind == "D":
            pos += 4
            pos = skip_tuple(buf, pos + 1)
        elif kind == "T":
            (nrel,) = struct.unpack_from(">i", buf, pos)
            pos += 4 + 1 + 4 * nrel
            counts["truncated_relations"] = counts.get("truncated_relations", 0) + nrel
        elif kind == "M":
            pos += 1 + 8
            pos = read_cstring(buf, pos)
            (length,) = struct.unpack_from(">i", buf, pos)
            pos += 4 + length
        else:
            raise ValueError(f"unknown message {kind!r} at offset {start}")
        if pos >= size or buf[pos] != 0x0A:
            raise ValueError(f"message {kind!r} at {start} not followed by a newline")
        pos += 1
        counts[kind] = counts.get(kind, 0) + 1
    names = {"B": "begin", "C": "commit", "I": "insert", "U": "update",
             "D": "delete", "R": "relation", "Y": "type", "O": "origin",
             "M": "message", "T": "truncate", "S": "stream_start",
             "E": "stream_stop", "c": "stream_commit", "A": "stream_abort"}
    print(" ".join(f"{names.get(k, k)}={v}" for k, v in sorted(counts.items())))
    changes = (counts.get("I", 0) + counts.get("U", 0) + counts.get("D", 0)
               + counts.get("truncated_relations", 0))
    print(f"changes={changes}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
