"""Face check in progress: the citizen sees themself in a live mirror with an oval guide, is
told what the quality gates found ("come closer", "face the light"), follows the liveness
challenge (words, an arrow, voice) and sees the progress."""

from __future__ import annotations

import time
from typing import Any

from kivy.properties import BooleanProperty, NumericProperty, StringProperty

from screens.i18n import has
from screens.mirror import CameraMirror, ChallengeArrow  # noqa: F401  (kv classes)
from screens.viewmodel import safe
from screens.views.base import KioskScreen
from screens.voice import voice_for

# the challenge -> the arrow over the mirror: the citizen's own left is the screen's left
ARROWS = {"turn_left": "left", "turn_right": "right", "come_closer": "closer",
          "blink": "blink"}
GATE_VOICE_EVERY_S = 4.0  # elderly mode: a gate's words spoken at most this often


class FaceScreen(KioskScreen):
    """The camera mirror and the face check's feedback (``face`` notices of the journey)."""

    voice_key = "face_voice"
    gate = StringProperty("")  # ok | a quality gate code | '' (nothing told yet)
    challenge = StringProperty("")  # the liveness challenge shown ('' none)
    step = NumericProperty(0)
    steps = NumericProperty(0)
    gate_text = StringProperty("")
    challenge_text = StringProperty("")
    arrow = StringProperty("")
    camera_ok = BooleanProperty(True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._gate_spoken_at = 0.0
        self.vm.bind(on_notice=self._on_notice)

    # -- shown / left ---------------------------------------------------------------------
    def on_enter(self, *args: Any) -> None:
        super().on_enter(*args)
        preview = self.vm.camera_preview()
        self.camera_ok = preview is not None
        if preview is not None:
            self.ids.mirror.start(preview)

    def on_leave(self, *args: Any) -> None:
        super().on_leave(*args)
        self.ids.mirror.stop()  # the preview ends with the screen
        self._reset()

    def clear_personal(self) -> None:
        self.ids.mirror.stop()  # the session ended: no frame of it stays
        self._reset()

    def refresh(self) -> None:
        self._texts()

    def _reset(self) -> None:
        self.gate, self.challenge, self.step, self.steps = "", "", 0, 0
        self._texts()

    # -- the face check's feedback --------------------------------------------------------
    @safe
    def _on_notice(self, _vm: Any, notice: Any) -> None:
        if notice.kind != "face":
            return
        p = notice.params
        challenge = str(p.get("challenge") or "")
        new_challenge = challenge != self.challenge
        self.gate = str(p.get("gate") or "")
        self.challenge = challenge
        self.step, self.steps = int(p.get("step", 0)), int(p.get("steps", 0))
        self._texts()
        if new_challenge and challenge:
            self._speak(self.challenge_text)  # a turning head cannot read: always spoken
        elif (self.vm.elderly and not challenge and self.gate not in ("", "ok")
              and time.monotonic() - self._gate_spoken_at >= GATE_VOICE_EVERY_S):
            self._gate_spoken_at = time.monotonic()
            self.vm.say(self.gate_text)

    def _texts(self) -> None:
        gate_key = f"mirror_gate_{self.gate}"
        self.gate_text = self.t(gate_key) if self.gate and has(gate_key) else ""
        self.challenge_text = self.t(f"mirror_{self.challenge}") if self.challenge else ""
        self.arrow = ARROWS.get(self.challenge, "")

    def _speak(self, text: str) -> None:
        vm = self.vm
        vm.speaker.say(text, vm.lang, voice_for(vm.lang, vm.dialect))

    @property
    def mirror(self) -> CameraMirror:
        mirror: CameraMirror = self.ids.mirror
        return mirror

    @safe
    def other_way(self) -> None:
        self.journey.back()
