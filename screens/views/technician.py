"""The technician prompt, opened by the 5-tap gesture (the citizen session is already
wiped): a maintenance token shown to the QR scanner or the camera, or typed on a keyboard,
then the PIN on the keypad. Refusals are said plainly (wrong PIN and the attempts left, a
lock-out and for how long, a token refused and why); the prompt closes by itself."""

from __future__ import annotations

import math
from typing import Any

from kivy.properties import BooleanProperty, StringProperty

from screens.viewmodel import safe
from screens.views.techtool import TechScreen
from screens.widgets import DIGITS, apply_key

PIN_MAX = 16
TOKEN_CODES = {"malformed": "tech_token_invalid", "bad_signature": "tech_token_invalid",
               "wrong_purpose": "tech_token_invalid", "expired": "tech_token_expired",
               "not_yet_valid": "tech_token_expired", "too_long_lived": "tech_token_invalid",
               "wrong_kiosk": "tech_token_other_kiosk", "replayed": "tech_token_used",
               "no_token": "tech_no_token", "not_configured": "tech_not_configured",
               "prompt_closed": "tech_prompt_closed"}


class TechnicianScreen(TechScreen):
    """Token + PIN; the maintenance controller checks them on a worker."""

    pin = StringProperty("")  # typed digits: shown only as dots, cleared after each try
    pin_dots = StringProperty("")
    token_state = StringProperty("")  # '' waiting | scanner | camera | typed
    message = StringProperty("")
    message_role = StringProperty("muted")
    time_left = StringProperty("")
    checking = BooleanProperty(False)
    poll_every = 0.5

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        pad = self.ids.pinpad
        pad.keys = DIGITS
        pad.bind(on_key=lambda _p, key: self.key(key))

    def refresh(self) -> None:
        self.token_state = self.maint.token_source or ""
        self.poll(0)

    @staticmethod
    def _minutes(seconds: float) -> int:
        return max(1, math.ceil(seconds / 60))

    def poll(self, _dt: float) -> None:
        left = self.maint.seconds_left()
        self.time_left = self.t("tech_closes_in", seconds=int(left)) if left is not None else ""

    def on_leave(self, *args: Any) -> None:
        super().on_leave(*args)
        self.clear_personal()

    def clear_personal(self) -> None:
        self.pin = ""
        self.message = ""
        self.token_state = ""
        field = self.ids.get("token_input")
        if field is not None:
            field.text = ""

    def on_pin(self, _inst: Any, value: str) -> None:
        self.pin_dots = "●" * len(value)

    def _say(self, key: str, role: str, **params: Any) -> None:
        self.message = self.t(key, **params)
        self.message_role = role

    # -- input ----------------------------------------------------------------------------
    @safe
    def key(self, key: str) -> None:
        self.maint.prompt_touch()
        self.pin = apply_key(self.pin, key, PIN_MAX)

    @safe
    def use_typed_token(self) -> None:
        field = self.ids.token_input
        self.maint.give_token(field.text)
        field.text = ""

    @safe
    def cancel(self) -> None:
        self.maint.cancel_prompt()

    @safe
    def login(self) -> None:
        if self.checking:
            return
        if len(self.pin) < 6:
            self._say("tech_pin_short", "warn")
            return
        pin, self.pin = self.pin, ""
        self.checking = True
        self._say("tech_checking", "muted")
        self.later(self.maint.login(pin), self._checked)

    def _checked(self, result: Any, error: BaseException | None) -> None:
        self.checking = False
        if error is not None:
            self._say("internal_error", "bad")
            return
        if result is not None and result.granted:
            self._say("tech_granted", "ok")  # the app opens the maintenance screen

    # -- events from the controller (UI thread) -------------------------------------------
    def on_maintenance(self, event: Any) -> None:
        if event.kind == "prompt" and event.params.get("state") == "open":
            locked = float(event.params.get("locked_s") or 0.0)
            if locked > 0:
                self._say("tech_locked", "bad", minutes=self._minutes(locked))
        elif event.kind == "token":
            self.token_state = str(event.params.get("source") or "")
            if self.token_state:
                self._say("tech_token_received_" + self.token_state, "ok")
        elif event.kind == "login":
            self._refused(event.params)

    def _refused(self, params: Any) -> None:
        code = str(params.get("code", ""))
        retry = float(params.get("retry_after_s") or 0.0)
        left = params.get("left")
        if code == "locked_out" or (left == 0 and retry > 0):
            self._say("tech_locked", "bad", minutes=self._minutes(retry))
        elif code == "too_soon":
            self._say("tech_too_soon", "warn", seconds=max(1, math.ceil(retry)))
        elif code == "wrong_pin":
            self._say("tech_wrong_pin", "bad", left=left if left is not None else "-")
        else:
            self._say(TOKEN_CODES.get(code, "tech_refused"), "bad")
            if code in TOKEN_CODES and code not in ("not_configured", "prompt_closed"):
                self.token_state = ""
