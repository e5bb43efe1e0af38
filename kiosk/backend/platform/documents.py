"""PDF documents the platform issues (result documents, certificate copies), via reportlab."""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence

CJK_FONT_FILE = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
_FONT = "WenQuanYiMicroHei"
_font_lock = threading.Lock()
_font_ready = False


def _font() -> str:
    global _font_ready
    with _font_lock:
        if not _font_ready:
            from reportlab.pdfbase import pdfmetrics
            from reportlab.pdfbase.ttfonts import TTFont

            pdfmetrics.registerFont(TTFont(_FONT, CJK_FONT_FILE, subfontIndex=0))
            _font_ready = True
    return _FONT


def render_pdf(title: str, rows: Sequence[tuple[str, str]], verification_code: str,
               issuer: str, note: str = "") -> bytes:
    """An A4 document: title, label/value rows, issuer, and the verification code."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    font = _font()
    buf = io.BytesIO()
    pdf = canvas.Canvas(buf, pagesize=A4, pageCompression=1)
    pdf.setTitle(title)
    width, height = A4
    pdf.setFont(font, 20)
    pdf.drawCentredString(width / 2, height - 80, title)
    y = height - 140
    pdf.setFont(font, 12)
    for label, value in rows:
        pdf.drawString(70, y, f"{label}：")
        pdf.drawString(200, y, value[:60])
        y -= 24
    if note:
        y -= 12
        pdf.drawString(70, y, note[:70])
    pdf.drawString(70, 150, f"出具机关：{issuer}")
    pdf.setFont(font, 7)
    for i in range(0, len(verification_code), 80):
        pdf.drawString(70, 128 - i // 80 * 10, verification_code[i:i + 80])
    pdf.setFont(font, 9)
    pdf.drawString(70, 76, "可在政务服务自助终端扫描右侧二维码核验本文件真伪。")
    _qr(pdf, verification_code, width - 170, 60, 110)
    pdf.showPage()
    pdf.save()
    return buf.getvalue()


def _qr(pdf: object, text: str, x: float, y: float, size: float) -> None:
    from reportlab.graphics import renderPDF
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing

    widget = QrCodeWidget(text)
    x0, y0, x1, y1 = widget.getBounds()
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, x, y)
