"""Printer benchmarks.

``printer.receipt``: print request to job completed through a private cupsd and the AppSocket
emulator, for a one-page receipt; baseline: the same bytes sent straight to the emulator's
socket (no CUPS), in the same run.
``printer.render``: rendering a receipt (CJK font, QR code); baseline: a plain reportlab
canvas with one line of Helvetica.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from nacl.signing import SigningKey
from reportlab.pdfgen import canvas

from hardware.printer.config import PrinterConfig
from hardware.printer.cupsd import PrivateCupsd
from hardware.printer.driver import CupsPrinter
from hardware.printer.emulator import PrinterEmulator
from kiosk.bench.harness import BenchOptions, BenchResult, compare, sample
from kiosk.documents import ReceiptInfo, render_receipt
from kiosk.documents.render import Paper
from kiosk.identity.doccodes import make_doc_code

_KEY = SigningKey(bytes(32))  # a fixed benchmark key: the code's size is what matters


def _receipt(paper: Paper = "receipt80") -> bytes:
    number = f"BENCH{uuid.uuid4().hex[:8]}"
    info = ReceiptInfo(number, "城乡居民基本医疗保险参保登记",
                       dt.datetime(2025, 3, 1, 10, 30), "kiosk-bench", "已受理",
                       make_doc_code(_KEY, f"R{number}", "receipt"), "请留意短信通知。")
    return render_receipt(info, paper)


def _plain() -> bytes:
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf)
    pdf.setFont("Helvetica", 12)
    pdf.drawString(72, 720, "receipt")
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def bench_receipt(opts: BenchOptions) -> list[BenchResult]:
    n = 5 if opts.quick else opts.repeat
    pdf = _receipt()
    work = Path(tempfile.mkdtemp(prefix="kiosk-bench-printer-"))
    emulator = PrinterEmulator(work / "spool").start()
    cupsd = PrivateCupsd(log_level="warn")  # own root: searchable by lp
    try:
        cupsd.start()
        cupsd.add_raw_queue("bench", f"socket://127.0.0.1:{emulator.port}")
        printer = CupsPrinter(PrinterConfig(queue="bench"), server=cupsd.server,
                              state_dir=work / "state")
        try:
            def through_cups() -> None:
                outcome = printer.print_document(uuid.uuid4().hex, pdf, "bench", 30)
                if outcome.state != "completed":
                    raise RuntimeError(f"bench print failed: {outcome}")

            def direct() -> None:
                before = len(emulator.jobs())
                with socket.create_connection(("127.0.0.1", emulator.port), timeout=10) as s:
                    s.sendall(pdf)
                    s.shutdown(socket.SHUT_WR)
                    s.recv(1)  # the printer closes when it has the job
                if not emulator.wait_for_jobs(before + 1, 10):
                    raise RuntimeError("emulator did not store the job")

            cups_ms = sample(through_cups, n)
            direct_ms = sample(direct, n)
        finally:
            printer.close()
    finally:
        cupsd.cleanup()
        emulator.stop()
        shutil.rmtree(work, ignore_errors=True)
    return [compare("printer.receipt", "ms", cups_ms, "same bytes straight to the AppSocket "
                    "emulator (no CUPS)", direct_ms, bytes=len(pdf))]


def bench_render(opts: BenchOptions) -> list[BenchResult]:
    n = 5 if opts.quick else opts.repeat
    _receipt()  # font registration is a one-off, outside the samples
    results = []
    papers: tuple[Paper, ...] = ("receipt80", "a4")
    for paper in papers:
        ms = sample(functools.partial(_receipt, paper), n)
        base = sample(_plain, n)
        results.append(compare(f"printer.render.{paper}", "ms", ms,
                               "plain reportlab canvas, one line of Helvetica", base))
    return results


BENCHMARKS: dict[str, Callable[[BenchOptions], list[BenchResult]]] = {
    "printer.receipt": bench_receipt,
    "printer.render": bench_render,
}
