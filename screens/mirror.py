"""The camera mirror of the face screen: the live picture, mirrored like a looking-glass, under
an oval guide, and the challenge arrow drawn over it.

:class:`MirrorFeed` converts frames off the UI thread: a worker waits for each new camera frame
(:func:`camera_source`: the camera's ``wait_preview``, or ``preview()`` polled; neither
takes frames from the face check), cuts the centre to the widget's shape, scales it to
the widget's pixels, mirrors it (the citizen's left on the screen's left), turns its rows
bottom-up (Kivy's texture order) and BGR into RGB. Only the newest converted frame is kept: a
new one replaces one not yet shown, so nothing queues up. :class:`CameraMirror` blits it into
its Texture on the UI thread (a ``Clock`` callback); :class:`MirrorStats` records, per frame
shown, the camera's grab time, the blit and the buffer swap that put it on the screen.

Frames stay in memory: a converted buffer is zeroed once blitted or replaced, and the texture
is blanked and dropped when the mirror stops (the screen leaves, the session ends).
"""

from __future__ import annotations

import logging
import math
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
from kivy.clock import Clock
from kivy.graphics import Color, Line, Triangle
from kivy.graphics.texture import Texture
from kivy.lang import Builder
from kivy.properties import (
    BooleanProperty,
    ColorProperty,
    ListProperty,
    NumericProperty,
    ObjectProperty,
    StringProperty,
)
from kivy.uix.widget import Widget

from hardware.memory import wipe
from hardware.roles import Preview

log = logging.getLogger("screens.mirror")

Pixels = npt.NDArray[np.uint8]
# (the last frame number seen, how long to wait) -> a newer frame, or None by then
PreviewSource = Callable[[int, float], "Preview | None"]
POLL_S = 0.004  # a camera without wait_preview: how often preview() is looked at
WAIT_S = 0.2  # the worker looks at its stop flag at least this often
STALE_S = 1.5  # no new frame for this long: the picture is taken down (no frozen mirror)
OVAL = (0.64, 0.74)  # the oval guide: share of the mirror's width and height


def camera_source(camera: Any) -> PreviewSource:
    """How the mirror's worker gets frames from ``camera``: its ``wait_preview`` (woken once
    per frame), else its ``preview()`` polled every :data:`POLL_S` (a Camera role only
    promises ``preview``)."""
    wait = getattr(camera, "wait_preview", None)
    if callable(wait):
        source: PreviewSource = wait
        return source
    preview = camera.preview

    def polled(after: int, timeout: float) -> Preview | None:
        end = time.monotonic() + timeout
        while True:
            got: Preview | None = preview()
            if got is not None and got.seq > after:
                return got
            if time.monotonic() >= end:
                return None
            time.sleep(POLL_S)  # a camera without a frame event: look again shortly

    return polled


def veil_mask(size: tuple[int, int], veil: float, oval: tuple[float, float] = OVAL) -> Pixels:
    """A (h, w, 3) multiplier (255: unchanged) that dims the picture outside the centred oval
    guide by ``veil`` (0: not at all), with a soft edge."""
    w, h = size
    mask = np.full((h, w, 3), round(255 * (1.0 - veil)), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (round(w * oval[0] / 2), round(h * oval[1] / 2)), 0,
                0, 360, (255, 255, 255), -1, cv2.LINE_AA)
    return mask


def picture_size(shape: tuple[int, ...], size: tuple[int, int] | None) -> tuple[int, int]:
    """(w, h) of the picture :func:`mirror_rgb` makes of a frame of ``shape`` for a widget
    of ``size`` pixels: the frame's centre cut to the widget's shape, no larger than it."""
    h, w = shape[:2]
    if size is None or size[0] <= 0 or size[1] <= 0:
        return w, h
    aspect = size[0] / size[1]
    cw, ch = min(w, round(h * aspect)), min(h, round(w / aspect))
    return size if size[0] < cw else (cw, ch)


def mirror_rgb(frame: npt.NDArray[Any], size: tuple[int, int] | None = None,
               mask: Pixels | None = None) -> Pixels:
    """A BGR camera frame as the mirror shows it: the centre cut to ``size``'s shape (w, h)
    and scaled down to it, mirrored left-right, rows bottom first (Kivy's texture order),
    RGB, dimmed by ``mask`` (:func:`veil_mask`, of the result's size) outside the oval; a new
    contiguous array (the caller wipes it)."""
    h, w = frame.shape[:2]
    crop = frame
    scaled = False
    if size is not None and size[0] > 0 and size[1] > 0:
        aspect = size[0] / size[1]
        cw, ch = min(w, round(h * aspect)), min(h, round(w / aspect))
        x0, y0 = (w - cw) // 2, (h - ch) // 2
        crop = frame[y0:y0 + ch, x0:x0 + cw]
        if size[0] < cw:
            crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
            scaled = True
    # one copy: rows reversed (bottom first), columns reversed (mirror), BGR -> RGB
    out: Pixels = np.ascontiguousarray(crop[::-1, ::-1, ::-1])
    if scaled:
        wipe(crop)
    if mask is not None and mask.shape == out.shape:
        cv2.multiply(out, mask, out, scale=1.0 / 255)
    return out


@dataclass
class MirrorFrame:
    """A converted frame waiting for the UI thread (``pixels``: RGB, rows bottom first)."""

    seq: int
    pixels: Pixels
    grabbed_at: float  # the camera's grab (time.monotonic(); 0 unknown)
    ready_at: float  # converted

    @property
    def size(self) -> tuple[int, int]:
        return int(self.pixels.shape[1]), int(self.pixels.shape[0])


@dataclass(frozen=True)
class Shown:
    """One camera frame that reached the screen."""

    seq: int
    grabbed_at: float
    blitted_at: float
    flipped_at: float


class MirrorStats:
    """What the mirror did: frames converted, replaced before they were shown, blitted, and
    the last ``keep`` frames shown with their times (for the benchmark and the screen test)."""

    def __init__(self, keep: int = 2000) -> None:
        self.converted = 0
        self.replaced = 0
        self.blitted = 0
        self.shown: deque[Shown] = deque(maxlen=keep)
        self._lock = threading.Lock()

    def record(self, shown: Shown) -> None:
        with self._lock:
            self.shown.append(shown)

    def window(self, n: int | None = None) -> list[Shown]:
        with self._lock:
            items = list(self.shown)
        return items[-n:] if n else items

    def summary(self, n: int | None = None) -> dict[str, float]:
        """Over the last ``n`` frames shown: the displayed rate, the camera's own rate in the
        same span (from its frame numbers), their ratio, and latency median / p95 in ms from
        the camera's grab to the texture and to the buffer swap."""
        items = self.window(n)
        out: dict[str, float] = {"frames": float(len(items)), "converted": float(self.converted),
                                 "replaced": float(self.replaced),
                                 "blitted": float(self.blitted)}
        if len(items) < 2:
            return out
        span = items[-1].flipped_at - items[0].flipped_at
        grabbed = items[-1].grabbed_at - items[0].grabbed_at
        out["fps"] = (len(items) - 1) / span if span > 0 else 0.0
        out["camera_fps"] = (items[-1].seq - items[0].seq) / grabbed if grabbed > 0 else 0.0
        out["ratio"] = out["fps"] / out["camera_fps"] if out["camera_fps"] else 0.0
        known = [s for s in items if s.grabbed_at > 0]
        for name, lat in (("texture", [(s.blitted_at - s.grabbed_at) * 1000 for s in known]),
                          ("screen", [(s.flipped_at - s.grabbed_at) * 1000 for s in known])):
            if lat:
                out[f"{name}_ms_median"] = statistics.median(lat)
                out[f"{name}_ms_p95"] = _p95(lat)
        return out


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


class MirrorFeed:
    """The worker of a mirror: waits for each new frame (``source``, see
    :func:`camera_source`), converts it (:func:`mirror_rgb`) and keeps only the newest;
    ``ready()`` is called (from the worker) when a frame waits and none was waiting."""

    def __init__(self, source: PreviewSource, ready: Callable[[], None], *,
                 stats: MirrorStats | None = None) -> None:
        self.source = source
        self.ready = ready
        self.stats = stats or MirrorStats()
        self.size: tuple[int, int] | None = None  # the widget's pixels (set by the UI thread)
        self.veil = 0.45  # how much the picture outside the oval is dimmed
        self._mask: Pixels | None = None
        self._lock = threading.Lock()
        self._latest: MirrorFrame | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop = stop = threading.Event()  # its own: a worker stopped stays stopped
            self._thread = threading.Thread(target=self._run, args=(stop,),
                                            name="camera-mirror", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the worker and wipe a frame not yet taken; never waits (the UI thread calls
        it): a conversion under way is wiped by the worker itself, which then ends."""
        self._stop.set()
        self._thread = None
        with self._lock:
            frame, self._latest = self._latest, None
        if frame is not None:
            wipe(frame.pixels)

    @property
    def running(self) -> bool:
        return self._thread is not None

    def _veil(self, shape: tuple[int, ...]) -> Pixels | None:
        """The veil's mask for the picture a frame of ``shape`` becomes (built once per
        size)."""
        if self.veil <= 0:
            return None
        w, h = picture_size(shape, self.size)
        mask = self._mask
        if mask is None or mask.shape[:2] != (h, w):
            mask = self._mask = veil_mask((w, h), self.veil)
        return mask

    def take(self) -> MirrorFrame | None:
        """The newest converted frame, once (UI thread)."""
        with self._lock:
            frame, self._latest = self._latest, None
        return frame

    def _run(self, stop: threading.Event) -> None:
        last = -1
        while not stop.is_set():
            try:
                preview = self.source(last, WAIT_S)
            except Exception:  # a camera going away must not kill the worker
                log.exception("camera preview failed")
                stop.wait(WAIT_S)
                continue
            if preview is None or preview.seq <= last or stop.is_set():
                continue
            last = preview.seq
            frame = MirrorFrame(preview.seq, mirror_rgb(preview.frame, self.size, self._veil(
                preview.frame.shape)), preview.at, time.monotonic())
            self.stats.converted += 1
            with self._lock:
                if stop.is_set():  # stopped while converting: keep nothing
                    wipe(frame.pixels)
                    return
                old, self._latest = self._latest, frame
            if old is not None:  # never shown: the newer frame wins
                self.stats.replaced += 1
                wipe(old.pixels)
            else:
                self.ready()


Builder.load_string("""
<CameraMirror>:
    canvas:
        Color:
            rgba: (1, 1, 1, 1) if self.texture else self.blank
        Rectangle:
            pos: self.pos
            size: self.size
            texture: self.texture
        Color:
            rgba: self.guide
        Line:
            ellipse: (*self.oval_pos, *self.oval_size)
            width: self.guide_width
""")


class CameraMirror(Widget):
    """The live, mirrored camera picture with the oval guide (``guide``: its colour, the
    quality gates' verdict) and the outside dimmed (``veil``, baked into the picture by the
    worker: no extra drawing pass). :meth:`start` with the camera's frames
    (:func:`camera_source`); :meth:`stop` when the screen leaves or the session ends."""

    texture = ObjectProperty(None, allownone=True)
    blank = ColorProperty((0.1, 0.11, 0.13, 1))
    guide = ColorProperty((1, 1, 1, 1))
    guide_width = NumericProperty(4.0)
    veil = NumericProperty(0.45)
    oval_pos = ListProperty([0, 0])
    oval_size = ListProperty([0, 0])
    running = BooleanProperty(False)
    seq = NumericProperty(-1)  # the camera frame in the texture (-1: none)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stats = MirrorStats()
        self._feed: MirrorFeed | None = None
        self._pending = threading.Event()
        self._blitted: tuple[int, float, float] | None = None  # seq, grabbed, blitted
        self._flip_bound = False
        self._last_blit = 0.0
        self._stale_ev: Any = None
        self.bind(pos=self._layout, size=self._layout)

    # -- lifecycle (UI thread) ------------------------------------------------------------
    def start(self, source: PreviewSource) -> None:
        """Show ``source``'s frames live (:func:`camera_source`; a worker converts them)."""
        if self._feed is not None:
            return
        self.stats = MirrorStats()
        feed = MirrorFeed(source, self._frame_ready, stats=self.stats)
        feed.size = self._pixels()
        feed.veil = self.veil
        self._feed = feed
        feed.start()
        self.running = True
        self._last_blit = time.monotonic()
        self._stale_ev = Clock.schedule_interval(self._check_stale, STALE_S / 3)
        if not self._flip_bound:
            from kivy.core.window import Window

            Window.bind(on_flip=self._on_flip)
            self._flip_bound = True

    def stop(self) -> None:
        """Stop the worker, blank and drop the texture: no frame is left behind."""
        feed, self._feed = self._feed, None
        if feed is not None:
            feed.stop()
        self.running = False
        if self._stale_ev is not None:
            self._stale_ev.cancel()
            self._stale_ev = None
        if self._flip_bound:
            from kivy.core.window import Window

            Window.unbind(on_flip=self._on_flip)
            self._flip_bound = False
        self._blank()

    def _blank(self) -> None:
        """Blank the texture and drop it (no frame is left in it)."""
        tex, self.texture = self.texture, None
        if tex is not None:
            w, h = tex.size
            tex.blit_buffer(bytes(w * h * 3), colorfmt="rgb", bufferfmt="ubyte")
        self._blitted = None
        self.seq = -1

    # -- frames ---------------------------------------------------------------------------
    def _frame_ready(self) -> None:  # the worker's thread
        if not self._pending.is_set():
            self._pending.set()
            Clock.schedule_once(self._blit, 0)

    def _blit(self, _dt: float) -> None:
        self._pending.clear()
        feed = self._feed
        frame = feed.take() if feed is not None else None
        if frame is None:
            return
        try:
            tex = self.texture
            if tex is None or tuple(tex.size) != frame.size:
                tex = Texture.create(size=frame.size, colorfmt="rgb")
            tex.blit_buffer(frame.pixels.reshape(-1), colorfmt="rgb", bufferfmt="ubyte")
            now = time.monotonic()
            self._last_blit = now
            self.stats.blitted += 1
            self._blitted = (frame.seq, frame.grabbed_at, now)
            if self.texture is not tex:
                self.texture = tex
            self.seq = frame.seq
            self.canvas.ask_update()
        except Exception:  # a bad frame must not take the screen down: the next one comes
            log.exception("mirror frame not shown")
        finally:
            wipe(frame.pixels)

    def _check_stale(self, _dt: float) -> None:
        if self.texture is not None and time.monotonic() - self._last_blit > STALE_S:
            log.info("camera mirror: no frame for %.1f s", STALE_S)
            self._blank()

    def _on_flip(self, *_args: Any) -> None:
        blitted, self._blitted = self._blitted, None
        if blitted is not None:
            seq, grabbed, at = blitted
            self.stats.record(Shown(seq, grabbed, at, time.monotonic()))

    # -- layout ---------------------------------------------------------------------------
    def _pixels(self) -> tuple[int, int] | None:
        w, h = int(self.width), int(self.height)
        return (w, h) if w > 1 and h > 1 else None

    def _layout(self, *_args: Any) -> None:
        ow, oh = self.width * OVAL[0], self.height * OVAL[1]
        self.oval_size = [ow, oh]
        self.oval_pos = [self.center_x - ow / 2, self.center_y - oh / 2]
        if self._feed is not None:
            self._feed.size = self._pixels()


class ChallengeArrow(Widget):
    """The challenge drawn over the mirror: ``left`` / ``right`` (the citizen's own, which a
    mirror shows on the same side), ``closer`` (arrows pointing out: come nearer), ``blink``
    (a shut eye with its lashes, above the oval), or none."""

    direction = StringProperty("")
    color = ColorProperty((1, 1, 1, 1))
    outline = ColorProperty((0, 0, 0, 0.6))

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.bind(pos=self._draw, size=self._draw, direction=self._draw, color=self._draw)

    def _draw(self, *_args: Any) -> None:
        self.canvas.clear()
        if not self.direction:
            return
        w, h = self.width, self.height
        unit = min(w, h)
        shapes: list[tuple[list[float], list[float]]] = []
        if self.direction in ("left", "right"):
            sign = -1.0 if self.direction == "left" else 1.0
            cx = self.center_x + sign * w * 0.36  # beside the oval, on the side to turn to
            cy = self.center_y
            length, head = unit * 0.22, unit * 0.09
            tip = (cx + sign * length / 2, cy)
            tail = (cx - sign * length / 2, cy)
            base = tip[0] - sign * head
            shapes.append(([tail[0], cy, base, cy],
                           [tip[0], tip[1], base, cy + head, base, cy - head]))
        elif self.direction == "closer":
            for dx, dy in ((-1, 1), (1, 1), (-1, -1), (1, -1)):
                sx, sy = self.center_x + dx * w * 0.36, self.center_y + dy * h * 0.40
                ex, ey = sx + dx * unit * 0.08, sy + dy * unit * 0.08
                head = unit * 0.045
                shapes.append(([sx, sy, ex, ey],
                               [ex + dx * head * 0.4, ey + dy * head * 0.4,
                                ex - dx * head, ey + dy * head * 0.2,
                                ex + dx * head * 0.2, ey - dy * head]))
        if self.direction == "blink":
            self._draw_shut_eye(unit)
            return
        with self.canvas:
            Color(*self.outline)  # a dark edge: the arrow reads on any picture
            for shaft, tri in shapes:
                Line(points=shaft, width=unit * 0.035, cap="round")
                Line(points=[*tri, tri[0], tri[1]], width=unit * 0.013, joint="round")
            Color(*self.color)
            for shaft, tri in shapes:
                Line(points=shaft, width=unit * 0.022, cap="round")
                Triangle(points=tri)

    def _draw_shut_eye(self, unit: float) -> None:
        """A shut eye: the lid's lower arc and four lashes, above the oval."""
        ew, eh = unit * 0.30, unit * 0.14
        cx, cy = self.center_x, self.center_y + self.height * 0.40
        lid = (cx - ew / 2, cy - eh / 2, ew, eh, 90, 270)  # the lower half of an ellipse
        lashes = []
        for t in (-0.6, -0.2, 0.2, 0.6):  # across the lid, each pointing out of the arc
            x0, y0 = cx + t * ew / 2, cy - eh / 2 * math.sqrt(1 - t * t)
            dx, dy = t * 0.6, -1.0
            norm = math.hypot(dx, dy)
            lashes.append([x0, y0, x0 + dx / norm * unit * 0.05, y0 + dy / norm * unit * 0.05])
        with self.canvas:
            for colour, width in ((self.outline, 0.035), (self.color, 0.022)):
                Color(*colour)
                Line(ellipse=lid, width=unit * width, cap="round")
                for lash in lashes:
                    Line(points=lash, width=unit * width * 0.7, cap="round")
