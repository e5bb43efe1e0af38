"""A one-page technician test page (PDF), built with reportlab's base fonts only."""

from __future__ import annotations

import datetime as dt
import io

from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas


def test_page_pdf(queue: str, kiosk_id: str = "", when: dt.datetime | None = None) -> bytes:
    when = when or dt.datetime.now().astimezone()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, invariant=True)
    pdf.setTitle("Kiosk printer test page")
    width, height = A4
    pdf.setFont("Helvetica-Bold", 20)
    pdf.drawString(60, height - 90, "Kiosk printer test page")
    pdf.setFont("Helvetica", 12)
    y = height - 130
    for line in (f"queue: {queue}", f"kiosk: {kiosk_id or '-'}",
                 f"time: {when.isoformat(timespec='seconds')}"):
        pdf.drawString(60, y, line)
        y -= 20
    pdf.rect(60, y - 120, width - 120, 100)
    for i in range(10):
        pdf.setFillGray(i / 10)
        pdf.rect(70 + i * 45, y - 110, 40, 80, fill=1, stroke=0)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()
