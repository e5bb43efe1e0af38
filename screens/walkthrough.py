"""Scripted journeys played through :class:`screens.testing.KioskDriver` — used by the
screen tests and by the demo walkthrough. Each step taps what a citizen would tap and
saves a screenshot (``ui.shot``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from screens.testing import DriverError, KioskDriver, demo_enterprise

# called after the screenshot of a step: ``{"review": lambda ui: ...}`` (tests' checks)
StepChecks = dict[str, Callable[[KioskDriver], Any]]

PERSONAL_MATTER = "sb-record-print"  # certificate-free, instant, printed on the spot
ENTERPRISE_MATTER = "food-licence-change"  # journey.submit posts delivery[0]: counter


PLACE_AGAIN = ("card_partial", "card_timeout")  # the reader's "place the card again"


def _identify_with_card(ui: KioskDriver, key: str, step: str = "") -> None:
    """Place the card; consent to and pass the face check when the kiosk asks. A read cut
    short (on a loaded machine the simulator's bytes can stall past the reader's gap) is
    placed again when the kiosk says so, as a citizen does; any other message fails."""
    ui.present_face(key)
    for attempt in range(3):
        ui.insert_card(key)
        ui.run_until(lambda: (ui.screen in ("face_consent", "home", "consent")
                              and not ui.vm.busy and ui.core.session.data.holder is not None)
                     or bool(ui.message), 30, "identification")
        if ui.core.session.data.holder is not None:
            break
        again = {ui.vm.t(k) for k in PLACE_AGAIN}
        if attempt == 2 or ui.message not in again:
            raise DriverError(f"identification failed: {ui.message}")
        ui.dismiss()
        ui.remove_card()
        ui.pump(5)
    ui.run_until(lambda: ui.screen in ("face_consent", "home", "consent") and not ui.vm.busy
                 and ui.core.session.data.holder is not None, 30, "identification")
    if ui.screen == "face_consent":
        ui.shot(f"{step}face-consent")
        ui.tap("face_agree")
        ui.run_until(lambda: ui.screen in ("home", "consent", "identify") and not ui.vm.busy,
                     60, "face check")
        if ui.screen == "identify":
            raise DriverError(f"face check failed: {ui.vm.message}")


def _step(ui: KioskDriver, step: str, checks: StepChecks | None) -> None:
    ui.shot(step)
    if checks and step in checks:
        checks[step](ui)


def _fill_form(ui: KioskDriver, values: dict[str, str] | None = None) -> None:
    """Choose the first option of every empty choice field; type given values."""
    screen = ui.app.screens["form"]
    matter = ui.core.session.data.matter
    for field in matter.fields:
        current = screen.values.get(field.key, "")
        if current:
            continue
        if field.input == "choice" and field.choices:
            ui.tap(f"choice:{field.key}:{field.choices[0]}")
        elif values and field.key in values:
            ui.type_text(values[field.key], f"field:{field.key}")
            ui.tap("key_done")
        elif field.required:
            sample = {"phone": "13800138000", "digits": "1", "date": "2025-06-01"}.get(
                field.input, "A1")
            ui.type_text(sample, f"field:{field.key}")
            ui.tap("key_done")


def _shown_code(ui: KioskDriver) -> str | None:
    """The text of the QR code the result screen shows, read back from its texture."""
    import numpy as np
    import zxingcpp

    texture = ui.app.screens["result"].code_texture
    if texture is None:
        return None
    w, h = texture.size
    pixels = np.frombuffer(texture.pixels, np.uint8).reshape(h, w, 4)[:, :, :3]
    codes = zxingcpp.read_barcodes(np.ascontiguousarray(pixels))
    return codes[0].text if codes else ""


def personal_journey(ui: KioskDriver, lang: str = "zh_CN", elderly: bool = False,
                     card: str = "chen", matter: str = PERSONAL_MATTER,
                     checks: StepChecks | None = None) -> dict[str, Any]:
    """Card → face → matter → consent → certificates → form → submit → result → print →
    rating → goodbye → attract. Returns what was observed."""
    ui.wait_for_screen("attract")
    if lang != ui.vm.lang:
        ui.tap(f"lang:{lang}")
    if elderly and not ui.vm.elderly:
        ui.tap("elderly")
    _step(ui, "attract", checks)
    _identify_with_card(ui, card)
    ui.wait_for_screen("home")
    _step(ui, "home", checks)
    ui.tap(f"matter:{matter}")
    ui.wait_for_screen("guide")
    _step(ui, "guide", checks)
    ui.tap("begin")
    ui.wait_for_screen("consent")
    _step(ui, "consent", checks)
    ui.tap("consent_agree")
    ui.wait_for_screen("certificates", 30)
    _step(ui, "certificates", checks)
    first = ui.core.session.data.certificates[0] if ui.core.session.data.certificates else None
    if first is not None:
        ui.tap(f"cert:{first.type_code}")
        _step(ui, "certificate-open", checks)
    ui.tap("to_form")
    ui.wait_for_screen("form")
    _step(ui, "form", checks)
    _fill_form(ui)
    ui.tap("form_next")
    ui.wait_for_screen("review")
    _step(ui, "review", checks)
    ui.tap("submit")
    ui.wait_for_screen("result", 60)
    _step(ui, "result", checks)
    receipt = ui.core.session.data.receipt
    result = {"application_no": receipt.application_no if receipt else None,
              "state": receipt.state.value if receipt else None,
              "receipt_qr": _shown_code(ui)}
    ui.tap("to_delivery")
    ui.wait_for_screen("delivery")
    _step(ui, "delivery", checks)
    ui.tap("deliver:print")
    ui.wait_for_screen("rating", 90)
    result["printed"] = ui.journey.last_document is not None
    _step(ui, "rating", checks)
    ui.tap("rate:good")
    ui.wait_for_screen("goodbye", 30)
    _step(ui, "goodbye", checks)
    ui.tap("goodbye_done")
    ui.wait_for_screen("attract")
    return result


def enterprise_journey(ui: KioskDriver, lang: str = "zh_CN", elderly: bool = False,
                       enterprise: str = "meiwei",
                       matter: str = ENTERPRISE_MATTER) -> dict[str, Any]:
    """Enterprise category → matter → representative's card and face → the enterprise's
    credit code → consent → certificates → form → submit → pending result → mail →
    rating → goodbye."""
    ent = demo_enterprise(enterprise)
    ui.wait_for_screen("attract")
    if lang != ui.vm.lang:
        ui.tap(f"lang:{lang}")
    if elderly and not ui.vm.elderly:
        ui.tap("elderly")
    ui.tap("start")
    ui.wait_for_screen("home")
    ui.tap("cat:enterprise")
    ui.shot("ent-home")
    ui.tap(f"matter:{matter}")
    ui.wait_for_screen("guide")
    ui.shot("ent-guide")
    ui.tap("begin")
    ui.wait_for_screen("identify")
    ui.shot("ent-identify")
    _identify_with_card(ui, str(ent["representative"]), "ent-")
    ui.wait_for_screen("consent")
    ui.shot("ent-uscc")
    ui.type_text(str(ent["uscc"]))
    ui.tap("check_enterprise")
    ui.run_until(lambda: ui.vm.enterprise_ok, 30, "enterprise check")
    ui.tap("dismiss")
    ui.wait_for_screen("consent")
    ui.shot("ent-consent")
    ui.tap("consent_agree")
    ui.wait_for_screen("certificates", 30)
    ui.shot("ent-certificates")
    ui.tap("to_form")
    ui.wait_for_screen("form")
    _fill_form(ui)
    ui.shot("ent-form")
    ui.tap("form_next")
    ui.wait_for_screen("review")
    ui.shot("ent-review")
    ui.tap("submit")
    ui.wait_for_screen("result", 60)
    ui.shot("ent-result")
    receipt = ui.core.session.data.receipt
    result = {"application_no": receipt.application_no if receipt else None,
              "state": receipt.state.value if receipt else None,
              "applicant_kind": ui.core.session.data.applicant.kind.value}
    ui.tap("to_delivery")
    ui.wait_for_screen("delivery")
    ui.tap("deliver:mail")
    ui.shot("ent-mail")
    if not ui.app.screens["delivery"].address:
        ui.tap("area:桂城街道")  # the address picker opens at the kiosk's district
        ui.type_text("A1")
    ui.tap("send_mail")
    ui.wait_for_screen("rating", 30)
    ui.tap("rate:average")
    ui.wait_for_screen("goodbye", 30)
    ui.shot("ent-goodbye")
    ui.tap("goodbye_done")
    ui.wait_for_screen("attract")
    return result
