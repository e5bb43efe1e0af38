"""Benchmarks of the UI, under a private Xvfb when there is no display. Listed in
``kiosk.bench.registry`` like every benchmark module; they live with the UI because they need
the UI's virtual display.

- ``startup.ui``: cold start, ``kiosk run`` to the attract screen (ready). Baseline in the same
  run: a minimal Kivy app opening its window and closing.
- ``ui.mirror.fps`` / ``ui.mirror.latency``: the face screen's camera mirror
  (:mod:`screens.mirror`) in a window the size of the screen tests' (720x1280), fed by the
  camera over its simulator while a face check with liveness runs on the same camera (the
  load the face screen has): frames shown per second against the camera's own frame rate in
  the same run (the physical limit: the mirror cannot show more frames than the camera
  grabs), and the latency from the camera's grab to the texture against one camera frame
  period. One child process per run (Kivy opens one window per process):
  ``python -m screens.bench mirror WIDTH HEIGHT CAMERA_FPS FRAMES FACE_CHECK``
  (``process`` | ``thread`` | ``none``). The same run measures the mirror with the face
  check on a thread of the UI's process (before the face process) as a second baseline.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from kiosk.bench.harness import BenchOptions, BenchResult, against_limit, compare, sample
from kiosk.bench.startup import env_for, runner

PLAIN_KIVY = """
from kivy.app import App
from kivy.clock import Clock
from kivy.uix.label import Label
class A(App):
    def build(self):
        Clock.schedule_once(lambda dt: self.stop(), 0)
        return Label(text='ready')
A().run()
"""


def _display() -> AbstractContextManager[object]:
    if os.environ.get("DISPLAY"):
        return nullcontext()
    from screens.xvfb import Xvfb

    display: AbstractContextManager[object] = Xvfb()
    return display


def bench_ui(opts: BenchOptions) -> list[BenchResult]:
    n = max(3, opts.repeat // 5)
    with tempfile.TemporaryDirectory() as var, _display():
        env = env_for(var)
        env["KIOSK__UI__FULLSCREEN"] = "false"
        kiosk = [sys.executable, "-m", "kiosk.cli", "run", "--exit-when-ready"]
        samples = sample(runner(kiosk, env), n)
        plain = Path(var) / "plain_kivy.py"  # Kivy looks for the app's source file
        plain.write_text(PLAIN_KIVY, encoding="utf-8")
        base = sample(runner([sys.executable, str(plain)], env), n)
    return [compare("startup.ui", "ms", samples, "minimal kivy app", base)]


MIRROR_WINDOW = 30  # frames shown per measured window
MIRROR_UNITS = 600  # the face screen's mirror width in layout units (1080 = the window)
MIRROR_CAMERA_FPS = 30


def _mirror_child(width: int, height: int, camera_fps: int, frames: int,
                  face_check: str) -> dict[str, Any]:
    """In this process: a window with the mirror, the camera on its simulator, a face check
    looping on it (``face_check``: ``process``, the kiosk's face process; ``thread``, on a
    thread of this process; ``none``); the mirror's frames shown, with their times."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    from kivy.config import Config

    Config.set("graphics", "width", str(width))
    Config.set("graphics", "height", str(height))
    from kivy.app import App
    from kivy.clock import Clock
    from kivy.uix.floatlayout import FloatLayout

    from hardware.base import Deadline
    from hardware.camera.config import CameraConfig
    from hardware.camera.factory import create
    from hardware.context import DeviceContext
    from hardware.sim import faces
    from screens.mirror import CameraMirror, camera_source

    ctx = DeviceContext()
    camera = create(CameraConfig(source="sim://faces?holder=chen", fps=camera_fps), ctx)
    camera.start(lambda _event: None)
    stop = threading.Event()
    checks: list[bool] = []
    errors: list[str] = []  # why a check did not match (canceled: the run ended)

    def check_loop() -> None:
        from kiosk.face.check import FaceCheck, FaceChecker
        from kiosk.face.config import FaceConfig
        from kiosk.face.worker import FaceWorker

        reference = faces.reference_jpeg("chen")
        worker = FaceWorker(FaceConfig()) if face_check == "process" else None
        try:
            while not stop.is_set():
                checker: FaceChecker = worker or FaceCheck(FaceConfig())
                result = checker.run(camera.frames(), reference, Deadline(20, stop),
                                     camera.on_challenge)
                checks.append(result.match)
                if not result.match:
                    errors.append(str(result.error))
        finally:
            if worker is not None:
                worker.close()

    out: dict[str, Any] = {}
    mw = round(MIRROR_UNITS * width / 1080)

    class MirrorApp(App):
        def build(self) -> Any:
            root = FloatLayout()
            self.mirror = CameraMirror(size_hint=(None, None), size=(mw, round(mw * 4 / 3)),
                                       pos_hint={"center_x": 0.5, "center_y": 0.5})
            root.add_widget(self.mirror)
            self.started = time.monotonic()
            Clock.schedule_once(lambda _dt: self.mirror.start(camera_source(camera)), 0.2)
            Clock.schedule_interval(self.done, 0.25)
            return root

        def done(self, _dt: float) -> None:
            shown = self.mirror.stats.window()
            if len(shown) < frames + 10 and time.monotonic() - self.started < 120:
                return
            shown = shown[10:]  # the first frames while the window settles
            out["windows"] = [
                {"fps": (len(w) - 1) / (w[-1].flipped_at - w[0].flipped_at),
                 "camera_fps": (w[-1].seq - w[0].seq) / (w[-1].grabbed_at - w[0].grabbed_at)}
                for w in (shown[i:i + MIRROR_WINDOW]
                          for i in range(0, len(shown) - MIRROR_WINDOW + 1, MIRROR_WINDOW))
                if w[-1].flipped_at > w[0].flipped_at and w[-1].grabbed_at > w[0].grabbed_at]
            out["texture_ms"] = [(s.blitted_at - s.grabbed_at) * 1000 for s in shown]
            out["screen_ms"] = [(s.flipped_at - s.grabbed_at) * 1000 for s in shown]
            out["summary"] = self.mirror.stats.summary()
            self.mirror.stop()
            self.stop()

    worker = threading.Thread(target=check_loop, name="face-check", daemon=True)
    try:
        if face_check != "none":
            worker.start()
        MirrorApp().run()
    finally:
        stop.set()
        if face_check != "none":
            worker.join(timeout=30)
        camera.close()
        ctx.sims.close()
    out["face_checks"] = len(checks)
    out["face_matches"] = sum(checks)
    out["face_errors"] = errors
    return out


def run_mirror(width: int = 720, height: int = 1280, camera_fps: int = MIRROR_CAMERA_FPS,
               frames: int = 120, face_check: str = "process") -> dict[str, Any]:
    """One measured run of the mirror in its own process (and display)."""
    with tempfile.TemporaryDirectory() as tmp, _display():
        out = Path(tmp) / "mirror.json"
        args = [sys.executable, "-m", "screens.bench", "mirror", str(width), str(height),
                str(camera_fps), str(frames), face_check, str(out)]
        subprocess.run(args, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300)
        data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def bench_mirror(opts: BenchOptions) -> list[BenchResult]:
    """The mirror while face checks loop in the face process (the kiosk), and, in the same
    run, while they loop on a thread of the UI's process (before the face process)."""
    frames = MIRROR_WINDOW * (3 if opts.quick else 6)
    got = run_mirror(frames=frames, face_check="process")
    on_thread = run_mirror(frames=frames, face_check="thread")
    windows = got["windows"]
    fps = [w["fps"] for w in windows]
    camera = [w["camera_fps"] for w in windows]
    period_ms = 1000.0 / statistics.median(camera)
    extra = {"window_px": "720x1280", "camera_fps_configured": MIRROR_CAMERA_FPS,
             "face_check": "process", "face_checks": got["face_checks"],
             "face_checks_matched": got["face_matches"], "face_errors": got["face_errors"],
             "screen_ms_median": statistics.median(got["screen_ms"]),
             "replaced": got["summary"]["replaced"], "frames_per_window": MIRROR_WINDOW}
    thread_fps = [w["fps"] for w in on_thread["windows"]]
    # higher is better for the frame rate: ratio = mirror / camera (1.0 shows every frame)
    return [compare("ui.mirror.fps", "fps", fps, "camera simulator frame rate", camera,
                    goal_fps=15, **extra),
            compare("ui.mirror.fps_vs_thread", "fps", fps,
                    "the face check on a thread of the UI's process", thread_fps,
                    face_checks_on_thread=on_thread["face_checks"], **extra),
            against_limit("ui.mirror.latency", "ms", got["texture_ms"],
                          "one camera frame period", period_ms, **extra)]


BENCHMARKS = {"startup.ui": bench_ui, "ui.mirror": bench_mirror}


def _main(argv: list[str]) -> int:
    if len(argv) == 7 and argv[0] == "mirror":
        w, h, fps, frames, check, out = argv[1:]
        result = _mirror_child(int(w), int(h), int(fps), int(frames), check)
        Path(out).write_text(json.dumps(result), encoding="utf-8")
        return 0
    print("usage: python -m screens.bench mirror WIDTH HEIGHT CAMERA_FPS FRAMES FACE_CHECK OUT",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
