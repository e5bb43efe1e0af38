"""The readiness report as one A4 page a person can read (reportlab, the documents' CJK font).

Lines are measured and wrapped; when the report does not fit, the font shrinks down to
:data:`MIN_SIZE` and the rest is cut with a note pointing at ``--json``. Every line passes
:func:`kiosk.diag.redact.redact_text` (``output``) before it is drawn.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from kiosk.diag.model import DeviceReport, ReadinessReport, Verdict
from kiosk.diag.redact import redact_text
from kiosk.documents.fonts import cjk_font
from kiosk.files import write_private

MARGIN = 15 * mm
MAX_SIZE, MIN_SIZE = 9.0, 6.0
VERDICT_TEXT = {Verdict.READY: "就绪 · READY", Verdict.DEGRADED: "部分可用 · DEGRADED",
                Verdict.OUT_OF_SERVICE: "暂停服务 · OUT OF SERVICE"}
VERDICT_COLOUR = {Verdict.READY: HexColor("#1b7f3b"), Verdict.DEGRADED: HexColor("#b26a00"),
                  Verdict.OUT_OF_SERVICE: HexColor("#b3261e")}


def pdf_name(report: ReadinessReport) -> str:
    """``readiness-report__<kiosk-id>__<time>.pdf`` (time as 20250601T101500+0800)."""
    stamp = re.sub(r"[-:]", "", report.generated_at)
    return f"readiness-report__{report.kiosk_id}__{stamp}.pdf"


@dataclass(frozen=True)
class _Line:
    text: str
    kind: str = "body"  # heading | body | small


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**20:,.0f} MB"


def _device_lines(d: DeviceReport) -> list[_Line]:
    flag = "（关键 critical）" if d.critical else ""
    out = [_Line(f"{d.name} — {d.status}{flag}", "heading")]
    for c in d.checks:
        took = "" if c.duration_ms is None else f" ({c.duration_ms:.0f} ms)"
        out.append(_Line(f"  {c.level}: {'OK' if c.ok else 'FAIL'} — {c.detail}{took}"))
    for fix in d.fixes:
        out.append(_Line(f"  → {fix}"))
    if d.inventory:
        out.append(_Line("  inventory: " + ", ".join(f"{k}={v}" for k, v in d.inventory.items()),
                         "small"))
    counters = {**d.counters}
    if counters:
        out.append(_Line("  counters: " + ", ".join(f"{k} {v}" for k, v in counters.items()),
                         "small"))
    for e in d.last_errors[:3]:
        out.append(_Line(f"  error {e.at}: {e.code} — {e.text}", "small"))
    out.append(_Line(f"  test print: {d.last_test_print_text}", "small"))
    return out


def report_lines(report: ReadinessReport) -> list[_Line]:
    """The page's text, in order (also what a test compares with pdftotext)."""
    h = report.host
    lines = [
        _Line(f"kiosk {report.kiosk_id} · group {report.group} · {report.location}"),
        _Line(f"software {report.software_version} · config {report.config.version} "
              f"({report.config.hash[:23]}…, profile {report.config.profile})"),
        _Line(f"generated {report.generated_at} {report.timezone} · level {report.level} · "
              f"{report.duration_ms:.0f} ms"),
        _Line("原因 Reasons", "heading"),
    ]
    lines += [_Line(f"• {r}") for r in report.reasons] or [_Line("• none")]
    lines.append(_Line("设备 Devices", "heading"))
    for device in report.devices:
        lines += _device_lines(device)
    b, o = report.backend, report.outbox
    lines += [
        _Line("后台 Backend · 待发送 Outbox · 主机 Host", "heading"),
        _Line(f"backend: {'reachable' if b.reachable else 'UNREACHABLE'}"
              + (f", {b.latency_ms:.0f} ms" if b.latency_ms is not None else "")
              + (f" ({b.detail})" if b.detail else "")),
        _Line(f"outbox: {o.pending} pending, {o.parked} parked, {o.needs_operator} need an "
              f"operator, oldest pending "
              + ("-" if o.oldest_pending_age_s is None else f"{o.oldest_pending_age_s:.0f} s")
              + ("" if o.available else f" ({o.detail})")),
        _Line(f"disk: {h.disk.free_percent if h.disk.free_percent is not None else '?'}% free"
              f" of {_mb(h.disk.total_bytes)}" + (" — WARNING" if h.disk.warning else "")
              + f" · memory: {_mb(h.memory.available_bytes)} of {_mb(h.memory.total_bytes)}"),
        _Line(f"clock: {h.clock.source}, synchronized "
              f"{'unknown' if h.clock.synchronized is None else h.clock.synchronized}"
              + ("" if h.clock.offset_s is None else f", offset {h.clock.offset_s:+.3f} s")
              + f" · uptime: {'?' if h.uptime_s is None else f'{h.uptime_s / 3600:.1f} h'}"
              + ("".join(f" · {t.sensor} {t.celsius:.0f} °C" for t in h.temperatures[:3]))),
    ]
    return [_Line(redact_text(line.text, source="output"), line.kind) for line in lines]


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Lines of at most ``width``: broken at the last space when there is one on the line
    (English), else between any two characters (Chinese)."""
    out, current = [], ""
    for ch in text:
        if pdfmetrics.stringWidth(current + ch, font, size) <= width or not current.strip():
            current += ch
            continue
        cut = current.rfind(" ", 5)
        if cut > 0 and ch != " ":
            out.append(current[:cut])
            current = "    " + current[cut + 1:] + ch
        else:
            out.append(current)
            current = "    " + ch.lstrip()
    return [*out, current]


def _layout(lines: Iterable[_Line], font: str, size: float, width: float
            ) -> list[tuple[str, float, str]]:
    out = []
    for line in lines:
        s = size + 1.5 if line.kind == "heading" else size - 1 if line.kind == "small" else size
        out += [(part, s, line.kind) for part in _wrap(line.text, font, s, width)]
    return out


def render_pdf(report: ReadinessReport) -> bytes:
    """The report as the bytes of a one-page A4 PDF."""
    font = cjk_font()
    width, height = A4
    text_width = width - 2 * MARGIN
    top = height - MARGIN - 30 * mm  # under the title and the verdict band
    bottom = MARGIN + 10 * mm
    lines = report_lines(report)
    size = MAX_SIZE
    while True:
        laid = _layout(lines, font, size, text_width)
        needed = sum(s * 1.35 + (3 if kind == "heading" else 0) for _, s, kind in laid)
        if needed <= top - bottom or size <= MIN_SIZE:
            break
        size -= 0.5
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    c.setTitle(f"Readiness report {report.kiosk_id}")
    c.setFont(font, 16)
    c.drawString(MARGIN, height - MARGIN - 6 * mm, "自助终端就绪报告 · Kiosk readiness report")
    colour: Color = VERDICT_COLOUR[report.verdict]
    c.setFillColor(colour)
    c.rect(MARGIN, height - MARGIN - 22 * mm, text_width, 11 * mm, stroke=0, fill=1)
    c.setFillColorRGB(1, 1, 1)
    c.setFont(font, 14)
    c.drawString(MARGIN + 4 * mm, height - MARGIN - 18.5 * mm, VERDICT_TEXT[report.verdict])
    c.setFillColorRGB(0, 0, 0)
    y = top
    for i, (text, s, kind) in enumerate(laid):
        step = s * 1.35 + (3 if kind == "heading" else 0)
        if y - step < bottom:
            c.setFont(font, MIN_SIZE)
            c.drawString(MARGIN, y - MIN_SIZE, f"… {len(laid) - i} more lines: "
                                               "kiosk diag report --json")
            break
        y -= step
        c.setFont(font, s)
        if kind == "heading":
            c.setFillColorRGB(0.1, 0.2, 0.45)
        c.drawString(MARGIN, y, text)
        c.setFillColorRGB(0, 0, 0)
    c.setFont(font, 6.5)
    c.setFillColorRGB(0.35, 0.35, 0.35)
    c.drawString(MARGIN, MARGIN + 3 * mm, "本报告不含个人信息（身份证号、姓名、照片已脱敏）· "
                                          "No personal data: ID numbers, names and images are "
                                          "redacted")
    c.drawString(MARGIN, MARGIN, pdf_name(report))
    c.showPage()
    c.save()
    return buf.getvalue()


def write_pdf(report: ReadinessReport, target: str | Path) -> Path:
    """Write the PDF to ``target``, or into it under :func:`pdf_name` when it is a folder."""
    path = Path(target)
    if path.is_dir():
        path = path / pdf_name(report)
    write_private(path, render_pdf(report))
    return path
