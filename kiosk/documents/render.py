"""Printed documents: application receipt, approval result, certified copy of an e-certificate.

Each ``render_*`` takes a plain dataclass and a paper layout (``a4`` | ``receipt58`` |
``receipt80``, from ``printer.paper``) and returns PDF bytes with the CJK font embedded
(subset). Thermal layouts are one page as long as the content; A4 flows onto new pages.
Documents are drawn as a list of blocks, so all three share one measured layout engine.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from kiosk.documents.fonts import cjk_font

Paper = Literal["a4", "receipt58", "receipt80"]


@dataclass(frozen=True)
class Layout:
    width: float
    margin: float
    body: float  # font size (pt)
    title: float
    qr_size: float
    page_height: float | None  # None: continuous roll, page as long as the content


LAYOUTS: dict[str, Layout] = {
    "a4": Layout(A4[0], 20 * mm, 11, 18, 32 * mm, A4[1]),
    "receipt80": Layout(80 * mm, 4 * mm, 8.5, 12, 30 * mm, None),
    "receipt58": Layout(58 * mm, 3 * mm, 7, 10, 26 * mm, None),
}


@dataclass(frozen=True)
class ReceiptInfo:
    """受理回执: what the citizen takes home after submitting."""

    application_no: str
    matter_name: str
    submitted_at: dt.datetime
    kiosk_id: str
    state_text: str
    verification_code: str | None  # None: a pending receipt, nothing to verify yet
    next_steps: str = ""
    department: str = ""


@dataclass(frozen=True)
class ResultInfo:
    """审批结果: the decision of a smart-approval matter."""

    application_no: str
    matter_name: str
    decision: str  # e.g. 准予许可 / 不予许可
    decided_at: dt.datetime
    department: str
    kiosk_id: str
    verification_code: str
    reason: str = ""
    fields: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class CertificateCopyInfo:
    """电子证照打印件: a certified copy limited to one use."""

    certificate_name: str
    certificate_number: str
    holder_name: str
    issuer: str
    issue_date: str
    identifier: str
    use_for: str  # the matter: watermark says 仅供办理<use_for>使用
    kiosk_id: str
    printed_at: dt.datetime
    verification_code: str
    fields: Sequence[tuple[str, str]] = ()


@dataclass(frozen=True)
class AppointmentSlipInfo:
    """预约凭条: a counter appointment, taken to the hall. No name or ID number on it: the
    QR code holds the appointment number and the check code only."""

    appointment_no: str
    check_code: str
    qr_payload: str  # Appointment.slip_code
    matter_name: str
    hall_name: str
    hall_address: str
    counter: str
    at: dt.datetime  # in the hall's time zone
    hours: str
    hotline: str
    kiosk_id: str
    printed_at: dt.datetime
    bring: str = "请携带本人身份证件及办理事项所需材料原件，提前10分钟到达。"


@dataclass(frozen=True)
class BundleItem:
    """One matter on a bundle receipt: its application number (empty when it was not
    submitted), its state in words and, for one not submitted, why."""

    matter_name: str
    application_no: str
    state_text: str
    reason: str = ""
    verification_code: str | None = None  # the platform's signed code of its receipt


@dataclass(frozen=True)
class BundleReceiptInfo:
    """一件事一次办 回执: one number tying the bundle's applications, each matter's state.
    No name or ID number on it (like every receipt)."""

    bundle_no: str
    bundle_name: str
    submitted_at: dt.datetime
    kiosk_id: str
    items: Sequence[BundleItem]


# -- blocks -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Block:
    kind: Literal["title", "text", "kv", "rule", "qr", "gap", "small"]
    text: str = ""
    value: str = ""


@dataclass
class _Spec:
    title: str
    blocks: list[_Block] = field(default_factory=list)
    watermark: str | None = None

    def add(self, kind: Literal["title", "text", "kv", "rule", "qr", "gap", "small"],
            text: str = "", value: str = "") -> _Spec:
        self.blocks.append(_Block(kind, text, value))
        return self


def _wrap(text: str, font: str, size: float, width: float) -> list[str]:
    """Wrap by character width (CJK has no spaces); keeps explicit newlines."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        for ch in para:
            if line and pdfmetrics.stringWidth(line + ch, font, size) > width:
                lines.append(line)
                line = ""
            line += ch
        lines.append(line)
    return lines


class _Renderer:
    def __init__(self, spec: _Spec, layout: Layout) -> None:
        self.spec, self.lay = spec, layout
        self.font = cjk_font()
        self.inner = layout.width - 2 * layout.margin

    def _lines(self, block: _Block) -> list[tuple[str, float]]:
        lay, font = self.lay, self.font
        if block.kind == "title":
            return [(t, lay.title) for t in _wrap(block.text, font, lay.title, self.inner)]
        if block.kind == "small":
            size = lay.body * 0.85
            return [(t, size) for t in _wrap(block.text, font, size, self.inner)]
        if block.kind == "kv":
            text = f"{block.text}：{block.value}"
            return [(t, lay.body) for t in _wrap(text, font, lay.body, self.inner)]
        return [(t, lay.body) for t in _wrap(block.text, font, lay.body, self.inner)]

    def _height(self, block: _Block) -> float:
        if block.kind == "rule":
            return self.lay.body
        if block.kind == "gap":
            return self.lay.body * 0.8
        if block.kind == "qr":
            return self.lay.qr_size + self.lay.body * 0.6
        return sum(size * 1.45 for _, size in self._lines(block))

    def render(self) -> bytes:
        lay = self.lay
        content = sum(self._height(b) for b in self.spec.blocks)
        page_h = lay.page_height or content + 2 * lay.margin
        buf = io.BytesIO()
        pdf = canvas.Canvas(buf, pagesize=(lay.width, page_h), invariant=True)
        pdf.setTitle(self.spec.title)
        pdf.setCreator("kiosk")
        y = page_h - lay.margin
        for block in self.spec.blocks:
            height = self._height(block)
            if lay.page_height is not None and y - height < lay.margin:
                self._finish_page(pdf, page_h)
                y = page_h - lay.margin
            self._draw(pdf, block, y)
            y -= height
        self._finish_page(pdf, page_h)
        pdf.save()
        return buf.getvalue()

    def _finish_page(self, pdf: canvas.Canvas, page_h: float) -> None:
        if self.spec.watermark:
            self._watermark(pdf, page_h)
        pdf.showPage()

    def _draw(self, pdf: canvas.Canvas, block: _Block, top: float) -> None:
        lay = self.lay
        if block.kind == "rule":
            pdf.setDash(2, 2)
            pdf.line(lay.margin, top - lay.body / 2, lay.width - lay.margin, top - lay.body / 2)
            pdf.setDash()
            return
        if block.kind == "gap":
            return
        if block.kind == "qr":
            self._qr(pdf, block.text, (lay.width - lay.qr_size) / 2, top - lay.qr_size,
                     lay.qr_size)
            return
        y = top
        for text, size in self._lines(block):
            y -= size * 1.2
            pdf.setFont(self.font, size)
            if block.kind == "title":
                pdf.drawCentredString(lay.width / 2, y, text)
            else:
                pdf.drawString(lay.margin, y, text)
            y -= size * 0.25

    def _qr(self, pdf: canvas.Canvas, payload: str, x: float, y: float, size: float) -> None:
        qr = segno.make(payload, error="m", micro=False)
        rows = [list(r) for r in qr.matrix]
        n = len(rows) + 8  # 4-module quiet zone each side
        cell = size / n
        pdf.setFillGray(0)
        for r, row in enumerate(rows):
            for c, dark in enumerate(row):
                if dark:
                    pdf.rect(x + (c + 4) * cell, y + size - (r + 5) * cell, cell, cell,
                             stroke=0, fill=1)

    def _watermark(self, pdf: canvas.Canvas, page_h: float) -> None:
        if self.spec.watermark is None:
            return
        lay = self.lay
        size = max(lay.body * 2.2, 12)
        pdf.saveState()
        pdf.setFillColorRGB(0.8, 0.1, 0.1, alpha=0.18)
        pdf.setFont(self.font, size)
        step_x = pdfmetrics.stringWidth(self.spec.watermark, self.font, size) + size * 2
        step_y = size * 5
        pdf.translate(lay.width / 2, page_h / 2)
        pdf.rotate(30)
        span = max(lay.width, page_h)
        yy = -span
        while yy < span:
            xx = -span
            while xx < span:
                pdf.drawString(xx, yy, self.spec.watermark)
                xx += step_x
            yy += step_y
        pdf.restoreState()


def short_code(code: str) -> str:
    """The part of a signed document code a person can read out (its document id)."""
    parts = code.split(".")
    doc_id = parts[3] if len(parts) == 5 else code[-16:]
    return "-".join(doc_id[i:i + 4] for i in range(0, len(doc_id), 4))


def _add_code(spec: _Spec, code: str) -> None:
    """The platform's signed verification code: as a QR code and in readable form."""
    spec.add("qr", code)
    spec.add("small", f"验证码：{short_code(code)}")


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M")


# -- documents --------------------------------------------------------------------------
def render_receipt(info: ReceiptInfo, paper: Paper = "a4") -> bytes:
    spec = _Spec("受理回执").add("title", "受理回执").add("rule")
    spec.add("kv", "申请编号", info.application_no).add("kv", "办理事项", info.matter_name)
    if info.department:
        spec.add("kv", "受理部门", info.department)
    spec.add("kv", "提交时间", _stamp(info.submitted_at)).add("kv", "办理状态", info.state_text)
    spec.add("kv", "终端编号", info.kiosk_id)
    if info.next_steps:
        spec.add("gap").add("text", f"后续事项：{info.next_steps}")
    spec.add("rule")
    if info.verification_code:
        _add_code(spec, info.verification_code)
        spec.add("small", "在政务服务自助终端扫码可核验本回执真伪。")
    else:
        spec.add("small", "网络恢复后终端将自动提交申请，届时可凭申请编号查询办理进度。")
    return _Renderer(spec, LAYOUTS[paper]).render()


def render_result(info: ResultInfo, paper: Paper = "a4") -> bytes:
    spec = _Spec("审批结果告知书").add("title", "审批结果告知书").add("rule")
    spec.add("kv", "申请编号", info.application_no).add("kv", "办理事项", info.matter_name)
    spec.add("kv", "审批结果", info.decision)
    if info.reason:
        spec.add("kv", "说明", info.reason)
    for label, value in info.fields:
        spec.add("kv", label, value)
    spec.add("kv", "审批部门", info.department).add("kv", "审批时间", _stamp(info.decided_at))
    spec.add("kv", "终端编号", info.kiosk_id)
    spec.add("rule")
    _add_code(spec, info.verification_code)
    return _Renderer(spec, LAYOUTS[paper]).render()


def render_bundle_receipt(info: BundleReceiptInfo, paper: Paper = "a4") -> bytes:
    spec = _Spec("一件事一次办回执").add("title", "一件事一次办回执").add("rule")
    spec.add("kv", "回执编号", info.bundle_no).add("kv", "办理主题", info.bundle_name)
    spec.add("kv", "提交时间", _stamp(info.submitted_at)).add("kv", "终端编号", info.kiosk_id)
    for i, item in enumerate(info.items, 1):
        spec.add("rule").add("kv", f"事项{i}", item.matter_name)
        if item.application_no:
            spec.add("kv", "申请编号", item.application_no)
        spec.add("kv", "办理状态", item.state_text)
        if item.reason:
            spec.add("kv", "原因", item.reason)
        if item.verification_code:
            spec.add("small", f"验证码：{short_code(item.verification_code)}")
    spec.add("rule")
    spec.add("small", "可凭回执编号或各事项的申请编号查询办理进度；未提交的事项可重新办理或到"
                      "政务服务大厅窗口办理。")
    if any(item.verification_code for item in info.items):
        spec.add("small", "各事项的受理回执可在政务服务自助终端凭申请编号核验。")
    return _Renderer(spec, LAYOUTS[paper]).render()


WEEKDAYS = "一二三四五六日"


def render_appointment_slip(info: AppointmentSlipInfo, paper: Paper = "a4") -> bytes:
    when = f"{info.at:%Y-%m-%d}（周{WEEKDAYS[info.at.weekday()]}）{info.at:%H:%M}"
    spec = _Spec("预约凭条").add("title", "预约凭条").add("rule")
    spec.add("kv", "预约编号", info.appointment_no).add("kv", "办理事项", info.matter_name)
    spec.add("kv", "预约时间", when).add("kv", "办理地点", info.hall_name)
    spec.add("kv", "地址", info.hall_address).add("kv", "窗口", info.counter)
    spec.add("kv", "办公时间", info.hours).add("kv", "咨询电话", info.hotline)
    spec.add("gap").add("text", info.bring)
    spec.add("text", "如需取消，请在预约时间前在自助终端“我的预约”中办理或致电咨询电话。")
    spec.add("rule").add("qr", info.qr_payload)
    spec.add("small", f"核验码：{info.check_code}（窗口扫码或报预约编号和核验码签到）")
    spec.add("kv", "打印时间", _stamp(info.printed_at)).add("kv", "终端编号", info.kiosk_id)
    return _Renderer(spec, LAYOUTS[paper]).render()


def watermark_text(use_for: str) -> str:
    return f"仅供办理{use_for}使用"


def render_certificate_copy(info: CertificateCopyInfo, paper: Paper = "a4") -> bytes:
    mark = watermark_text(info.use_for)
    spec = _Spec(f"{info.certificate_name}（打印件）", watermark=mark)
    spec.add("title", info.certificate_name).add("small", "电子证照打印件").add("rule")
    spec.add("kv", "证照编号", info.certificate_number).add("kv", "持证主体", info.holder_name)
    for label, value in info.fields:
        spec.add("kv", label, value)
    spec.add("kv", "发证机关", info.issuer).add("kv", "发证日期", info.issue_date)
    spec.add("kv", "证照标识", info.identifier).add("rule")
    spec.add("text", f"用途：{mark}，他用无效。")
    spec.add("kv", "打印时间", _stamp(info.printed_at)).add("kv", "终端编号", info.kiosk_id)
    _add_code(spec, info.verification_code)
    return _Renderer(spec, LAYOUTS[paper]).render()
