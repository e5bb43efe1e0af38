"""QR decoding of camera frames (QR only), cheapest attempt first.

Attempts, stopping at the first that yields a code:

1. zxing-cpp on the grayscale region of interest downscaled by half (INTER_AREA also
   averages sensor noise) — most codes a citizen holds up are found here, in 1-2 ms;
2. zxing-cpp at full resolution (small codes, fine modules);
3. the retry ladder (:mod:`hardware.qr.ladder`) on the regions where step 1-2 located a code
   they could not read, then on regions that look like a code by texture: moire removed,
   contrast normalised locally, upscaled, read by zxing-cpp with two binarisers, then by
   pyzbar where a code was located; bounded by ``ladder_budget`` so that frames without a
   code (the camera's idle load) cost no more than before the ladder;
4. the grid reader (:mod:`hardware.qr.grid`), only in frames where zxing-cpp located a
   code it could not read: corners from three finder patterns of our own search
   (:mod:`hardware.qr.finders`) in the texture regions, and from OpenCV's ArUco QR detector
   in the located ones, refined onto the version's function patterns, modules sampled and
   drawn clean for zxing-cpp; at most ``grid_tries`` fits a frame.

Steps 1-3 need zxing-cpp (``primary="zxing"``, the default); with ``primary=None`` or
without the package the decoder is pyzbar alone: on the half-size image, then adaptively
thresholded, then at full resolution lightly smoothed, then adaptively thresholded.

A :class:`CameraQrWatcher` runs this on a worker thread over frames from any callable (for
a :class:`~hardware.roles.Camera`, :func:`preview_frames`) and delivers
:class:`~hardware.events.CodeScanned` (source ``camera``) to its sink, so the UI never waits.
"""

from __future__ import annotations

import importlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

import cv2
import numpy as np
import numpy.typing as npt
from pyzbar import pyzbar

from hardware.base import EventSink
from hardware.events import CodeScanned
from hardware.qr import erasure, finders, grid, ladder
from hardware.qr.protocol import Deduplicator, PayloadRejected, sanitise
from hardware.roles import Camera

log = logging.getLogger("hardware.qr.camera")

Image = npt.NDArray[Any]  # uint8 BGR or grayscale
Roi = tuple[int, int, int, int]  # x, y, w, h in frame pixels
_QR = [pyzbar.ZBarSymbol.QRCODE]
LADDER_BUDGET = 2.0  # pixels the retry ladder may read, in frames' areas (see _ladder)
GRID_TRIES = 8  # corner sets the grid reader fits per frame (see _grid)
FINDERS = 0.2  # grid.finder_score three finder candidates need to be fitted (tune seeds)


class Region(NamedTuple):
    """A region the ladder looks at: its view, where it lies, and what it is (a texture
    candidate, a code zxing-cpp located)."""

    view: ladder.View
    x0: int
    y0: int
    texture: bool
    located: bool


@dataclass(frozen=True)
class DecodedCode:
    """A decoded QR code: its text, bounding rectangle in frame pixels, and the pass that
    found it (``zxing_half``, ``zxing``, a rung of :data:`hardware.qr.ladder.RUNGS` with
    ``_zbar`` when pyzbar read it; pyzbar alone: ``half``, ``half_threshold``, ``full``,
    ``full_threshold``)."""

    data: str
    rect: tuple[int, int, int, int]
    type: str = "QRCODE"
    stage: str = "half"


def _zxing() -> Any:
    try:
        return importlib.import_module("zxingcpp")
    except ImportError:
        return None


class FrameDecoder:
    """Decode QR codes in BGR (or grayscale) frames; reusable, not thread-safe per instance.

    ``ladder_budget``: the pixels the retry ladder may read per frame, in multiples of the
    frame's area (0 turns the ladder off); ``stats`` counts the stage that read each frame."""

    def __init__(self, *, primary: str | None = "zxing", max_len: int = 2048,
                 ladder_budget: float = LADDER_BUDGET) -> None:
        self.max_len = max_len
        self._zx: Any = _zxing() if primary == "zxing" else None
        self.stats: dict[str, int] = {}
        self._located: list[Roi] = []  # where the last frame's unread codes are
        self.max_regions = 3  # candidate regions the retry ladder looks at
        self.ladder_budget = ladder_budget
        self._errors: list[Roi] = []  # codes the last ladder read located but could not read
        self.grid_tries = GRID_TRIES
        self.erasures = True  # the grid reader's erasure decoding (:mod:`hardware.qr.erasure`)
        self._aruco: Any = None

    def decode(self, frame_bgr: Image, roi: Roi | None = None) -> list[DecodedCode]:
        if frame_bgr.ndim == 3:
            gray = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2GRAY)
        else:
            gray = frame_bgr
        ox = oy = 0
        if roi is not None:
            x, y, w, h = roi
            x, y = max(0, x), max(0, y)
            gray = gray[y:y + h, x:x + w]
            ox, oy = x, y
        if gray.size == 0:
            return []
        gray = np.ascontiguousarray(gray)
        half = cv2.resize(gray, (max(1, gray.shape[1] // 2), max(1, gray.shape[0] // 2)),
                          interpolation=cv2.INTER_AREA)
        if self._zx is not None:
            for stage, img, scale in (("zxing_half", half, 2.0), ("zxing", gray, 1.0)):
                found = self._zxing_decode(img, scale, ox, oy, stage)
                if found:
                    self.stats[stage] = self.stats.get(stage, 0) + 1
                    return found
            found = self._ladder(gray, ox, oy)
            if found:
                return found
            self.stats["none"] = self.stats.get("none", 0) + 1
            return []
        attempts: list[tuple[str, Callable[[], Image], float]] = [
            ("half", lambda: half, 2.0),
            ("half_threshold", lambda: _threshold(half, 25), 2.0),
            ("full", lambda: cv2.GaussianBlur(gray, (3, 3), 0), 1.0),
            ("full_threshold", lambda: _threshold(cv2.GaussianBlur(gray, (3, 3), 0), 41), 1.0),
        ]
        for stage, make, scale in attempts:
            found = self._zbar(make(), scale, ox, oy, stage)
            if found:
                self.stats[stage] = self.stats.get(stage, 0) + 1
                return found
        self.stats["none"] = self.stats.get("none", 0) + 1
        return []

    def _ladder(self, gray: Image, ox: int, oy: int) -> list[DecodedCode]:
        """The retry ladder (:mod:`hardware.qr.ladder`): where zxing-cpp located a code it
        could not read, then on texture candidates, each rung of :data:`ladder.RUNGS` in
        turn, then pyzbar on a region where a code was located; stops when the images read
        reach ``ladder_budget`` times the frame's area (a pyzbar read counts 4 times); then
        the grid reader (:meth:`_grid`), which has its own bound."""
        if self.ladder_budget <= 0:
            return []
        candidates = ladder.find_candidates(gray)
        boxes = _merge(self._located, candidates, limit=self.max_regions)
        budget = self.ladder_budget * gray.size
        zx: Any = self._zx
        views: list[Region] = []
        for box in boxes:
            view, x0, y0 = ladder.crop_view(gray, box)
            if view.crop.size == 0:
                continue
            located = box in self._located
            for_zbar: list[tuple[str, Image]] = []
            for rung in ladder.RUNGS:
                if budget <= 0:
                    break
                img = rung.make(view)
                budget -= img.size
                found = self._zxing_decode(img, 1.0 / view.scale, ox + x0, oy + y0, rung.name,
                                           binarizer=getattr(zx.Binarizer, rung.binarizer),
                                           errors=self._errors)
                if found:
                    self.stats[rung.name] = self.stats.get(rung.name, 0) + 1
                    return found
                located = located or bool(self._errors)
                if rung.zbar:
                    for_zbar.append((f"{rung.name}_zbar", img))
            views.append(Region(view, x0, y0, box in candidates, located))
            for stage, img in for_zbar if located and budget > 0 else ():  # the other decoder
                if budget <= 0:
                    break
                budget -= 4 * img.size
                found = self._zbar(img, 1.0 / view.scale, ox + x0, oy + y0, stage)
                if found:
                    self.stats[stage] = self.stats.get(stage, 0) + 1
                    return found
        for box in candidates:  # a texture region the ladder did not look at (a located
            if box not in boxes:  # box held its centre): the finders may still be there
                view, x0, y0 = ladder.crop_view(gray, box)
                views.append(Region(view, x0, y0, True, False))
        found = self._grid(views, ox, oy)
        if found:
            self.stats["grid"] = self.stats.get("grid", 0) + 1
        return found

    def _grid(self, views: list[Region], ox: int, oy: int) -> list[DecodedCode]:
        """The module grid read by :mod:`hardware.qr.grid`, from the corners of three finder
        patterns found by :mod:`hardware.qr.finders` in each texture region, and from the
        corners OpenCV's ArUco QR detector finds in every region (as it is, normalised, both
        polarities), only in a frame where zxing-cpp located a code (a texture region beside
        the located one often holds the whole code); at most ``grid_tries`` fits a frame."""
        if self.grid_tries <= 0 or not any(r.located for r in views):
            return []  # zxing-cpp saw no code anywhere: nothing to look for (idle frames)
        tries = 0
        for view, x0, y0, texture, _located in views:
            normalised = ladder.local_normalise(view.smoothed, 25)  # at crop scale: cheap
            smooth = cv2.GaussianBlur(view.clean.astype(np.float32), (0, 0), 0.8)
            for candidates in self._finder_fits(normalised, smooth) if texture else ():
                if tries >= self.grid_tries:
                    return []
                tries += 1
                fitted = grid.fit_finders(smooth, candidates)
                code = self._read_grid(smooth, fitted, ox + x0, oy + y0)
                if code is not None:
                    return [code]
            if self._aruco is None:
                self._aruco = cv2.QRCodeDetectorAruco()
            images = [(normalised, 1.0), (255 - normalised, 1.0),
                      (view.clean, 1.0), (255 - view.clean, 1.0)]
            tried: list[grid.Corners] = []
            for corners in grid.corner_sets(self._aruco, images):
                if any(float(np.abs(corners - c).max()) < 1.0 for c in tried):
                    continue  # the same symbol found in another image
                if tries >= self.grid_tries:
                    return []
                tries += 1
                tried.append(corners)
                for fitted in grid.fit(smooth, corners):
                    code = self._read_grid(smooth, fitted, ox + x0, oy + y0)
                    if code is not None:
                        return [code]
        return []

    @staticmethod
    def _finder_fits(normalised: Image, smooth: Image
                     ) -> Iterator[list[tuple[int, grid.Corners]]]:
        """For each set of three finders :mod:`hardware.qr.finders` finds in a region (the
        region turned upright for the search), the (version, corners) it suggests, in the
        region's own pixels; sets whose finders do not look like finders are skipped."""
        turned, back = finders.upright(normalised.astype(np.float32))
        for found in finders.finders(turned):
            for triple in finders.triples(found):
                candidates = [(v, cv2.transform(triple.corners(grid.size(v))[:, None],
                                                back)[:, 0].astype(np.float32))
                              for v in grid.nearest_versions(triple.modules())]
                if max(grid.finder_score(smooth, c, v) for v, c in candidates) >= FINDERS:
                    yield candidates  # else three blobs, not finders (eyes, screen texture)

    def _read_grid(self, img: Image, fitted: grid.Grid | None, ox: int, oy: int
                   ) -> DecodedCode | None:
        if fitted is None:
            return None
        seen = list(grid.margins(img, fitted))
        for margin in seen:
            text = self._read_pure(grid.symbol(margin, fitted.version))
            if text is not None:
                return DecodedCode(text, _rect(fitted.corners, ox, oy), "QRCODE", "grid")
        for margin in seen:  # the least certain codewords erased: up to twice the errors
            dark = erasure.clean_symbol(margin, fitted.version) if self.erasures else None
            text = self._read_pure(grid.render(dark)) if dark is not None else None
            if text is not None:
                self.stats["erasure"] = self.stats.get("erasure", 0) + 1
                return DecodedCode(text, _rect(fitted.corners, ox, oy), "QRCODE", "grid")
        return None

    def _read_pure(self, symbol: Image) -> str | None:
        zx: Any = self._zx
        for res in zx.read_barcodes(symbol, formats=zx.BarcodeFormat.QRCode, is_pure=True):
            text = self._accept(bytes(res.bytes)) if res.valid else None
            if text is not None:
                return text
        return None

    def _accept(self, raw: bytes) -> str | None:
        try:
            return sanitise(raw, self.max_len)
        except PayloadRejected:
            return None

    def _zbar(self, img: Image, scale: float, ox: int, oy: int,
              stage: str) -> list[DecodedCode]:
        out = []
        for sym in pyzbar.decode(img, symbols=_QR):
            text = self._accept(sym.data)
            if text is None:
                continue
            r = sym.rect
            rect = (int(r.left * scale) + ox, int(r.top * scale) + oy,
                    int(r.width * scale), int(r.height * scale))
            out.append(DecodedCode(text, rect, "QRCODE", stage))
        return out

    def _zxing_decode(self, img: Image, scale: float, ox: int, oy: int, stage: str, *,
                      binarizer: Any = None, errors: list[Roi] | None = None
                      ) -> list[DecodedCode]:
        """Codes zxing-cpp reads; codes it locates but cannot read go to ``_located`` (frame
        pixels, for the retry ladder)."""
        zx: Any = self._zx
        out = []
        if stage == "zxing_half":
            self._located = []
        if errors is not None:
            errors.clear()
        kw: dict[str, Any] = {"return_errors": True}
        if binarizer is not None:
            kw["binarizer"] = binarizer
        for res in zx.read_barcodes(img, formats=zx.BarcodeFormat.QRCode, **kw):
            p = res.position
            xs = [p.top_left.x, p.top_right.x, p.bottom_right.x, p.bottom_left.x]
            ys = [p.top_left.y, p.top_right.y, p.bottom_right.y, p.bottom_left.y]
            rect = (int(min(xs) * scale) + ox, int(min(ys) * scale) + oy,
                    int((max(xs) - min(xs)) * scale), int((max(ys) - min(ys)) * scale))
            if not res.valid:
                if stage in ("zxing_half", "zxing") and len(self._located) < 2:
                    self._located.append((rect[0] - ox, rect[1] - oy, rect[2], rect[3]))
                elif errors is not None:
                    errors.append(rect)
                continue
            text = self._accept(bytes(res.bytes))
            if text is None:
                continue
            out.append(DecodedCode(text, rect, "QRCODE", stage))
        return out


def _rect(corners: grid.Corners, ox: int, oy: int) -> tuple[int, int, int, int]:
    x, y = corners.min(axis=0)
    w, h = corners.max(axis=0) - corners.min(axis=0)
    return int(x) + ox, int(y) + oy, int(w), int(h)


def _merge(first: list[Roi], then: list[Roi], *, limit: int) -> list[Roi]:
    """``first`` then the boxes of ``then`` whose centre lies in none of those, ``limit``
    in all."""
    out = list(first[:limit])
    for box in then:
        if len(out) >= limit:
            break
        cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
        if not any(x <= cx <= x + w and y <= cy <= y + h for x, y, w, h in out):
            out.append(box)
    return out


def _threshold(gray: Image, block: int) -> Image:
    out: Image = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C,
                                            cv2.THRESH_BINARY, block, 4)
    return out


FrameSource = Callable[[], "Image | None"]


def preview_frames(camera: Camera, active: Callable[[], bool], *,
                   min_interval_s: float = 0.25) -> FrameSource:
    """A frame source over ``camera.preview()``: a copy of each new frame, at most one per
    ``min_interval_s`` (4 a second find a code held still), and only while ``active()``
    (nobody needs a code now, or the camera is busy with faces)."""
    last_seq, last_at = -1, 0.0

    def source() -> Image | None:
        nonlocal last_seq, last_at
        if not active():
            return None
        now = time.monotonic()
        if now - last_at < min_interval_s:
            return None
        preview = camera.preview()
        if preview is None or preview.seq == last_seq:
            return None
        last_seq, last_at = preview.seq, now
        frame: Image = preview.frame.copy()
        return frame

    return source


class CameraQrWatcher:
    """Decode frames from ``source`` on a worker thread; ``CodeScanned(source=camera)`` goes
    to the sink given to :meth:`start`.

    ``source`` returns the latest frame or ``None`` (no new frame). Repeats of the same code
    within ``dedup_window_s`` are dropped. ``roi`` limits decoding to a part of the frame
    (for instance the marked "hold your code here" area).
    """

    def __init__(self, source: FrameSource, *, decoder: FrameDecoder | None = None,
                 roi: Roi | None = None, dedup_window_s: float = 2.0,
                 interval_s: float = 0.05) -> None:
        self.source = source
        self._sink: EventSink | None = None
        self.decoder = decoder or FrameDecoder()
        self.roi = roi
        self.interval_s = interval_s
        self._dedup = Deduplicator(dedup_window_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.frames = 0

    def start(self, sink: EventSink) -> None:
        if self._thread is None:
            self._sink = sink
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="qr-camera", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None
        self._sink = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.source()
            except Exception:  # a camera hiccup must not end the watcher
                log.exception("frame source failed")
                frame = None
            if frame is None:
                self._stop.wait(self.interval_s)
                continue
            self.frames += 1
            try:
                codes = self.decoder.decode(frame, self.roi)
            except Exception:  # one bad frame must not end the watcher
                log.exception("qr decode failed")
                continue
            for code in codes:
                sink = self._sink
                if sink is not None and self._dedup.accept(code.data, time.monotonic()):
                    try:
                        sink(CodeScanned(code.data, "camera"))
                    except Exception:
                        log.exception("qr event listener failed")
