"""The maintenance screen: the technician's tool on the kiosk itself.

The readiness report (internal level on opening, external on demand), each device with its
status, fixes and last test, a guided test per device, the actions (print a test page, read a
test card, camera preview with the face box, scan a code, reset counters, out of service /
back in service, exit) and the counters. Everything runs through
:class:`kiosk.diag.maintenance.Maintenance` on its workers (audited there); results come back
here on the UI thread. Nothing of a citizen is shown: the report is redacted, a card read
gives its type, a code its kind and length, the preview lives only while it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

from kivy.clock import Clock
from kivy.graphics.texture import Texture
from kivy.properties import BooleanProperty, ObjectProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout

from kiosk.diag.fixes import device_label as _device_label
from screens.viewmodel import safe
from screens.views.techtool import TechScreen, TLabel
from screens.widgets import discard_children

log = logging.getLogger("screens.maintenance")

DEVICES = ("idcard", "qr", "camera", "printer")
COUNTERS = ("sessions", "reads", "read_failures", "prints", "jams", "paper_outs", "errors")
GUIDES: dict[str, list[tuple[str, str]]] = {  # device -> steps (kind, argument)
    "idcard": [("check", "external"), ("card", "")],
    "qr": [("check", "external"), ("scan", "")],
    "camera": [("check", "external"), ("preview", "mt_ask_face_box")],
    "printer": [("check", "external"), ("print", ""), ("ask", "mt_ask_page_clear")],
}
STEP_TEXT = {"check": "mt_step_check", "card": "mt_step_card", "scan": "mt_step_scan",
             "preview": "mt_step_preview", "print": "mt_step_print"}


def device_label(name: str, lang: str) -> str:
    """The device's plain name, capitalised as a label."""
    label = _device_label(name, lang)  # type: ignore[arg-type]
    return label[:1].upper() + label[1:]


class DeviceLine(BoxLayout):
    """One device on the maintenance screen (kv in maintenance.kv)."""

    screen = ObjectProperty(None, allownone=True)
    device = StringProperty("")
    label = StringProperty("")
    status = StringProperty("")
    status_text = StringProperty("")
    critical = BooleanProperty(False)
    last_text = StringProperty("")
    fixes_text = StringProperty("")


class MaintenanceScreen(TechScreen):
    """See the module docstring. ``panel_*`` is the result panel of the running step."""

    kiosk_line = StringProperty("")
    version_line = StringProperty("")
    verdict = StringProperty("")
    time_left = StringProperty("")
    report_meta = StringProperty("")
    reasons_text = StringProperty("")
    backend_text = StringProperty("")
    outbox_text = StringProperty("")
    host_text = StringProperty("")
    flag_text = StringProperty("")
    flagged = BooleanProperty(False)
    panel_title = StringProperty("")
    panel_text = StringProperty("")
    panel_detail = StringProperty("")
    panel_state = StringProperty("")  # '' | running | ok | fail | ask
    asking = BooleanProperty(False)
    preview_on = BooleanProperty(False)
    working = BooleanProperty(False)
    poll_every = 1.0

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.report: Any = None
        self.overview: list[Any] = []
        self._report_at = 0.0  # when each arrived: the fresher says the device's status
        self._overview_at = 0.0
        self.counters: dict[str, dict[str, int]] = {}
        self.lines: dict[str, DeviceLine] = {}
        self._steps: list[tuple[str, str]] = []
        self._guide_device = ""
        self._ask: tuple[str, str] | None = None  # (device, test) the question is about
        self._frame: Any = None
        self._texture: Texture | None = None
        self._show_frame = Clock.create_trigger(self._blit, 0)
        self._polls = 0
        for name in DEVICES:
            line = DeviceLine(screen=self, device=name)
            self.lines[name] = line
            self.ids.devices.add_widget(line)

    # -- life -----------------------------------------------------------------------------
    def refresh(self) -> None:
        cfg = self.vm.core.cfg
        self.kiosk_line = f"{cfg.kiosk.id}  ·  {cfg.kiosk.group}  ·  {cfg.kiosk.location}"
        if not self.panel_state:
            self._panel("mt_result", "mt_panel_idle", "")
        self.run_report("internal")
        self._load_overview()
        self.poll(0)

    def poll(self, _dt: float) -> None:
        left = self.maint.seconds_left()
        if left is not None:
            self.time_left = self.t("mt_time_left", time=f"{int(left) // 60}:"
                                                         f"{int(left) % 60:02d}")
        status = self.maint.gate_status()
        self.flagged = status.flag is not None
        self.flag_text = self.t("mt_flag", by=self.t("mt_by_" + status.flag.by),
                                note=status.flag.note) if status.flag else ""
        self._polls += 1
        if self._polls % 3 == 0:
            self._load_overview()

    def on_leave(self, *args: Any) -> None:
        super().on_leave(*args)
        self.maint.stop_preview()
        self._drop_preview()
        self._steps = []
        self.asking = False
        self.panel_state = ""
        self.working = False

    def clear_personal(self) -> None:
        self._drop_preview()

    # -- the report -----------------------------------------------------------------------
    @safe
    def run_report(self, level: str) -> None:
        self.working = True
        if level != "internal":
            self._panel("mt_report", "mt_running", "", "running")
        self.later(self.maint.report(level, self.vm.lang), self._report_done)

    def _report_done(self, report: Any, error: BaseException | None) -> None:
        self.working = False
        if error is not None or report is None:
            self._panel("mt_report", "mt_error", type(error).__name__ if error else "", "fail")
            return
        self.report = report
        self._report_at = time.monotonic()
        if report.level != "internal":
            self._panel("mt_report", "mt_verdict_" + report.verdict.value, "",
                        "ok" if report.verdict == "ready" else "fail")
        self._show_report()

    def _show_report(self) -> None:
        r = self.report
        if r is None:
            return
        self.verdict = r.verdict.value
        at = r.generated_at[11:19]
        self.report_meta = self.t("mt_report_meta", level=self.t("mt_level_" + r.level),
                                  time=f"{at} {r.timezone}", ms=f"{r.duration_ms:.0f}")
        self.reasons_text = "\n".join(f"•  {x}" for x in r.reasons) or self.t("mt_no_reasons")
        cfg_hash = r.config.hash.split(":")[-1][:12]
        self.version_line = self.t("mt_versions", software=r.software_version,
                                   config=r.config.version, hash=cfg_hash,
                                   profile=r.config.profile)
        b, o, h = r.backend, r.outbox, r.host
        state = self.t("mt_backend_ok") if b.reachable else self.t("mt_backend_down")
        latency = f"{b.latency_ms:.0f} ms" if b.latency_ms is not None else ""
        self.backend_text = self.t("mt_backend", state=state, latency=latency,
                                   detail=b.detail or "")
        age = "-" if o.oldest_pending_age_s is None else f"{o.oldest_pending_age_s:.0f} s"
        self.outbox_text = self.t("mt_outbox", pending=o.pending, parked=o.needs_operator,
                                  age=age) if o.available else self.t("mt_outbox_none")
        clock = self.t("mt_clock_synced") if h.clock.synchronized else \
            self.t("mt_clock_unknown") if h.clock.synchronized is None else \
            self.t("mt_clock_unsynced")
        uptime = "-" if h.uptime_s is None else f"{h.uptime_s / 3600:.1f} h"
        disk = "-" if h.disk.free_percent is None else f"{h.disk.free_percent:.0f}"
        temp = f" · {max(t.celsius for t in h.temperatures):.0f} °C" if h.temperatures else ""
        self.host_text = self.t("mt_host", disk=disk, clock=clock, uptime=uptime) + temp
        self._show_lines()

    def _show_lines(self) -> None:
        lang = self.vm.lang
        reports = {d.name: d for d in self.report.devices} if self.report else {}
        rows = {row.name: row for row in self.overview}
        for name, line in self.lines.items():
            rep, row = reports.get(name), rows.get(name)
            fresher = rep if rep is not None and (row is None or self._report_at >=
                                                    self._overview_at) else row
            status = fresher.status if fresher is not None else "no_device"
            line.label = device_label(name, lang)
            line.status = status
            line.status_text = self.t("mt_status_" + status)
            line.critical = bool(row.critical if row is not None else rep and rep.critical)
            line.fixes_text = "\n".join(rep.fixes) if rep is not None and rep.fixes else ""
            last = row.last_test if row is not None else None
            line.last_text = self.t("mt_no_test") if last is None else self.t(
                "mt_last_test", test=self.t("mt_test_" + last.test.split("_confirmed")[0]),
                result=self.t("mt_result_ok" if last.ok else "mt_result_failed"),
                time=dt.datetime.fromtimestamp(last.at).strftime("%H:%M:%S"))

    def _load_overview(self) -> None:
        self.later(self.maint.rows(), self._overview_done)

    def _overview_done(self, rows: Any, error: BaseException | None) -> None:
        if error is not None or rows is None:
            return
        self.overview = list(rows)
        self._overview_at = time.monotonic()
        self.counters = {row.name: dict(row.counters) for row in self.overview}
        self._show_lines()
        self._show_counters()

    def _show_counters(self) -> None:
        grid = self.ids.counters
        discard_children(grid)
        grid.add_widget(TLabel(text="", base=20, role="muted"))
        for key in COUNTERS:
            grid.add_widget(TLabel(text=self.t("mt_c_" + key), base=18, role="muted",
                                   halign="center"))
        for name in ("kiosk", *DEVICES):
            values = self.counters.get(name, {})
            label = self.t("mt_kiosk") if name == "kiosk" else device_label(name, self.vm.lang)
            grid.add_widget(TLabel(text=label, base=20))
            for key in COUNTERS:
                grid.add_widget(TLabel(text=str(values.get(key, 0)) if key in values else "·",
                                       base=22, halign="center",
                                       role="warn" if key in ("jams", "paper_outs", "errors",
                                                              "read_failures")
                                       and values.get(key) else "fg"))

    # -- the result panel -----------------------------------------------------------------
    def _panel(self, title: str, text: str, detail: str, look: str = "", /, **params: Any
               ) -> None:
        """The result panel: ``look`` is '' | running | ok | fail | ask; ``params`` fill
        the texts (a step's own, such as a print job's ``state``)."""
        self.panel_title = self.t(title, **params)
        self.panel_text = self.t(text, **params)
        self.panel_detail = detail
        self.panel_state = look

    def _busy(self) -> bool:
        return self.working or bool(self._steps) or self.asking or self.preview_on

    # -- guided tests and single actions --------------------------------------------------
    @safe
    def test_device(self, device: str) -> None:
        if self._busy():
            return
        self._run_steps(device, list(GUIDES[device]), "mt_test_title")

    @safe
    def action(self, kind: str) -> None:
        if self._busy():
            return
        device = {"print": "printer", "card": "idcard", "scan": "qr", "preview": "camera"}
        if kind in device:
            steps = [(kind, "mt_ask_face_box" if kind == "preview" else "")]
            if kind == "print":
                steps.append(("ask", "mt_ask_page_clear"))
            self._run_steps(device[kind], steps, "mt_" + kind)
        elif kind == "reset":
            self._guide_device = ""
            self._ask = ("", "reset")
            self.asking = True
            self._panel("mt_reset", "mt_ask_reset", "", "ask")
        elif kind == "out":
            self.working = True
            self.later(self.maint.set_out_of_service(self.t("mt_note_default")),
                       self._service_done)
        elif kind == "in":
            self.working = True
            self.later(self.maint.back_in_service(), self._service_done)
        elif kind == "exit":
            self.maint.exit()

    def _run_steps(self, device: str, steps: list[tuple[str, str]], title: str) -> None:
        self._guide_device = device
        self._steps = steps
        self._title = title
        self._next()

    def _next(self) -> None:
        if not self._steps:
            self._load_overview()
            return
        kind, arg = self._steps.pop(0)
        device = self._guide_device
        label = device_label(device, self.vm.lang)
        m = self.maint
        if kind == "ask":
            self._ask = (device, "print_test_page" if device == "printer" else kind)
            self.asking = True
            self._panel(self._title, arg, self.panel_detail, "ask", device=label)
            return
        self._panel(self._title, STEP_TEXT[kind], "", "running", device=label)
        if kind == "check":
            future = m.test(device, arg or "external")
        elif kind == "card":
            future = m.read_test_card()
        elif kind == "scan":
            future = m.scan_code(20.0)
        elif kind == "print":
            future = m.print_test_page()
        else:  # preview: the question is asked while the frames run
            self.preview_on = True
            future = m.start_preview(self._on_frame, seconds=30.0)
            self._ask = (device, "preview")
            self.asking = True
            self._panel(self._title, arg, "", "ask", device=label)
        self.later(future, self._step_done)

    def _step_done(self, outcome: Any, error: BaseException | None) -> None:
        label = device_label(self._guide_device, self.vm.lang)
        if error is not None or outcome is None:
            self._steps = []
            self.asking = False
            self.preview_on = False
            self._panel(self._title, "mt_error", type(error).__name__ if error else "", "fail",
                        device=label)
            return
        if outcome.test == "preview":
            self.preview_on = False
            if self.asking:  # the preview ended (time up) before an answer: keep asking
                return
            self._drop_preview()
            self._next()
            return
        params = {k: self._word(k, v) for k, v in dict(outcome.params).items()}
        self._panel(self._title, outcome.key, outcome.text, "ok" if outcome.ok else "fail",
                    device=label, **params)
        if outcome.ok:
            self._next()
        else:
            self._steps = []  # a failed step ends the test (no question about a page not printed)
        self._load_overview()

    def _word(self, key: str, value: Any) -> Any:
        if key == "kind":
            return self.t("mt_kind_" + str(value))
        if key == "card_type":
            return self.label("mt_card_" + str(value), str(value))
        return value

    @safe
    def answer(self, yes: bool) -> None:
        if not self.asking or self._ask is None:
            return
        device, test = self._ask
        self._ask = None
        self.asking = False
        if test == "reset":
            if yes:
                self.working = True
                self.later(self.maint.reset_counters(), self._reset_done)
            else:
                self._panel("mt_reset", "mt_panel_idle", "", "")
            return
        if test == "preview":
            self.maint.stop_preview()
            self._drop_preview()
        self.later(self.maint.confirm(device, test, yes), lambda _v, _e: self._load_overview())
        self._panel(self._title, "mt_confirm_yes" if yes else "mt_confirm_no", "",
                    "ok" if yes else "fail", device=device_label(device, self.vm.lang))
        if test == "preview":
            self._steps = []
        else:
            self._next()

    @safe
    def stop(self) -> None:
        self.maint.stop_preview()
        self._steps = []
        self.asking = False
        self._ask = None

    def _reset_done(self, removed: Any, error: BaseException | None) -> None:
        self.working = False
        if error is not None:
            self._panel("mt_reset", "mt_error", type(error).__name__, "fail")
            return
        self._panel("mt_reset", "mt_reset_done", "", "ok", n=removed or 0)
        self._load_overview()

    def _service_done(self, status: Any, error: BaseException | None) -> None:
        self.working = False
        if error is not None or status is None:
            self._panel("mt_service", "mt_error", type(error).__name__ if error else "", "fail")
            return
        if status.flag is not None:
            self._panel("mt_service", "mt_out_done", "", "ok")
        elif status.decision.in_service:
            self._panel("mt_service", "mt_in_done", "", "ok")
        else:
            self._panel("mt_service", "mt_in_faults", "\n".join(status.reasons(self.vm.lang)),
                        "fail")
        self.poll(0)
        self.run_report("internal")

    @safe
    def set_language(self, lang: str) -> None:
        self.vm.set_language(lang, record=False)

    # -- the camera preview ---------------------------------------------------------------
    def _on_frame(self, frame: Any) -> None:  # a worker's thread
        self._frame = frame
        self._show_frame()

    def _blit(self, _dt: float) -> None:
        frame, self._frame = self._frame, None
        if frame is None or not self.preview_on:
            return
        tex = self._texture
        if tex is None or tuple(tex.size) != (frame.width, frame.height):
            tex = Texture.create(size=(frame.width, frame.height), colorfmt="rgb")
            self._texture = tex
        tex.blit_buffer(frame.pixels, colorfmt="rgb", bufferfmt="ubyte")
        self.ids.preview.texture = tex
        self.ids.preview.canvas.ask_update()
        self.panel_detail = self.t("mt_faces_seen", n=frame.faces)

    def _drop_preview(self) -> None:
        self._frame = None
        self._texture = None
        preview = self.ids.get("preview")
        if preview is not None:
            preview.texture = None
