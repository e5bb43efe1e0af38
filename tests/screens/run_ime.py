"""Plays the Chinese-input journey in one process (Kivy makes one window per process) and
writes what it observed as JSON: ``python -m tests.screens.run_ime OUT.json ARTIFACTS``.

zh_CN: a sole-trader registration whose form is typed with pinyin (南海 from "nanhai") and
whose premises come from the address picker; the result mailed to an address built with the
picker from the province down and typed with pinyin. zh_HK and elderly mode: the keyboard
with candidates and the picker, screenshots only. Screenshots: ARTIFACTS/<lang>/.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from screens.testing import KioskDriver
from screens.walkthrough import _identify_with_card

MATTER = "sole-trader-register"  # form: two text fields, an address, a phone; result mailed
PREMISES = "广东省佛山市南海区桂城街道南海大道100号"
MAIL = "广东省佛山市南海区大沥镇广佛路8号"


class KeyTimes:
    """Wall time on the UI thread of every key the keyboards handle: the candidate look-up,
    the conversion, the candidate bar redrawn and the field updated."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.slowest: list[tuple[float, str]] = []

    def wrap(self, keyboard: Any) -> None:
        for name in ("press", "choose"):
            real = getattr(keyboard, name)

            def timed(*args: Any, _real: Any = real) -> Any:
                t0 = time.perf_counter()
                try:
                    return _real(*args)
                finally:
                    spent = time.perf_counter() - t0
                    self.times.append(spent)
                    self.slowest = sorted([*self.slowest, (spent * 1e3, repr(args))])[-3:]

            setattr(keyboard, name, timed)

    def summary(self) -> dict[str, float]:
        ordered = sorted(self.times)
        if not ordered:
            return {"keys": 0}
        return {"keys": len(ordered), "p50_ms": ordered[len(ordered) // 2] * 1e3,
                "p95_ms": ordered[int(0.95 * (len(ordered) - 1))] * 1e3,
                "max_ms": ordered[-1] * 1e3, "slowest": self.slowest}


def pick(ui: KioskDriver, letters: str, word: str, timeout: float = 90) -> None:
    """Type ``letters`` on the keyboard, then tap candidate ``word`` (paging to it)."""
    ui.type_text(letters)
    deadline = time.monotonic() + timeout
    while ui.find(f"cand:{word}") is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no candidate {word!r} for {letters!r}")
        if ui.find("cand_next") is not None:  # found only when enabled: more pages
            ui.tap("cand_next")
        else:
            ui.pump()  # the engine may still be building
    ui.tap(f"cand:{word}")


def go_to_form(ui: KioskDriver, lang: str, elderly: bool = False) -> None:
    ui.wait_for_screen("attract")
    if lang != ui.vm.lang:
        ui.tap(f"lang:{lang}")
    if elderly != ui.vm.elderly:
        ui.tap("elderly")
    _identify_with_card(ui, "chen")
    ui.wait_for_screen("home", 60)
    ui.tap(f"matter:{MATTER}")
    ui.wait_for_screen("guide")
    ui.tap("begin")
    ui.wait_for_screen("consent")
    ui.tap("consent_agree")
    ui.wait_for_screen("certificates", 30)
    ui.tap("to_form")
    ui.wait_for_screen("form")


def full_journey(ui: KioskDriver, shots: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    go_to_form(ui, "zh_CN")
    form = ui.app.screens["form"]
    times = KeyTimes()
    times.wrap(form.ids.ime)
    ui.tap("field:trade_name")
    ui.type_text("nanhai")
    ui.run_until(lambda: ui.find("cand:南海") is not None, 90, "candidate 南海")
    out["nanhai_page"] = list(form.ids.ime.composer.page_words)
    out["nanhai_preedit"] = form.ids.ime.preedit
    ui.screenshot(shots / "zh_CN" / "01-keyboard-candidates.png")
    ui.tap("cand:南海")
    pick(ui, "meishi", "美食")
    ui.tap("field:business_scope")
    pick(ui, "canyin", "餐饮")
    # the premises: the picker from the province down, then the rest typed
    ui.tap("field:premises")
    ui.run_until(lambda: form.pad_kind == "picker" and ui.find("area:桂城街道") is not None,
                 30, "the picker at the kiosk's district")
    out["picker_opens_at"] = [d.name for d in form.ids.picker.path]
    ui.screenshot(shots / "zh_CN" / "02-picker-streets.png")
    ui.tap("area_level:0")
    ui.run_until(lambda: ui.find("area:广东省") is not None, 10, "the provinces")
    ui.screenshot(shots / "zh_CN" / "03-picker-provinces.png")
    for name in ("广东省", "佛山市", "南海区", "桂城街道"):
        ui.tap(f"area:{name}")
    ui.run_until(lambda: form.pad_kind == "ime", 10, "the keyboard after the picker")
    pick(ui, "nanhai", "南海")
    pick(ui, "dadao", "大道")
    ui.type_text("100")
    pick(ui, "hao", "号")
    ui.screenshot(shots / "zh_CN" / "04-form-address.png")
    ui.type_text("13800138000", "field:phone")
    ui.tap("key_done")
    out["form"] = dict(form.values)
    ui.tap("form_next")
    ui.wait_for_screen("review")
    ui.tap("submit")
    ui.wait_for_screen("result", 60)
    receipt = ui.core.session.data.receipt
    out["application_no"] = receipt.application_no if receipt else None
    ui.tap("to_delivery")
    ui.wait_for_screen("delivery")
    delivery = ui.app.screens["delivery"]
    times.wrap(delivery.ids.keyboard)
    ui.tap("deliver:mail")
    out["mail_prefilled"] = delivery.address  # the form's premises, offered first
    ui.tap("area_change")
    ui.run_until(lambda: ui.find("area_level:0") is not None, 10, "the picker")
    ui.tap("area_level:0")
    for name in ("广东省", "佛山市", "南海区"):
        ui.tap(f"area:{name}")
    ui.run_until(lambda: ui.find("area:大沥镇") is not None, 10, "Nanhai's towns")
    ui.screenshot(shots / "zh_CN" / "05-mail-picker.png")
    ui.tap("area:大沥镇")
    ui.run_until(lambda: delivery.mail_step == "detail", 10, "the keyboard")
    for letters, word in (("guang", "广"), ("fo", "佛"), ("lu", "路")):
        pick(ui, letters, word)
    ui.type_text("8")
    pick(ui, "hao", "号")
    ui.screenshot(shots / "zh_CN" / "06-mail-address.png")
    out["mail_shown"] = delivery.address
    ui.tap("send_mail")
    ui.wait_for_screen("rating", 30)
    out["recorded"] = ui.core.session.data.mail_address
    out["recorded_delivery"] = getattr(ui.core.session.data.delivery, "value", None)
    out["key_times"] = times.summary()
    ui.tap("rate:good")
    ui.wait_for_screen("goodbye", 30)
    ui.tap("goodbye_done")
    ui.wait_for_screen("attract")
    ui.pump(3)
    out["platform"] = platform_row(ui, out["application_no"])
    out["leftovers"] = ui.personal_leftovers([PREMISES, MAIL, "南海大道100号", "广佛路8号",
                                              "南海美食"])
    from kiosk.ime.shared import pinyin_engine

    engine = pinyin_engine(ui.core.cfg.kiosk.district).get()
    out["engine_cache_after"] = engine._lookup.cache_info().currsize if engine else None
    out["frames"] = ui.frames.summary()
    return out


def platform_row(ui: KioskDriver, application_no: str | None) -> dict[str, Any]:
    """The government's record of the application (delivered through the outbox)."""
    assert ui.var_dir is not None
    db = ui.var_dir / "platform.sqlite"
    deadline = time.monotonic() + 60
    row: Any = None
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT delivery, mail_address, form FROM applications "
                               "WHERE application_no = ?", (application_no,)).fetchone()
        if row is not None and row[1]:
            break
        ui.pump(5)
    if row is None:
        return {}
    return {"delivery": row[0], "mail_address": row[1], "form": json.loads(row[2])}


def screenshots_only(ui: KioskDriver, lang: str, elderly: bool, shots: Path) -> dict[str, Any]:
    """The keyboard with candidates and the picker, then the session cancelled."""
    folder = shots / ("elderly" if elderly else lang)
    go_to_form(ui, lang, elderly)
    form = ui.app.screens["form"]
    ui.tap("field:trade_name")
    ui.type_text("guangzhou")
    ui.run_until(lambda: bool(form.ids.ime.composer.page_words), 60, "candidates")
    got = {"page": list(form.ids.ime.composer.page_words),
           "keys": [form.ids.ime._keys[k].text for k in ("Q", "<lang>")]}
    ui.screenshot(folder / "01-keyboard-candidates.png")
    ui.tap("key_done")
    ui.tap("field:premises")
    ui.run_until(lambda: form.pad_kind == "picker" and ui.find("area:桂城街道") is not None,
                 30, "the picker")
    got["picker"] = [w.text for w in form.ids.picker.grid.children][::-1]
    got["crumbs"] = [w.text for w in form.ids.picker.crumbs.children][::-1]
    ui.screenshot(folder / "02-picker-streets.png")
    ui.tap("cancel")
    ui.wait_for_screen("attract", 30)
    if elderly:
        ui.tap("elderly")
    return got


def main() -> int:
    out_path, artifacts = Path(sys.argv[1]), Path(sys.argv[2])
    out: dict[str, Any] = {}
    try:
        with KioskDriver(width=720, height=1280,
                         extra_config={"face": {"liveness": False}}) as ui:
            out["zh_CN"] = full_journey(ui, artifacts)
            out["zh_HK"] = screenshots_only(ui, "zh_HK", False, artifacts)
            out["elderly"] = screenshots_only(ui, "zh_CN", True, artifacts)
            out["ok"] = True
    except Exception as exc:
        with contextlib.suppress(Exception):
            ui.screenshot(artifacts / "failure.png")
        out["ok"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str),
                        encoding="utf-8")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
