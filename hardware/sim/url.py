"""``sim://NAME?param=value&...``: the one registry and parser of simulator URLs.

Like pyserial's URL handlers (``loop://``, ``spy://``), a ``sim://`` URL stands where a real
port, camera source or CUPS server would, and opens a simulator that speaks the device's real
protocol. Every simulator's parameters are declared once, in :data:`SPECS`; an unknown
simulator, an unknown or repeated parameter, or a value that does not convert is an error
(:class:`SimUrlError`, naming the parameter), never ignored. :data:`FAULTS` is the one fault
vocabulary (``hardware/sim/README.md`` shows it as a table; a test keeps the two equal).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

SCHEME = "sim"

# device -> fault -> what it does. Armed faults (ID card, printer, camera) stay until the
# control op {"op": "fault", "kind": "none"} (the ID card's take "times": N); the QR
# scanner's happen once, at once.
FAULTS: dict[str, dict[str, str]] = {
    "idcard": {
        "no_card": "find and select answer 'no card' although one is in the field",
        "checksum": "the next responses carry a bad checksum",
        "partial": "the read response stops halfway",
        "garbage": "line noise before every response",
        "unplug": "the reader is unplugged halfway through the read response",
        "remove_mid_read": "the card leaves the field halfway through the read response",
        "sam_31": "select fails: the card did not authenticate the SAM (SW3 0x31)",
        "sam_32": "select fails: the SAM did not authenticate the card (SW3 0x32)",
        "sam_41": "the read fails (SW3 0x41)",
        "sam_60": "every command fails: SAM self-test error (SW3 0x60)",
        "silent": "the SAM does not answer (a late reply on a loaded line, or a dead SAM)",
    },
    "qr": {
        "partial": "a code cut short, without its suffix",
        "garbage": "a line that is not UTF-8",
        "noise": "200 random bytes and the suffix",
        "oversized": "a 5000-byte line",
        "unplug": "the scanner's pty closes (the device node vanishes)",
        "replug": "the scanner comes back on a new pty (same stable link)",
    },
    "camera": {
        "unplug": "no more frames (camera gone) until the fault is cleared",
    },
    "printer": {
        "offline": "connections are refused (printer off or unplugged)",
        "hang": "connections are accepted and never read (a wedged printer)",
        "paper_out": "the first bytes of a job are read, then nothing (out of paper)",
    },
}


class SimUrlError(ValueError):
    """A ``sim://`` URL that does not name a known simulator with known parameters."""


def _flag(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("not a boolean (1/0, true/false)")


def _choice(*options: str) -> Callable[[str], str]:
    def convert(value: str) -> str:
        if value not in options:
            raise ValueError(f"one of {', '.join(options)}")
        return value

    return convert


def _fault(device: str) -> Callable[[str], str]:
    return _choice(*FAULTS[device])


def _positive(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ValueError("a positive integer")
    return number


def _port(value: str) -> int:
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError("a TCP port (0 picks a free one)")
    return number


@dataclass(frozen=True)
class Param:
    """One URL parameter: its converter, default (``None``: not given) and meaning."""

    name: str
    convert: Callable[[str], Any]
    default: Any
    help: str


@dataclass(frozen=True)
class SimSpec:
    """A simulator's URL name, the device it stands for, and its parameters."""

    name: str
    device: str
    params: tuple[Param, ...]
    help: str

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


_CONTROL = Param("control", str, None, "control socket path (default: a private temp dir)")

SPECS: dict[str, SimSpec] = {spec.name: spec for spec in (
    SimSpec("idcard", "idcard", (
        Param("cards", str, "demo", "deck YAML file with a cards: list, or 'demo'"),
        Param("fault", _fault("idcard"), None, "start with this fault armed"),
        Param("times", _positive, None, "the fault applies this many times (default: until "
              "cleared)"),
        Param("baud", _positive, None, "line speed (default: the configured baud)"),
        Param("insert", str, None, "start with this deck card in the field"),
        _CONTROL,
    ), "a SAM ID-card reader on a pty (GA/T 467 frames, paced at the baud rate)"),
    SimSpec("qr", "qr", (
        Param("suffix", _choice("cr", "crlf"), None, "line terminator (default: configured)"),
        Param("trigger", _flag, False, "send codes only while triggered (16 54 0D)"),
        Param("seed", int, 0, "seed of the noise fault"),
        _CONTROL,
    ), "a CR/CRLF-suffix serial QR scanner on a pty"),
    SimSpec("faces", "camera", (
        Param("holder", str, None, "who stands in front of the camera (demo key, "
              "photo:KEY for a printed photo; default nobody)"),
        Param("fault", _fault("camera"), None, "start with this fault armed"),
        _CONTROL,
    ), "a camera filming demo faces that move and act out liveness challenges"),
    SimSpec("printer", "printer", (
        Param("port", _port, 0, "AppSocket port of the emulator (0: a free one)"),
        Param("fault", _fault("printer"), None, "start with this fault armed"),
        Param("paper_out_after", _positive, 64, "bytes a paper_out printer reads first"),
        _CONTROL,
    ), "an AppSocket printer emulator behind a private cupsd with a raw queue"),
)}


@dataclass(frozen=True)
class SimUrl:
    """A parsed ``sim://`` URL: the simulator's spec and every parameter (defaults filled)."""

    url: str
    spec: SimSpec
    params: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.spec.name

    def __getitem__(self, key: str) -> Any:
        return self.params[key]


def is_sim_url(value: str | None) -> bool:
    """True for anything that claims the ``sim://`` scheme (valid or not)."""
    return bool(value) and str(value).startswith(f"{SCHEME}://")


def parse_sim_url(url: str, *, expect: str | None = None) -> SimUrl:
    """Parse ``url`` against :data:`SPECS`; ``expect`` is the device it must stand for.

    Raises :class:`SimUrlError` naming what is wrong (no personal data can be in a URL of
    the configuration, but the message still quotes only parameter names).
    """
    parts = urlsplit(url)
    if parts.scheme != SCHEME:
        raise SimUrlError(f"not a simulator URL (scheme {parts.scheme or 'missing'!r})")
    spec = SPECS.get(parts.netloc)
    if spec is None:
        raise SimUrlError(f"unknown simulator {parts.netloc!r} (known: "
                          f"{', '.join(sorted(SPECS))})")
    if expect is not None and spec.device != expect:
        raise SimUrlError(f"sim://{spec.name} simulates the {spec.device}, not the {expect}")
    if parts.path not in ("", "/") or parts.fragment:
        raise SimUrlError(f"sim://{spec.name}: unexpected path or fragment")
    values: dict[str, Any] = {p.name: p.default for p in spec.params}
    seen: set[str] = set()
    for key, raw in parse_qsl(parts.query, keep_blank_values=True):
        param = spec.param(key)
        if param is None:
            known = ", ".join(p.name for p in spec.params)
            raise SimUrlError(f"sim://{spec.name}: unknown parameter {key!r} (known: {known})")
        if key in seen:
            raise SimUrlError(f"sim://{spec.name}: parameter {key!r} given twice")
        seen.add(key)
        try:
            values[key] = param.convert(raw)
        except ValueError as exc:
            raise SimUrlError(f"sim://{spec.name}: {key}: {exc}") from None
    return SimUrl(url, spec, values)
