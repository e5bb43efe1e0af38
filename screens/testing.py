"""A driver for the touchscreen: tests and the demo walkthrough play journeys with it.

It runs the real KioskApp in this process (Xvfb when there is no display), pumps Kivy's
event loop from the caller's thread, taps widgets with simulated touches through Kivy's
input pipeline, and saves screenshots. Kivy creates its window once per process: use one
driver per process.

    with KioskDriver(artifacts="demo-output") as ui:
        ui.wait_for_screen("attract")
        ui.insert_card("chen")            # the ID-card simulator, or journey.handle_card
        ui.wait_for_screen("home")
        ui.tap("matter:sb-record-print"); ui.shot("guide")
        ...
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from screens.xvfb import Xvfb

log = logging.getLogger("screens.testing")

ROOT = Path(__file__).resolve().parents[1]
CITIZENS_FILE = ROOT / "config" / "demo" / "citizens.yaml"


class DriverError(AssertionError):
    """A step did not happen in time (the message says where the UI was)."""


# the counters that show a device served a request: a card read (or a read that failed), a
# code read or refused, frames handed to a face check, a print job; not idle polling or
# frame grabbing. A name ending in "_" is a prefix.
SERVED = {"idcard": ("reads", "errors", "checksum_errors", "partial_frames", "endless_streams"),
          "qr": ("reads", "duplicates", "rejected_"),
          "camera": ("served",),
          "printer": ("prints", "prints_")}
# taps that mean the kiosk is to use a device next
DEVICE_TAPS = {"face_agree": "camera", "deliver:print": "printer"}


@dataclass(frozen=True)
class _Meant:
    device: str
    why: str
    served: int  # the device's served count when the driver meant to use it


@dataclass(frozen=True)
class DemoCard:
    """An IdCardData-like value for ``journey.handle_card`` when no reader is present."""

    card_type: str
    name: str
    id_number: str
    valid_from: dt.date
    valid_to: dt.date | None
    id_number_valid: bool = True


def demo_citizen(key: str) -> dict[str, Any]:
    data = yaml.safe_load(CITIZENS_FILE.read_text(encoding="utf-8"))
    for person in data["citizens"]:
        if person["key"] == key:
            return dict(person)
    raise KeyError(key)


def demo_enterprise(key: str) -> dict[str, Any]:
    data = yaml.safe_load(CITIZENS_FILE.read_text(encoding="utf-8"))
    for ent in data["enterprises"]:
        if ent["key"] == key:
            return dict(ent)
    raise KeyError(key)


def demo_card(key: str) -> DemoCard:
    p = demo_citizen(key)
    valid_to = p["valid_to"]
    return DemoCard(card_type=p["card_type"], name=p["name"], id_number=str(p["id_number"]),
                    valid_from=p["valid_from"],
                    valid_to=None if valid_to == "长期" else valid_to)


def sim_config(var_dir: Path, width: int = 1080, height: int = 1920,
                profile: str = "simulation", extra: dict[str, Any] | None = None) -> Any:
    """A simulation config whose state (databases, spool, secrets) lives in ``var_dir``."""
    from kiosk.config.loader import deep_merge, load_config

    site: dict[str, Any] = {
        "var_dir": str(var_dir),
        "ui": {"fullscreen": False, "width": width, "height": height, "voice": False},
    }
    if extra:
        site = deep_merge(site, extra)
    path = var_dir / "site.yaml"
    path.write_text(yaml.safe_dump(site, allow_unicode=True), encoding="utf-8")
    return load_config(path, profile=profile, environ={})


class KioskDriver:
    """Plays the touchscreen like a citizen would. See the module docstring."""

    def __init__(self, core: Any = None, *, cfg: Any = None, width: int = 1080,
                 height: int = 1920, artifacts: str | Path | None = None,
                 var_dir: str | Path | None = None, extra_config: dict[str, Any] | None = None,
                 use_xvfb: bool | None = None,
                 on_built: Callable[[Any], None] | None = None) -> None:
        """``on_built(app)`` runs between building the app and starting it (a test's way
        to change the kiosk in that window)."""
        self.width, self.height = width, height
        self._on_built = on_built
        self.artifacts = Path(artifacts) if artifacts else None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if var_dir is None and core is None and cfg is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="kiosk-ui-")
            var_dir = self._tmp.name
        self.var_dir = Path(var_dir) if var_dir else None
        self._extra = extra_config
        self.cfg = cfg
        self.core = core
        self._own_core = core is None
        self._use_xvfb = (not os.environ.get("DISPLAY")) if use_xvfb is None else use_xvfb
        self.xvfb: Xvfb | None = None
        self.app: Any = None
        self._step = 0
        self._idle_end: float | None = None
        self.render_s = 0.0  # seconds spent swapping buffers (see _time_flips)
        self._watched: list[str] = []
        self._holding = False
        self.exposed: list[str] = []  # "<needle tail> on <screen>": shown whole, not held
        self.revealed: list[str] = []  # the same, while a reveal button was held
        self._meant: list[_Meant] = []  # device paths the driver meant a journey to use

    # -- lifecycle --------------------------------------------------------------------------
    def start(self, timeout: float = 60.0, first_screen: str = "attract") -> KioskDriver:
        if self._use_xvfb:
            self.xvfb = Xvfb(self.width, self.height).start()
        if self.core is None:
            if self.cfg is None:
                assert self.var_dir is not None
                self.var_dir.mkdir(parents=True, exist_ok=True)
                self.cfg = sim_config(self.var_dir, self.width, self.height,
                                       extra=self._extra)
            from kiosk.compose import build

            self.core = build(self.cfg)
        from screens.app import build_app

        self.app = build_app(self.core, fullscreen=False)
        if self._on_built is not None:
            self._on_built(self.app)
        self.app._run_prepare()  # noqa: SLF001 - Kivy's own split of App.run()
        from kivy.base import EventLoop

        EventLoop.status = "started"  # as runTouchApp would leave it
        self._time_flips()
        if first_screen == "attract":
            self.wait_for_screen("attract", timeout)
        else:  # a service screen shown over the attract state (out_of_service, closed)
            self.run_until(lambda: self.screen == first_screen, timeout,
                           f"screen {first_screen!r}")
        self.run_until(lambda: bool(self.vm.matters) or bool(self.vm.matters_error),
                       timeout, "matter catalogue")
        self.frames.reset()
        return self

    def _time_flips(self) -> None:
        """Leave buffer swaps out of the frame gaps: under Xvfb a swap is software rendering
        (0.2 s a frame at 1080x1920 on two shared cores), not work the UI thread could avoid;
        what remains is the UI thread's own work between frames. Swap time is summed apart."""
        from kivy.core.window import Window

        flip = Window.flip
        self.render_s = 0.0

        def timed_flip() -> None:
            t0 = time.perf_counter()
            flip()
            spent = time.perf_counter() - t0
            self.render_s += spent
            self.frames.exclude(spent)

        Window.flip = timed_flip

    def stop(self) -> None:
        try:
            if self.app is not None:
                self.app.shutdown()
                self.app.stop()
        finally:
            if self._own_core and self.core is not None:
                self.core.stop()
            if self.xvfb is not None:
                self.xvfb.stop()
            if self._tmp is not None:
                self._tmp.cleanup()

    def __enter__(self) -> KioskDriver:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, *exc: object) -> None:
        try:
            if et is None:
                self.assert_devices_used()
        finally:
            self.stop()

    # -- the device paths the journeys meant to use --------------------------------------
    def served(self, device: str) -> int:
        """How many requests ``device`` served so far (its :data:`SERVED` counters)."""
        slot = self.core.devices[device]
        counters = dict(slot.device.counters) if slot.device is not None else {}
        names = SERVED[device]
        return sum(n for k, n in counters.items()
                   if any(k.startswith(p) if p.endswith("_") else k == p for p in names))

    def _mean(self, device: str, why: str) -> None:
        self._meant.append(_Meant(device, why, self.served(device)))

    def device_use(self) -> dict[str, dict[str, Any]]:
        """Per device: how often the driver meant it to be used, how many requests it served
        since, and which of those meanings it never served (before the next one)."""
        out: dict[str, dict[str, Any]] = {}
        for device in SERVED:
            meant = [m for m in self._meant if m.device == device]
            if not meant:
                continue
            now = self.served(device)
            ends = [m.served for m in meant[1:]] + [now]
            unused = [m.why for m, end in zip(meant, ends, strict=True) if end <= m.served]
            out[device] = {"meant": len(meant), "served": now - meant[0].served,
                           "unused": unused}
        return out

    def assert_devices_used(self) -> None:
        """DriverError when a device the driver meant a journey to use (a card placed on the
        reader, a code shown to the scanner, a face check agreed to, a print chosen) served
        nothing before the next such step: a journey that went around it."""
        unused = [f"{device} ({', '.join(use['unused'])})"
                  for device, use in self.device_use().items() if use["unused"]]
        if unused:
            raise DriverError("device paths meant but never used: " + "; ".join(unused))

    # -- state ------------------------------------------------------------------------------
    @property
    def vm(self) -> Any:
        return self.app.vm

    @property
    def journey(self) -> Any:
        return self.core.journey

    @property
    def frames(self) -> Any:
        return self.app.frames

    @property
    def screen(self) -> str:
        """The name of the screen shown now."""
        return str(self.app.root_widget.ids.sm.current)

    @property
    def busy_shown(self) -> bool:
        """The busy overlay covers the screen (taps wait). The face screen shows its own
        progress while the kiosk works: the citizen can still use it then."""
        overlay = self.app.busy_overlay
        return bool(self.vm.busy) and overlay is not None and overlay.parent is not None

    @property
    def message(self) -> str:
        """The banner's text ('' when none is shown)."""
        return str(self.vm.message) if self.app.banner.parent is not None else ""

    # -- the event loop ---------------------------------------------------------------------
    def pump(self, frames: int = 1) -> None:
        """Turn the event loop ``frames`` times. The driver's own work between turns
        (finding widgets, checking predicates) is left out of the frame-gap measurement."""
        from kivy.base import EventLoop

        for _ in range(frames):
            if self._idle_end is not None and self.app is not None:
                self.frames.exclude(time.perf_counter() - self._idle_end)
            EventLoop.idle()
            if self._watched:
                self._check_exposures()
            self._idle_end = time.perf_counter()

    def run_until(self, predicate: Callable[[], bool], timeout: float = 10.0,
                  what: str = "condition") -> None:
        """Pump frames until ``predicate()`` holds; DriverError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if predicate():
                return
            if time.monotonic() > deadline:
                raise DriverError(f"timed out waiting for {what} (screen {self.screen!r}, "
                                  f"state {self.core.session.state.value!r}, "
                                  f"message {self.vm.message!r}, busy {self.vm.busy_text!r}"
                                  f"{self._service_detail()})")

    def _service_detail(self) -> str:
        """Why the kiosk is not in service, if it is not: the gate's reasons and the
        devices' statuses, so a timeout at the out-of-service screen says which fault."""
        try:
            shown, now = self.app.gate_status, self.app.diag.gate.status()
            if shown.mode == now.mode == "in_service":
                return ""
            slots = self.core.devices
            devices = {name: slots[name].status.value for name in slots}
            return (f", screens' gate {shown.mode}: {shown.reasons('en')}, gate now "
                    f"{now.mode}: {now.reasons('en')}, devices {devices}")
        except Exception as exc:  # the detail must never hide the timeout itself
            return f", gate unknown ({exc!r})"

    def advance(self, seconds: float) -> None:
        """Let the UI run for ``seconds`` (animations, rotating notices)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.pump()

    def wait_for_screen(self, name: str, timeout: float = 15.0) -> None:
        self.run_until(lambda: self.screen == name and self.vm.state == name
                       and not self.vm.busy, timeout, f"screen {name!r}")
        self.pump(2)

    def wait_idle(self, timeout: float = 15.0) -> None:
        self.run_until(lambda: not self.vm.busy, timeout, "the kiosk to finish working")
        self.pump(2)

    # -- finding and touching -------------------------------------------------------------
    def _walk(self) -> Iterator[Any]:
        from kivy.core.window import Window

        stack = list(Window.children)
        while stack:
            widget = stack.pop()
            yield widget
            stack.extend(widget.children)

    def _visible(self, widget: Any) -> bool:
        w: Any = widget
        while w is not None:
            if getattr(w, "opacity", 1) == 0 or getattr(w, "disabled", False):
                return False
            from kivy.uix.screenmanager import Screen

            if isinstance(w, Screen) and w.manager is not None and w.manager.current != w.name:
                return False
            parent = w.parent
            if parent is w:
                break
            w = parent
        return widget.width > 0 and widget.height > 0

    def find(self, target: str) -> Any:
        """A visible, enabled widget whose ``name`` is ``target`` (else whose text is)."""
        by_text = None
        for widget in self._walk():
            if not self._visible(widget):
                continue
            if getattr(widget, "name", None) == target and hasattr(widget, "dispatch"):
                from kivy.uix.screenmanager import Screen

                if not isinstance(widget, Screen):
                    return widget
            if by_text is None and getattr(widget, "text", None) == target:
                by_text = widget
        return by_text

    def names(self) -> list[str]:
        """Names of the visible tappable widgets (for a script author)."""
        return sorted({w.name for w in self._walk() if getattr(w, "name", "")
                       and self._visible(w) and hasattr(w, "on_release")})

    @staticmethod
    def _scroller(widget: Any) -> Any:
        from kivy.uix.scrollview import ScrollView

        parent = widget.parent
        while parent is not None and parent is not parent.parent:
            if isinstance(parent, ScrollView):
                return parent
            parent = parent.parent
        return None

    def _scroll_into_view(self, widget: Any) -> bool:
        from kivy.uix.scrollview import ScrollView

        parent = widget.parent
        while parent is not None and parent is not parent.parent:
            if isinstance(parent, ScrollView):
                content = parent.children[0] if parent.children else None
                if content is not None and content.height > parent.height:
                    parent.scroll_to(widget, padding=20, animate=False)
                    self.pump(2)
                return True
            parent = parent.parent
        return False

    def dismiss(self) -> str:
        """Close the message banner if one is shown (as a citizen would); returns its text."""
        text = self.message
        if text:
            widget = self.find("dismiss")
            if widget is not None:
                x, y = widget.to_window(*widget.center)
                self.tap_at(x, y)
                self.run_until(lambda: not self.message, 5, "banner closed")
        return text

    def tap(self, target: str, timeout: float = 10.0) -> None:
        """Touch the centre of the widget named (or labelled) ``target`` (closing a message
        banner first, as a citizen would, unless the target is on the banner)."""
        if target != "dismiss" and self.message:
            self.dismiss()
        found: list[Any] = []

        def ready() -> bool:
            if self.busy_shown:
                return False
            widget = self.find(target)
            if widget is not None:
                found.append(widget)
                return True
            return False

        try:
            self.run_until(ready, timeout, f"widget {target!r}")
        except DriverError as exc:
            raise DriverError(f"{exc}; visible: {self.names()}") from None
        widget = found[-1]
        in_scroll = self._scroll_into_view(widget)
        # wait until layout settles (a keypad closing resizes the list above it)
        last = None
        settle = time.monotonic() + 2.0
        scroller = self._scroller(widget)
        while time.monotonic() < settle:
            pos = (widget.to_window(*widget.center), tuple(widget.size))
            moving = scroller is not None and (
                abs(scroller.effect_y.velocity) > 1e-3 or scroller.effect_y.is_manual)
            if pos == last and not moving:
                break
            last = pos
            self.pump()
        x, y = widget.to_window(*widget.center)
        if target in DEVICE_TAPS and self.core.devices[DEVICE_TAPS[target]].device is not None:
            self._mean(DEVICE_TAPS[target], target)
        self.tap_at(x, y)
        if in_scroll:  # a ScrollView releases a short tap to its child ~0.2 s later
            self.advance(0.3)

    def tap_at(self, x: float, y: float) -> None:
        from kivy.tests.common import UnitTestTouch

        touch = UnitTestTouch(x, y)
        touch.touch_down()
        self.pump(1)
        touch.touch_up()
        self.pump(2)

    def double_tap(self, target: str) -> None:
        """Two quick taps on the same widget (a citizen's double tap)."""
        widget = self.find(target)
        if widget is None:
            raise DriverError(f"no widget {target!r}; visible: {self.names()}")
        x, y = widget.to_window(*widget.center)
        from kivy.tests.common import UnitTestTouch

        for _ in range(2):
            touch = UnitTestTouch(x, y)
            touch.touch_down()
            touch.touch_up()
        self.pump(3)

    def type_text(self, text: str, field: str | None = None) -> None:
        """Focus ``field`` (a widget name such as ``field:phone``), then press the keys of
        the on-screen keypad or keyboard for each character."""
        if field is not None:
            self.tap(field)
        for ch in text:
            key = "<space>" if ch == " " else ch.upper() if ch.isalpha() else ch
            self.tap(f"key:{key}")

    # -- screenshots ------------------------------------------------------------------------
    def screenshot(self, path: str | Path) -> Path:
        """Save what the window shows now as a PNG."""
        from kivy.core.window import Window
        from kivy.graphics.opengl import GL_RGB, GL_UNSIGNED_BYTE, glReadPixels
        from PIL import Image

        self.pump(2)
        Window.canvas.ask_update()
        self.pump(1)
        width, height = Window.size
        data = glReadPixels(0, 0, width, height, GL_RGB, GL_UNSIGNED_BYTE)
        image = Image.frombytes("RGB", (width, height), data).transpose(
            Image.Transpose.FLIP_TOP_BOTTOM)
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(out)
        self.frames.pause()  # reading pixels is not part of the citizen's experience
        return out

    def shot(self, step: str) -> Path | None:
        """Numbered screenshot of a step in ``artifacts`` (``03-guide.png``)."""
        if self.artifacts is None:
            return None
        self._step += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", step)
        return self.screenshot(self.artifacts / f"{self._step:02d}-{safe}.png")

    # -- the world: simulators (or the journey directly when a device is missing) ---------
    @property
    def sim(self) -> Any:
        """The simulated world (:class:`kiosk.simulation.SimulationControls`), or None."""
        return self.core.simulation

    def insert_card(self, key: str) -> str:
        """Place demo card ``key`` on the simulated reader ('simulator'), or hand it to the
        journey when the kiosk has no reader configured at all ('journey'). A reader that is
        configured but not simulated (a real port) is a DriverError: the card would go
        around the reader path the test means to exercise."""
        sim = self.sim
        if sim is not None and sim.has("idcard"):
            self._mean("idcard", f"card {key}")
            sim.insert_card(key)
            return "simulator"
        if self.core.cfg.idcard.enabled:
            raise DriverError("a card reader is configured but no simulator serves it: "
                              "the driver does not hand the card to the journey past it")
        self.journey.handle_card(demo_card(key))
        return "journey"

    def remove_card(self) -> None:
        sim = self.sim
        if sim is not None and sim.has("idcard"):
            sim.remove_card()

    def show_code(self, key: str) -> str:
        """Show a fresh identity code of citizen ``key`` to the scanner (or the journey)."""
        number = str(demo_citizen(key)["id_number"])
        sim = self.sim
        if sim is None or sim.issue_code is None:
            raise DriverError("the backend cannot issue identity codes")
        code = sim.issue_code(number)
        if sim.has("qr"):
            self._mean("qr", f"code of {key}")
            sim.scan(code)
            return "simulator"
        if self.core.cfg.qr.enabled:
            raise DriverError("a code scanner is configured but no simulator serves it: "
                              "the driver does not hand the code to the journey past it")
        self.journey.handle_code(code)
        return "journey"

    def present_face(self, who: str | None) -> None:
        sim = self.sim
        if sim is not None and sim.has("camera"):
            sim.present_face(who)

    def paper_out(self, out: bool = True) -> None:
        self.sim.paper(out)

    def backend_cut(self, cut: bool = True) -> None:
        self.sim.backend_cut(cut)

    @contextlib.contextmanager
    def hold(self, target: str, seconds: float = 0.6) -> Iterator[Any]:
        """Press and keep pressing the widget named ``target`` (a reveal button) until the
        block ends; a ScrollView hands a still finger to its child after ~0.2 s."""
        widget = self.find(target)
        if widget is None:
            raise DriverError(f"no widget {target!r}; visible: {self.names()}")
        self._scroll_into_view(widget)
        from kivy.tests.common import UnitTestTouch

        x, y = widget.to_window(*widget.center)
        touch = UnitTestTouch(x, y)
        self._holding = True
        try:
            touch.touch_down()
            self.advance(seconds)
            yield widget
        finally:
            touch.touch_up()
            self.pump(2)
            self._holding = False
        self.pump(2)

    # -- privacy checks ---------------------------------------------------------------------
    def label_texts(self) -> list[str]:
        """The text of every label and button drawn, or ready to be drawn, by any loaded
        screen, the chrome and the overlays (what a passer-by could read)."""
        from kivy.uix.label import Label

        seen: set[int] = set()
        texts: list[str] = []
        stack = list(self._walk()) + list(self.app.screens.values())
        while stack:
            w = stack.pop()
            if id(w) in seen:
                continue
            seen.add(id(w))
            if isinstance(w, Label) and w.text:
                texts.append(w.text)
            stack.extend(w.children)
        return texts

    def watch_identifiers(self, needles: list[str]) -> None:
        """From now on, after every frame, record any of ``needles`` (ID numbers, credit
        codes, phone numbers) that a label shows whole: in :attr:`exposed`, or in
        :attr:`revealed` while :meth:`hold` presses a reveal button."""
        self._watched = [n for n in needles if n]

    def _check_exposures(self) -> None:
        text = "\n".join(self.label_texts())
        for needle in self._watched:
            if needle in text:
                entry = f"…{needle[-4:]} on {self.screen}"
                target = self.revealed if self._holding else self.exposed
                if entry not in target:
                    target.append(entry)

    def visible_texts(self) -> list[str]:
        """Every text held by any widget of every loaded screen and overlay."""
        texts: list[str] = []
        widgets = list(self._walk())
        for scr in self.app.screens.values():
            stack = [scr]
            while stack:
                w = stack.pop()
                widgets.append(w)
                stack.extend(w.children)
        for w in widgets:
            for attr in ("text", "value", "label", "source", "error", "hint"):
                value = getattr(w, attr, None)
                if isinstance(value, str) and value:
                    texts.append(value)
        return texts

    def personal_leftovers(self, needles: list[str]) -> list[str]:
        """Where any of ``needles`` (names, ID numbers, codes) survives: widgets, screen
        and view-model properties, session data, files under the var dir."""
        found: list[str] = []
        haystacks: dict[str, str] = {"widgets": "\n".join(self.visible_texts())}
        for name, scr in self.app.screens.items():
            props = {k: getattr(scr, k) for k in scr.properties()}
            haystacks[f"screen:{name}"] = repr(props) + repr(vars(scr))
        haystacks["viewmodel"] = repr({k: getattr(self.vm, k) for k in self.vm.properties()
                                       if k != "core"}) + repr(self.vm.notices)
        haystacks["session"] = repr(self.core.session.data)
        haystacks["journey"] = repr(vars(self.journey))
        for where, text in haystacks.items():
            for needle in needles:
                if needle and needle in text:
                    found.append(f"{needle!r} in {where}")
        if self.var_dir is not None and self.var_dir.exists():
            for path in self.var_dir.rglob("*"):
                if not path.is_file() or "platform" in path.name or "printer-spool" in path.parts:
                    continue  # the government's database; the paper handed to the citizen
                try:
                    blob = path.read_bytes()
                except OSError:
                    continue
                for needle in needles:
                    if needle and needle.encode() in blob:
                        found.append(f"{needle!r} in file {path.name}")
        return found
