"""The production policy: settings that are unsafe on a kiosk serving citizens.

In the ``production`` profile each rule below refuses the configuration (exit 2, the key
path), unless the configuration names an override for exactly that key with a reason::

    policy:
      allow_unsafe:
        face.liveness: "pilot site, liveness camera on order (ticket OPS-1234)"

Overrides in force are logged as warnings when the kiosk starts and printed by
``kiosk config check``; an override for a setting that is safe is reported as unused.
The simulation profile is not checked (it runs simulators and demo data by design).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from kiosk.config.schema import UNSAFE_KEYS, KioskConfig

# face.threshold is a maximum face distance: higher accepts more impostors. On real photos
# (kiosk/face/README.md) the default 0.542 measured under 0.1 % FAR on the report split, 0.56
# 0.19 %, 0.60 0.9 % (platform reference).
FACE_THRESHOLD_MAX = 0.58


@dataclass(frozen=True)
class Unsafe:
    """One unsafe setting: its key path, the value in force and why it is unsafe."""

    key: str
    value: object
    why: str


@dataclass(frozen=True)
class PolicyReport:
    """Unsafe settings without an override, overrides in force, and unused overrides."""

    refused: list[Unsafe]
    allowed: list[tuple[Unsafe, str]]
    unused: list[str]


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_camera_device(source: str) -> bool:
    """A V4L2 index (``0``) or device node (``/dev/video0``, ``/dev/v4l/by-id/...``)."""
    return source.isdigit() or source.startswith("/dev/")


def _face(cfg: KioskConfig) -> list[Unsafe]:
    out = []
    if not cfg.face.enabled:
        out.append(Unsafe("face.enabled", False, "face verification is off: anyone holding "
                          "a card can act as its holder"))
    elif not cfg.face.liveness:
        out.append(Unsafe("face.liveness", False, "liveness detection is off: a printed photo "
                          "or a screen passes face verification"))
    elif not cfg.face.blink:
        out.append(Unsafe("face.blink", False, "the blink challenge is off: fewer challenges "
                          "for a replayed video to match (kiosk/face/README.md)"))
    if cfg.face.enabled and cfg.face.threshold > FACE_THRESHOLD_MAX:
        out.append(Unsafe("face.threshold", cfg.face.threshold,
                          f"above the production maximum {FACE_THRESHOLD_MAX} (a face distance: "
                          "higher accepts more impostors; the default is 0.542)"))
    return out


def _camera(cfg: KioskConfig) -> list[Unsafe]:
    if not cfg.face.enabled:
        return []
    if not cfg.camera.enabled:
        return [Unsafe("camera.enabled", False, "the camera is off, so no face is verified")]
    if not is_camera_device(cfg.camera.source):
        return [Unsafe("camera.source", cfg.camera.source, "not a camera device (an image "
                       "folder or a video file replays faces instead of looking at one)")]
    return []


def _backend(cfg: KioskConfig) -> list[Unsafe]:
    b = cfg.backend
    if b.kind == "embedded":
        out = [Unsafe("backend.kind", "embedded", "the embedded reference platform is a "
                      "local demo, not the government platform")]
        if b.seed_demo:
            out.append(Unsafe("backend.seed_demo", True, "demo citizens and certificates "
                              "would be served"))
        return out
    out = []
    if not b.verify_tls:
        out.append(Unsafe("backend.verify_tls", False, "the platform's TLS certificate is not "
                          "verified: anyone on the network path can read citizens' data"))
    parts = urlsplit(b.url or "")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        out.append(Unsafe("backend.url", b.url, "plain http to a host that is not this "
                          "machine: citizens' data would cross the network unencrypted"))
    return out


def _fleet(cfg: KioskConfig) -> list[Unsafe]:
    f = cfg.fleet
    if f.enabled and not f.tls and not is_loopback(f.broker_host):
        return [Unsafe("fleet.tls", False, f"the MQTT broker {f.broker_host} is reached "
                       "without TLS (commands and configuration in clear text)")]
    return []


RULES: tuple[Callable[[KioskConfig], list[Unsafe]], ...] = (_face, _camera, _backend, _fleet)
POLICY_KEYS = frozenset(UNSAFE_KEYS)


def unsafe_settings(cfg: KioskConfig) -> list[Unsafe]:
    """Every unsafe setting of ``cfg`` (checked in the production profile only)."""
    if cfg.profile != "production":
        return []
    return [u for rule in RULES for u in rule(cfg)]


def evaluate(cfg: KioskConfig) -> PolicyReport:
    """Split the unsafe settings into refused and allowed (by an override)."""
    overrides = cfg.policy.allow_unsafe
    found = unsafe_settings(cfg)
    refused = [u for u in found if u.key not in overrides]
    allowed = [(u, overrides[u.key]) for u in found if u.key in overrides]
    hit = {u.key for u in found}
    unused = sorted(k for k in overrides if k not in hit) if cfg.profile == "production" else []
    return PolicyReport(refused, allowed, unused)


def refusal(u: Unsafe) -> str:
    return (f"{u.key}: {u.why} (got {u.value!r}); refused in production unless the site "
            f"file sets policy.allow_unsafe.{u.key}: <reason>")


def warnings(report: PolicyReport) -> list[str]:
    """Operator-facing lines for the overrides in force and the unused ones."""
    lines = [f"unsafe setting allowed by policy.allow_unsafe: {u.key} = {u.value!r} "
             f"({u.why}); reason given: {reason}" for u, reason in report.allowed]
    lines += [f"policy.allow_unsafe.{key}: not needed (the setting is safe)"
              for key in report.unused]
    return lines
