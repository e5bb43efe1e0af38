"""Plays the commitment screens (告知承诺制) in one process (Kivy makes one window per process)
and writes what it observed as JSON: ``python -m tests.screens.run_commitments LANG OUT.json
ARTIFACTS [--elderly]``.

A citizen identified by the identity code on the scanner applies for a residence permit; the
proof of residence has no e-certificate and no paper is taken, so the certificates screen
offers "sign a commitment instead" and refuses to go on without it. The citizen reads the
text (spoken in elderly mode), is refused an empty pad and a dot, signs with simulated touch
moves (a stroke undone on the way), confirms; the signed commitment replaces the material;
the application is submitted and the platform records the commitment. Nothing of the
signature survives the session: not on the pad, in the session, or in the kiosk's files.
Screenshots in ARTIFACTS.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from screens.testing import KioskDriver, sim_config
from screens.walkthrough import _fill_form
from tests.screens.parallel import recorded

W, H = 720, 1280
WHO = "chen"
MATTER = "residence-permit"
MATERIAL = "residence_proof"
# a signature in pad-relative coordinates: a name in three strokes
STROKES = [
    [(0.08, 0.55), (0.12, 0.75), (0.16, 0.5), (0.2, 0.35), (0.25, 0.6), (0.3, 0.72)],
    [(0.34, 0.4), (0.4, 0.7), (0.46, 0.42), (0.52, 0.68), (0.58, 0.45)],
    [(0.62, 0.6), (0.7, 0.38), (0.78, 0.66), (0.86, 0.4), (0.92, 0.58)],
]


def screen(ui: KioskDriver, name: str, timeout: float = 30.0) -> None:
    ui.run_until(lambda: ui.screen == name and not ui.busy_shown, timeout, f"screen {name!r}")
    ui.pump(3)


def step(ui: KioskDriver, wanted: str) -> None:
    ui.run_until(lambda: ui.journey.commitments.view().step.value == wanted
                 and ui.app.screens.get("commitment") is not None
                 and ui.app.screens["commitment"].step == wanted, 15, f"step {wanted!r}")
    ui.pump(3)


def pad(ui: KioskDriver) -> Any:
    return ui.app.screens["commitment"].ids.pad


def draw(ui: KioskDriver, stroke: list[tuple[float, float]], substeps: int = 4) -> None:
    """A finger stroke on the pad: down, moves along the points, up (UnitTestTouch)."""
    from kivy.tests.common import UnitTestTouch

    p = pad(ui)

    def at(fx: float, fy: float) -> tuple[float, float]:
        return p.to_window(p.x + fx * p.width, p.y + fy * p.height)

    touch = UnitTestTouch(*at(*stroke[0]))
    touch.touch_down()
    for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
        for i in range(1, substeps + 1):
            f = i / substeps
            touch.touch_move(*at(x0 + (x1 - x0) * f, y0 + (y1 - y0) * f))
            ui.pump(1)
    touch.touch_up()
    ui.pump(2)


def refused(ui: KioskDriver) -> str:
    ui.run_until(lambda: bool(ui.message), 10, "a refusal")
    key = str(ui.vm.message_key)
    ui.dismiss()
    return key


def both(ui: KioskDriver, name: str, elderly: bool) -> None:
    """A screenshot; in the standard run also the same screen in elderly mode."""
    ui.shot(name)
    if elderly:
        return
    ui.tap("elderly")
    ui.run_until(lambda: ui.vm.elderly, 5, "elderly mode")
    ui.pump(5)
    ui.shot(f"{name}-elderly")
    ui.tap("elderly")
    ui.run_until(lambda: not ui.vm.elderly, 5, "standard mode")
    ui.pump(5)


def journey(ui: KioskDriver, out: dict[str, Any], elderly: bool) -> None:
    got: dict[str, Any] = {}
    ui.wait_for_screen("attract")
    ui.show_code(WHO)
    ui.run_until(lambda: ui.core.session.data.identified and not ui.vm.busy, 30,
                 "identified by the code")
    ui.wait_for_screen("home")
    if elderly:
        ui.tap("elderly")
        ui.run_until(lambda: ui.vm.elderly, 5, "elderly mode")
        ui.pump(5)
    ui.tap(f"matter:{MATTER}")
    ui.wait_for_screen("guide")
    ui.tap("begin")
    ui.wait_for_screen("consent")
    ui.tap("consent_agree")
    screen(ui, "certificates")
    got["offered"] = ui.find(f"sign_commitment:{MATERIAL}") is not None
    both(ui, "certificates-offer", elderly)
    ui.tap("to_form")  # no paper for this material: not without the commitment
    got["to_form_refused"] = refused(ui)
    got["still_certificates"] = ui.screen == "certificates"
    ui.vm.speaker.requested.clear()
    ui.tap(f"sign_commitment:{MATERIAL}")
    screen(ui, "commitment")
    step(ui, "read")
    scr = ui.app.screens["commitment"]
    material = next(m for m in ui.core.session.data.matter.materials if m.id == MATERIAL)
    got["text_shown"] = scr.text == material.commitment_text[out["lang"]]
    got["text_on_screen"] = scr.text in ui.label_texts()
    got["spoken_read"] = [t for _v, t in ui.vm.speaker.requested]
    got["text_version_shown"] = any(material.commitment_version in t
                                    for t in ui.label_texts())
    both(ui, "read", elderly)
    ui.tap("commitment_to_sign")
    step(ui, "sign")
    got["pad_height"] = float(pad(ui).height)
    got["pad_width"] = float(pad(ui).width)
    ui.tap("signature_done")  # nothing drawn
    got["empty_refused"] = refused(ui)
    draw(ui, [(0.5, 0.5)], 1)  # a dot
    ui.tap("signature_done")
    got["dot_refused"] = refused(ui)
    ui.tap("signature_clear")
    got["cleared"] = pad(ui).strokes_count
    both(ui, "sign-empty", elderly)
    draw(ui, STROKES[0])
    draw(ui, [(0.1, 0.2), (0.9, 0.9)])  # a slip of the finger
    got["before_undo"] = pad(ui).strokes_count
    ui.tap("signature_undo")
    got["after_undo"] = pad(ui).strokes_count
    for stroke in STROKES[1:]:
        draw(ui, stroke)
    got["strokes"] = pad(ui).strokes_count
    both(ui, "signed", elderly)
    ui.tap("signature_done")
    step(ui, "confirm")
    got["pad_editable_on_confirm"] = pad(ui).editable
    both(ui, "confirm", elderly)
    ui.tap("commitment_confirm")
    screen(ui, "certificates")
    held = ui.core.session.data.commitments.get(MATERIAL)
    got["held"] = held is not None
    png = bytes(held.signature_png) if held is not None else b""
    buffer = held.signature_png if held is not None else bytearray()
    got["png_bytes"] = len(png)
    got["png_magic"] = png[:8] == b"\x89PNG\r\n\x1a\n"
    got["png_ink"] = ink_fraction(png)
    got["signed_tile"] = ui.find(f"withdraw_commitment:{MATERIAL}") is not None
    got["pad_after_confirm"] = pad(ui).strokes_count
    both(ui, "certificates-signed", elderly)
    ui.tap("to_form")
    ui.wait_for_screen("form")
    _fill_form(ui)
    ui.tap("form_next")
    ui.wait_for_screen("review")
    from screens.i18n import tr

    got["review_says_committed"] = any(tr("material_committed", out["lang"]) in t
                                       for t in ui.label_texts())
    ui.shot("review")
    ui.tap("submit")
    ui.wait_for_screen("result", 60)
    ui.shot("result")
    receipt = ui.core.session.data.receipt
    got["committed"] = list(receipt.committed_materials) if receipt else []
    got["on_platform"] = platform_signatures(ui) == [png]
    ui.tap("finish")
    ui.run_until(lambda: ui.screen in ("goodbye", "attract"), 30, "the session ended")
    got["buffer_after"] = len(buffer)
    got["session_after"] = len(ui.core.session.data.commitments)
    got["pad_after"] = pad(ui).strokes_count
    got["leftovers"] = leftovers(ui, png)
    got["devices"] = ui.device_use()
    out["journey"] = got


def ink_fraction(png: bytes) -> float:
    import io

    from PIL import Image

    if not png:
        return 0.0
    with Image.open(io.BytesIO(png)) as img:
        grey = img.convert("L")
        dark = sum(1 for v in grey.getdata() if v < 128)
        return dark / (grey.width * grey.height)


def platform_signatures(ui: KioskDriver) -> list[bytes]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from kiosk.backend.platform.commitments import CommitmentRow

    service = ui.core.backend.inner.service
    with Session(service.engine) as s:
        return [r.signature_png for r in s.scalars(select(CommitmentRow))]


def leftovers(ui: KioskDriver, png: bytes) -> list[str]:
    """Where the signature survives: the kiosk's files (the platform's database aside, it is
    the government's record), the session, the journey."""
    import base64

    needles = [png[40:88], base64.b64encode(png)[60:120]] if png else []
    found = []
    for path in ui.var_dir.rglob("*") if ui.var_dir else []:
        if not path.is_file() or "platform" in path.name:
            continue
        blob = path.read_bytes()
        found += [f"{path.name}" for n in needles if n in blob]
    haystack = (repr(ui.core.session.data) + repr(vars(ui.journey))).encode()
    found += ["memory" for n in needles if n in haystack]
    return found


def main() -> int:
    lang, out_path, artifacts = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    elderly = "--elderly" in sys.argv[4:]
    out: dict[str, Any] = {"lang": lang, "elderly": elderly}
    with tempfile.TemporaryDirectory(prefix="kiosk-commit-") as tmp:
        var = Path(tmp) / "var"
        var.mkdir(parents=True)
        cfg = sim_config(var, W, H, extra={"ui": {"default_language": lang,
                                                  "simulation_dock": False,
                                                  "voice": elderly}})
        with recorded(out, out_path), KioskDriver(cfg=cfg, var_dir=var,
                                                  artifacts=artifacts, width=W,
                                                  height=H) as ui:
            out["at"] = "journey"
            journey(ui, out, elderly)
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
