"""3D scenes in front of the simulated camera: a live head and presentation attacks.

A portrait (any RGB photo with the positions of the two eyes and the nose) becomes a
textured surface seen through a pinhole camera (640x480, focal 560 px):

- ``head``: a generic face depth (skull ellipsoid, eye sockets, nose ridge and tip, lips)
  turned about the neck: the nose moves against the cheeks (parallax), the far cheek
  foreshortens and is hidden (z-buffer), and the shading follows the surface normals;
- ``flat``: the photo printed on a sheet (flat, moved closer/farther and turned as a whole);
- ``fold``: the sheet folded along the vertical line through the nose (each half planar);
- ``curve``: the sheet bent around a vertical cylinder;
- ``screen``: the photo on a phone screen (flat, emissive, moiré and a glare spot).

The surface is a dense point cloud splatted far-to-near (nearest wins), holes filled from
their neighbours. Units: object coordinates in inter-ocular distances (IOD, 63 mm).
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

Image = npt.NDArray[Any]
Point = tuple[float, float]

FRAME_W, FRAME_H = 640, 480
FOCAL = 560.0  # px: a 60 degree webcam at 640 px
IOD_M = 0.063
TEX_IOD = 72.0  # texture pixels per IOD (about 1.2 per frame pixel at a normal distance)
SURFACES = ("head", "flat", "fold", "curve", "screen")
NECK_DEPTH = 1.6  # IODs behind the eyes: the axis a head turns about


@dataclass(frozen=True)
class Pose3:
    """Where the surface is: angles in degrees (yaw > 0 turns the face to the camera's
    right, i.e. the person's left), distance of the eyes from the camera in metres, offsets
    in metres."""

    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    distance: float = 0.5
    x: float = 0.0
    y: float = 0.0


def _rotation(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    a, b, c = (math.radians(v) for v in (yaw, pitch, roll))
    ry = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    rx = np.array([[1, 0, 0], [0, math.cos(b), -math.sin(b)], [0, math.sin(b), math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    out: npt.NDArray[np.float64] = rz @ rx @ ry
    return out


def head_depth(u: npt.NDArray[np.float64], v: npt.NDArray[np.float64]
               ) -> npt.NDArray[np.float64]:
    """A generic face's depth toward the camera (IODs) at face coordinates (u right, v down,
    eye midpoint at 0, nose base near v = 0.6)."""
    rx, ry, cy = 1.4, 1.95, 0.3
    q = np.clip(1.0 - (u / rx) ** 2 - ((v - cy) / ry) ** 2, 0.0, None)
    skull = 1.5 * (np.sqrt(q) - 1.0)
    ridge = np.clip((v + 0.1) / 0.6, 0.0, 1.0) * np.exp(-((u / 0.16) ** 2))
    ridge *= np.where(v < 0.55, 1.0, np.exp(-(((v - 0.55) / 0.09) ** 2)))
    nose = 0.42 * ridge + 0.12 * np.exp(-((u / 0.3) ** 2 + ((v - 0.52) / 0.12) ** 2))
    sockets = -0.14 * (np.exp(-(((u - 0.5) / 0.22) ** 2 + (v / 0.16) ** 2))
                       + np.exp(-(((u + 0.5) / 0.22) ** 2 + (v / 0.16) ** 2)))
    lips = 0.07 * np.exp(-((u / 0.35) ** 2 + ((v - 0.95) / 0.12) ** 2))
    out: npt.NDArray[np.float64] = skull + nose + sockets + lips
    return out


class Scene:
    """A portrait on one of :data:`SURFACES`; :meth:`render` draws it in a pose."""

    def __init__(self, texture_rgb: Image, eyes: tuple[Point, Point], nose: Point,
                 surface: str = "head", *, fold_deg: float = 35.0, curve_radius: float = 1.3
                 ) -> None:
        if surface not in SURFACES:
            raise ValueError(f"surface: one of {', '.join(SURFACES)}")
        self.surface = surface
        (ax, ay), (bx, by) = sorted(eyes)
        iod = math.hypot(bx - ax, by - ay)
        if iod <= 1:
            raise ValueError("the eyes are not apart")
        s = TEX_IOD / iod
        tex = cv2.resize(texture_rgb, None, fx=s, fy=s,
                         interpolation=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR)
        mx, my = (ax + bx) / 2 * s, (ay + by) / 2 * s
        roll = math.atan2(by - ay, bx - ax)
        if surface == "head":
            extent = (-1.45, 1.45, -1.75, 2.25)
        else:  # the printed photo: head and shoulders as cropped for a portrait
            extent = (-1.9, 1.9, -1.9, 2.9)
        u0, u1, v0, v1 = extent
        # sample the texture on a face-aligned grid (undoing the photo's roll)
        gu, gv = np.meshgrid(np.arange(u0, u1, 1 / TEX_IOD), np.arange(v0, v1, 1 / TEX_IOD))
        c, sn = math.cos(roll), math.sin(roll)
        map_x = (mx + TEX_IOD * (gu * c - gv * sn)).astype(np.float32)
        map_y = (my + TEX_IOD * (gu * sn + gv * c)).astype(np.float32)
        colours = cv2.remap(tex, map_x, map_y, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
        nose_u = ((nose[0] * s - mx) * c + (nose[1] * s - my) * sn) / TEX_IOD
        alpha = np.ones(gu.shape, np.float32)
        if surface == "head":
            z = head_depth(gu - 0.0, gv)
            e = (gu / 1.35) ** 2 + ((gv - 0.3) / 1.9) ** 2
            alpha = np.clip((1.0 - e) / 0.12, 0.0, 1.0).astype(np.float32)
        elif surface == "fold":  # mountain fold along the nose: each half a plane
            z = -np.abs(gu - nose_u) * math.tan(math.radians(fold_deg))
        elif surface == "curve":
            du = np.clip(gu - nose_u, -curve_radius * 0.999, curve_radius * 0.999)
            z = np.sqrt(curve_radius ** 2 - du ** 2) - curve_radius
        else:
            z = np.zeros_like(gu)
        if surface == "screen":
            colours = _screen_look(colours, gu, gv)
        keep = alpha.ravel() > 0.01
        self._grid = colours
        self._keep = keep
        self._extent = extent
        self._expressions: dict[float, Scene] = {}  # shared by the copies: one painting each
        self.points = np.stack([gu.ravel(), gv.ravel(), -z.ravel()], axis=1)[keep]
        self.colours = colours.reshape(-1, 3)[keep]
        self.alpha = alpha.ravel()[keep]
        self.normals = _normals(z)[keep] if surface != "screen" else None
        self.pivot = np.array([0.0, 0.3, NECK_DEPTH if surface == "head" else 0.0])

    def expressed(self, eyes_closed: float = 0.0) -> Scene:
        """This scene with the eyes ``eyes_closed`` (0 open .. 1 shut): the same surface, the
        texture painted (once per degree of shut, kept)."""
        key = round(eyes_closed, 2)
        if self.surface != "head" or key <= 0:
            return self
        out = self._expressions.get(key)
        if out is None:
            grid = _paint_eyelids(self._grid, self._extent, key)
            out = copy.copy(self)
            out.colours = grid.reshape(-1, 3)[self._keep]
            self._expressions[key] = out
        return out

    def render(self, pose: Pose3, background: Image, *, light: float = 1.0) -> Image:
        """A float32 RGB frame: ``background`` (HxWx3) with the surface drawn in ``pose``."""
        h, w = background.shape[:2]
        r = _rotation(pose.yaw, pose.pitch, pose.roll)
        p = (self.points - self.pivot) @ r.T + self.pivot
        p *= IOD_M
        p[:, 0] += pose.x
        p[:, 1] += pose.y
        p[:, 2] += pose.distance
        zc = p[:, 2]
        xs = (FOCAL * p[:, 0] / zc + w / 2).astype(np.int32)
        ys = (FOCAL * p[:, 1] / zc + h / 2).astype(np.int32)
        ok = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
        colours = self.colours
        if self.normals is not None:  # Lambert shading, light from the camera, a bit above
            n = self.normals @ r.T
            light_dir = np.array([0.0, -0.3, -1.0]) / math.hypot(0.3, 1.0)
            shade = 0.72 + 0.28 * np.clip(n @ light_dir, 0.0, 1.0) / 0.96
            colours = colours * shade[:, None].astype(np.float32)
        xs, ys, zc = xs[ok], ys[ok], zc[ok]
        out: Image = np.array(background, dtype=np.float32, copy=True)
        if not xs.size:
            return out
        x0, y0 = int(xs.min()), int(ys.min())
        bw, bh = int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1
        order = np.argsort(-zc)  # far first: the nearest point is written last
        idx = ((ys - y0) * bw + (xs - x0))[order]
        col = np.zeros((bh * bw, 3), np.float32)
        acc = np.zeros(bh * bw, np.float32)
        col[idx] = (colours[ok] * light)[order]
        acc[idx] = self.alpha[ok][order]
        col_img = col.reshape(bh, bw, 3)
        a_img = acc.reshape(bh, bw)
        written = (a_img > 0).astype(np.float32)
        den = cv2.boxFilter(written, -1, (3, 3), normalize=False)
        holes = (written == 0) & (den >= 3)  # inside the surface, not at its edge
        if holes.any():
            num = cv2.boxFilter(col_img, -1, (3, 3), normalize=False)
            anum = cv2.boxFilter(a_img, -1, (3, 3), normalize=False)
            col_img[holes] = num[holes] / den[holes][:, None]
            a_img[holes] = anum[holes] / den[holes]
        a3 = a_img[..., None]
        region = out[y0:y0 + bh, x0:x0 + bw]
        region *= 1.0 - a3
        region += col_img * a3
        return out


def _paint_eyelids(grid: npt.NDArray[np.float32], extent: tuple[float, float, float, float],
                   eyes_closed: float) -> npt.NDArray[np.float32]:
    """Eyelids drawn over both eyes in the face-aligned texture (eyes at u = +-0.5, v = 0)."""
    u0, _u1, v0, _v1 = extent
    h, w = grid.shape[:2]
    gv, gu = np.mgrid[0:h, 0:w].astype(np.float32)
    gu = gu / TEX_IOD + u0
    gv = gv / TEX_IOD + v0
    out = grid.copy()
    for cu in (-0.5, 0.5):
        du = (gu - cu) / 0.3
        inside = np.clip(1.0 - du ** 2, 0.0, None)
        # the closed lid: the skin under the eye, shaded toward the lash line
        cheek = (np.abs(gu - cu) < 0.15) & (gv > 0.2) & (gv < 0.32)
        skin = np.median(grid[cheek], axis=0)
        top, bottom = -0.14 * np.sqrt(inside), 0.09 * np.sqrt(inside)
        shade = (0.97 - 0.1 * np.clip((gv - top) / 0.25, 0.0, 1.0))[..., None]
        m = ((gv > top - 0.03) & (gv < bottom + 0.02) & (inside > 0)).astype(np.float32)
        m = cv2.GaussianBlur(m, (0, 0), 1.5)
        a = (m * eyes_closed)[..., None]
        out = out * (1 - a) + skin * shade * a
        lash = np.exp(-(((gv - bottom + 0.01) / 0.022) ** 2)) * np.clip(inside / 0.12, 0, 1)
        lash = (lash * eyes_closed)[..., None]
        out = out * (1 - 0.85 * lash) + 20.0 * 0.85 * lash
    return out.astype(np.float32)


def _normals(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """Unit normals (object coordinates, toward the camera is -w) of a depth grid."""
    gz_v, gz_u = np.gradient(z, 1 / TEX_IOD)
    n = np.stack([gz_u, gz_v, np.ones_like(z)], axis=-1)  # w = -z: normal (dz/du, dz/dv, 1)
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    n[..., 2] *= -1.0
    out: npt.NDArray[np.float32] = n.reshape(-1, 3).astype(np.float32)
    return out


def _screen_look(colours: npt.NDArray[np.float32], gu: npt.NDArray[np.float64],
                 gv: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """A phone screen: a bluish emissive image with moiré fringes and a glare spot."""
    f = colours / 255.0
    f = np.power(f, 0.85) * 255.0 * np.array([0.95, 1.0, 1.1], np.float32)
    ang = math.radians(17.0)
    phase = (gu * math.cos(ang) + gv * math.sin(ang)) * 2 * math.pi / 0.11
    moire = 1.0 + 0.12 * np.sin(phase) * np.sin(gv * 2 * math.pi / 0.23)
    glare = 80.0 * np.exp(-(((gu - 0.7) / 0.35) ** 2 + ((gv + 0.9) / 0.3) ** 2))
    out: npt.NDArray[np.float32] = (f * moire[..., None] + glare[..., None]).astype(np.float32)
    return out


def on_screen(rgb: Image, seed: float = 0.0) -> Image:
    """A float32 RGB camera frame as a phone screen showing it looks to the kiosk's camera
    (a replayed video): bluish and emissive, moire fringes, a glare spot; the whole view, as
    an attacker holds the phone so that the face fills it as a real one would."""
    h, w = rgb.shape[:2]
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = 0.3 + (seed % 1.0)
    fringes = 1.0 + 0.08 * np.sin((x * math.cos(ang) + y * math.sin(ang)) * 2 * math.pi / 7.0)
    glare = 60.0 * np.exp(-(((x - 0.7 * w) / 60.0) ** 2 + ((y - 0.25 * h) / 45.0) ** 2))
    f = np.power(np.clip(rgb, 0, 255) / 255.0, 0.85) * 255.0
    f = f * np.array([0.95, 1.0, 1.1], np.float32) * fringes[..., None] + glare[..., None]
    out: Image = f.astype(np.float32)
    return out


@functools.cache
def room(seed: int = 0) -> Image:
    """A read-only float32 RGB background: a lit wall."""
    y, x = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    base = 95 + 40 * (x / FRAME_W) + 20 * (y / FRAME_H)
    bg = np.dstack([base * 1.08, base, base * 0.95]).clip(0, 255).astype(np.float32)
    bg.setflags(write=False)
    return bg
