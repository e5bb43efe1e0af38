"""Plays the face screen in one process (Kivy makes one window per process) and writes what it
observed as JSON: ``python -m tests.screens.run_mirror OUT.json ARTIFACTS``.

Liveness on, the card through the simulated reader. Nobody in front of the camera first: the
mirror, the oval and the quality gate's words, screenshots in three languages and in elderly
mode, and the mirror's frame rate while the face check looks for a face. Then the citizen
steps in and acts out the challenges (the camera simulator): the arrow, the voice, the
progress, the frame rate during the challenges; then the screen left: the preview stopped,
the texture gone, no picture written anywhere. Screenshots: ARTIFACTS/.
``FACE_WORKER=thread`` runs the face check on a thread of the kiosk instead of the face
process (``face.worker``), to compare the mirror's rates in the two.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from kiosk.ime.shared import pinyin_engine
from screens.testing import KioskDriver

CAMERA_FPS = 30  # a common USB camera: the mirror's target, 15 frames a second, is half of it
WINDOW = 30  # frames shown over which one frame rate is measured
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG")


def face_screen(ui: KioskDriver) -> Any:
    return ui.app.screens["face"]


def windows(ui: KioskDriver, start: int) -> list[dict[str, float]]:
    """The mirror's figures over each run of :data:`WINDOW` frames shown since ``start``."""
    mirror = face_screen(ui).mirror
    shown = mirror.stats.window()[start:]
    out = []
    for i in range(0, len(shown) - WINDOW + 1, WINDOW):
        part = shown[i:i + WINDOW]
        span = part[-1].flipped_at - part[0].flipped_at
        grabbed = part[-1].grabbed_at - part[0].grabbed_at
        if span > 0 and grabbed > 0:
            out.append({"fps": (WINDOW - 1) / span,
                        "camera_fps": (part[-1].seq - part[0].seq) / grabbed,
                        "texture_ms_max": max(s.blitted_at - s.grabbed_at for s in part) * 1e3})
    return out


def identify(ui: KioskDriver) -> str:
    """The card on the simulated reader (placed again if a read is cut short, as a citizen
    does), up to the face consent."""
    path = ""
    for _attempt in range(3):
        path = ui.insert_card("chen")
        ui.run_until(lambda: (ui.screen == "face_consent" and not ui.vm.busy)
                     or bool(ui.message), 30, "the face consent")
        if ui.screen == "face_consent":
            return path
        ui.dismiss()
        ui.remove_card()
        ui.pump(5)
    raise AssertionError("the card was not read")


def pictures_written(ui: KioskDriver) -> list[str]:
    """Files under the kiosk's var dir that hold a JPEG or PNG (none may: frames stay in
    memory)."""
    found = []
    assert ui.var_dir is not None
    for path in ui.var_dir.rglob("*"):
        if path.is_file() and "printer-spool" not in path.parts:
            with contextlib.suppress(OSError):
                head = path.read_bytes()[:8]
                if head.startswith(IMAGE_MAGIC):
                    found.append(path.name)
    return found


def face_check_without_anyone(ui: KioskDriver) -> Any:
    """Nobody in front of the camera: the card, the face consent, the face screen with the
    mirror and the gate's words."""
    ui.present_face(None)
    path = identify(ui)
    ui.tap("face_agree")
    scr = face_screen(ui)
    ui.run_until(lambda: ui.screen == "face" and scr.gate == "no_face"
                 and scr.mirror.texture is not None, 30, "the mirror, no face")
    return path


def shots(ui: KioskDriver, mode: str) -> dict[str, Any]:
    scr = face_screen(ui)
    got: dict[str, Any] = {}
    for lang in ("zh_CN", "zh_HK", "en"):
        if ui.vm.lang != lang:
            ui.tap(f"lang:{lang}")
        ui.pump(3)
        path = ui.shot(f"face-{mode}-{lang}-no-face")
        got[f"{mode}-{lang}"] = {"text": scr.gate_text, "gate": scr.gate, "fs": ui.vm.fs,
                                 "arrow": scr.arrow, "file": path.name if path else ""}
    return got


def leave(ui: KioskDriver) -> None:
    """The citizen leaves (and takes their card)."""
    ui.tap("cancel")
    ui.run_until(lambda: ui.screen in ("goodbye", "attract") and not ui.vm.busy, 20, "leaving")
    if ui.screen == "goodbye":
        ui.tap("goodbye_done")
    ui.wait_for_screen("attract")
    ui.remove_card()


def play(ui: KioskDriver, out: dict[str, Any]) -> None:
    out["devices"] = ui.core.summary()
    out["liveness"] = ui.core.cfg.face.liveness
    # a kiosk that has been up a while: its pinyin input built (seconds of work on a worker,
    # begun 5 s after the kiosk came up)
    district = ui.core.cfg.kiosk.district
    ui.run_until(lambda: pinyin_engine(district).get() is not None
                 or pinyin_engine(district).failed, 90, "the pinyin input built")
    # 1. nobody in front: the frame rate while the check looks for a face, screenshots
    out["card_path"] = face_check_without_anyone(ui)
    scr = face_screen(ui)
    start = len(scr.mirror.stats.shown)
    ui.run_until(lambda: len(scr.mirror.stats.shown) - start >= 2 * WINDOW, 60,
                 "mirror frames (nobody in front)")
    out["nobody"] = windows(ui, start)
    out["shots"] = shots(ui, "standard")
    # 2. the citizen steps in and acts out the challenges
    ui.tap("lang:zh_CN")
    ui.vm.speaker.requested.clear()
    progress: list[tuple[int, int]] = []
    scr.bind(step=lambda s, v: progress.append((int(v), int(s.steps))))
    ui.present_face("chen")
    ui.run_until(lambda: bool(scr.arrow) or ui.screen != "face", 40, "a challenge")
    out["first_challenge"] = {"challenge": scr.challenge, "arrow": scr.arrow,
                              "text": scr.challenge_text}
    ui.shot(f"face-challenge-{scr.challenge}")
    start = len(scr.mirror.stats.shown)  # after the screenshot (the loop paused for it)
    ui.run_until(lambda: ui.screen != "face", 60, "the face check over")
    shown = len(scr.mirror.stats.shown) - start
    out["challenges"] = windows(ui, start)
    out["during_check"] = {**scr.mirror.stats.summary(shown), "shown": shown}
    ui.run_until(lambda: ui.screen == "home" and not ui.vm.busy, 30, "face verified")
    out["progress"] = progress
    out["after"] = {"screen": ui.screen, "running": scr.mirror.running,
                    "texture": scr.mirror.texture is not None, "gate": scr.gate,
                    "challenge": scr.challenge, "spoken": list(ui.vm.speaker.requested)}
    # 3. the next citizen, in elderly mode: the screenshots, then they leave
    leave(ui)
    ui.tap("elderly")
    face_check_without_anyone(ui)
    out["shots"].update(shots(ui, "elderly"))
    # the camera's frames stop (unplugged): the picture is taken down, not left frozen;
    # they come back: so does the picture
    ui.sim.camera_frames(False)
    ui.run_until(lambda: scr.mirror.texture is None, 10, "the frozen picture taken down")
    ui.pump(2)
    out["frames_stopped"] = {"texts": [t for t in ui.visible_texts()
                                       if t == scr.t("mirror_no_picture")]}
    ui.shot("face-no-picture")
    ui.sim.camera_frames(True)
    ui.run_until(lambda: scr.mirror.texture is not None, 10, "the picture back")
    leave(ui)
    out["after_cancel"] = {"running": scr.mirror.running,
                           "texture": scr.mirror.texture is not None,
                           "pictures_written": pictures_written(ui)}
    out["device_use"] = ui.device_use()


def main() -> int:
    out_path, artifacts = Path(sys.argv[1]), Path(sys.argv[2])
    out: dict[str, Any] = {}
    try:
        # the face check waits out the screenshots with nobody in front (its deadline and
        # tries), as for a citizen taking their time
        with KioskDriver(artifacts=artifacts, width=720, height=1280,
                         extra_config={"camera": {"fps": CAMERA_FPS},
                                       "face": {"deadline_s": 90, "liveness_retries": 5,
                                                **({"worker": os.environ["FACE_WORKER"]}
                                                   if "FACE_WORKER" in os.environ else {})},
                                       "ui": {"voice": True}}) as ui:
            try:
                play(ui, out)
            except Exception:
                with contextlib.suppress(Exception):
                    ui.screenshot(artifacts / "failure.png")
                raise
            out["ok"] = True  # unless a device path meant was not used: raised on exit
    except Exception as exc:
        out["ok"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str),
                        encoding="utf-8")
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
