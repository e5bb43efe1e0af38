"""Benchmark: find + select + read against the paced simulator versus the wire time.

Device benchmarks live under ``kiosk/bench/`` (not beside each driver): they measure with the
kiosk's harness, and some with the kiosk's documents and faces, while ``hardware/`` imports
nothing from ``kiosk``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from hardware.base import Deadline
from hardware.idcard import protocol as p
from hardware.idcard.driver import wire_time_s
from hardware.idcard.factory import open_reader
from kiosk.bench.harness import BenchOptions, BenchResult, against_limit


def transaction_bytes() -> int:
    """Bytes on the wire for find + select + read (30 out, 1329 in)."""
    out = sum(len(p.build_command(c)) for c in (p.Command.FIND, p.Command.SELECT, p.Command.READ))
    back = (len(p.build_response(0x9F, bytes(4))) + len(p.build_response(0x90, bytes(8)))
            + len(p.build_response(0x90, bytes(4 + p.TEXT_LEN + p.PHOTO_LEN))))
    return out + back


def measure(baud: int, n: int) -> list[float]:
    """Milliseconds of ``n`` card reads at ``baud`` (a fresh placement before each)."""
    reader = open_reader(f"sim://idcard?cards=demo&baud={baud}", baud)
    try:
        sim = reader.simulator
        if sim is None:
            raise RuntimeError("a sim:// reader without its simulator")
        samples = []
        for i in range(n + 1):  # the first read warms up
            sim.insert("chen")
            t0 = time.perf_counter()
            card = reader.read_card(Deadline(10.0))
            elapsed = (time.perf_counter() - t0) * 1000.0
            card.wipe()
            if i:
                samples.append(elapsed)
        return samples
    finally:
        reader.close()


def bench_read(opts: BenchOptions) -> list[BenchResult]:
    results = []
    nbytes = transaction_bytes()
    for baud, n in ((115200, 5 if opts.quick else opts.repeat), (9600, 2 if opts.quick else 3)):
        wire_ms = wire_time_s(nbytes, baud) * 1000.0
        results.append(against_limit(f"idcard.read@{baud}", "ms", measure(baud, n),
                                     "wire time of the same bytes", wire_ms, baud=baud,
                                     wire_bytes=nbytes, goal_ratio=1.15))
    return results


BENCHMARKS: dict[str, Callable[[BenchOptions], list[BenchResult]]] = {"idcard.read": bench_read}
