"""A SAM ID-card reader simulator on a pty: the real frames, paced at the baud rate.

The simulator holds a deck of cards (YAML), one card in the field at a time, and injects
faults (:data:`hardware.sim.url.FAULTS` ``["idcard"]``). ``sim://idcard?...`` opens one
(:meth:`IdCardSimulator.from_url`); it is controlled through its control socket (JSON lines,
:mod:`hardware.sim.control`)::

    {"op": "insert", "key": KEY} | {"op": "remove"} | {"op": "fault", "kind": NAME, "times": N}
    {"op": "fault", "kind": "none"} | {"op": "unplug"} | {"op": "plug"} | {"op": "status"}
    {"op": "cards"}

``plug`` (alias ``replug``) opens a new pty, as does clearing the faults (``none``) of an
unplugged reader: the reader comes back healthy and the driver finds it by itself.

``status`` answers ``path``, ``card`` (the key in the field), ``fault``, ``baud``, ``commands``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import threading
import time
import tty
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from hardware.idcard import protocol as p
from hardware.idcard.card import LONG_TERM, IdCardData
from hardware.sim.control import ControlError, ControlServer, Reply
from hardware.sim.people import PEOPLE_FILE
from hardware.sim.url import FAULTS as ALL_FAULTS
from hardware.sim.url import SimUrl

DECKS = {"demo": PEOPLE_FILE}
DEFAULT_SAM_ID = "05.01-20180402-0000123456-2018040201"
FAULTS = tuple(ALL_FAULTS["idcard"])
GARBAGE = b"\x00\xff\xaa\xaa\x13\xaa\xaa\xaa\x96\x00\x55"


class DeckError(ValueError):
    """A deck file that cannot be loaded."""


def wlt_photo(key: str) -> bytearray:
    """A deterministic stand-in for a card's 1024-byte WLT photo."""
    out = bytearray()
    block = key.encode()
    while len(out) < p.PHOTO_LEN:
        block = hashlib.sha256(block).digest()
        out += block
    return out[:p.PHOTO_LEN]


def _as_date(value: Any, what: str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise DeckError(f"{what}: not a date") from exc


def card_from_entry(entry: Mapping[str, Any]) -> IdCardData:
    """One deck entry (the shape of config/demo/citizens.yaml) as card data."""
    try:
        key = str(entry["key"])
        card_type = str(entry.get("card_type", "resident"))
        nation_raw = entry.get("nation")
        nation = None
        if nation_raw is not None:
            nation = p.NATIONS.get(f"{nation_raw}".zfill(2), str(nation_raw))
        valid_to_raw = entry.get("valid_to", LONG_TERM)
        number = str(entry["id_number"])
        card = IdCardData(
            card_type=card_type, name=str(entry["name"]), sex=str(entry["sex"]), nation=nation,
            birth_date=_as_date(entry["birth_date"], f"{key}.birth_date"),
            address=str(entry.get("address", "")), id_number=number,
            issuer=str(entry.get("issuer", "")),
            valid_from=_as_date(entry["valid_from"], f"{key}.valid_from"),
            valid_to=None if valid_to_raw == LONG_TERM else _as_date(valid_to_raw,
                                                                     f"{key}.valid_to"),
            photo=wlt_photo(key),
        )
        for extra in ("pass_number", "issue_count", "en_name", "nationality", "card_version",
                      "authority_code"):
            if entry.get(extra) is not None:
                setattr(card, extra, str(entry[extra]))
        p.encode_text(card)  # must fit the card's fields
        return card
    except KeyError as exc:
        raise DeckError(f"deck entry without {exc.args[0]!r}") from None
    except p.ProtocolError as exc:
        raise DeckError(f"deck entry {entry.get('key')!r}: {exc}") from None


def load_deck(source: str | Path = "demo") -> dict[str, IdCardData]:
    """Cards by key from a YAML file with a ``cards:`` or ``citizens:`` list (or ``demo``)."""
    path = DECKS.get(str(source), Path(source))
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DeckError(f"cannot load deck {str(source)!r}: {exc.__class__.__name__}") from None
    entries = (data or {}).get("cards") or (data or {}).get("citizens") or []
    if not isinstance(entries, list):
        raise DeckError("deck: cards must be a list")
    return {str(e["key"]): card_from_entry(e) for e in entries}


class IdCardSimulator:
    """Serves a pty that answers like a SAM reader; see the module doc for its control."""

    @classmethod
    def from_url(cls, url: SimUrl, *, baud: int, control_path: str) -> IdCardSimulator:
        """Start the simulator ``sim://idcard?...`` describes, its control socket at
        ``control_path``; raises :class:`DeckError` for a deck that cannot be loaded."""
        deck = load_deck(url["cards"])
        if url["insert"] is not None and url["insert"] not in deck:
            raise DeckError(f"no card {url['insert']!r} in the deck")
        sim = cls(deck, baud=url["baud"] or baud, control_path=control_path)
        if url["fault"]:
            sim.set_fault(url["fault"], url["times"])
        if url["insert"]:
            sim.insert(url["insert"])
        sim.start()
        return sim

    def __init__(self, deck: Mapping[str, IdCardData] | None = None, *, baud: int = 115200,
                 fault: str | None = None, sam_id: str = DEFAULT_SAM_ID,
                 control_path: str | None = None) -> None:
        self.deck = dict(load_deck("demo") if deck is None else deck)
        self.baud = baud
        self.sam_id = sam_id
        self.control_path = control_path
        self.path = ""
        self.commands = 0  # frames answered
        self.read_started = threading.Event()  # set when a read response starts streaming
        self._lock = threading.RLock()
        self._card: str | None = None
        self._card_gen = 0
        self._read_done = False
        self._fault: str | None = None
        self._fault_times: int | None = None
        if fault:
            self.set_fault(fault)
        self._master: int | None = None
        self._slave: int | None = None
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        self._thread: threading.Thread | None = None
        self._control: ControlServer | None = None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> str:
        """Open the pty and serve it on a thread; returns the pty path."""
        self._open_pty()
        self._thread = threading.Thread(target=self._serve, name="idcard-sim", daemon=True)
        self._thread.start()
        if self.control_path is not None:
            self._control = ControlServer(self.control_path, self.control, name="idcard-sim")
            self._control.start()
        return self.path

    def _open_pty(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)

    def _close_pty(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self._close_pty()
            self.path = ""
        if self._control is not None:
            self._control.close()
            self._control = None
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    close = stop  # the simulator kit's name: the device that owns it calls close()

    def __enter__(self) -> IdCardSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # -- commands -------------------------------------------------------------------------
    @property
    def card(self) -> str | None:
        return self._card

    @property
    def fault(self) -> str | None:
        return self._fault

    def insert(self, key: str) -> None:
        """Place the deck's card ``key`` in the field (a fresh placement)."""
        if key not in self.deck:
            raise KeyError(key)
        with self._lock:
            self._card = key
            self._card_gen += 1
            self._read_done = False

    def remove(self) -> None:
        with self._lock:
            self._card = None
            self._card_gen += 1
            self._read_done = False

    def set_fault(self, name: str | None, times: int | None = None) -> None:
        """Inject ``name`` (one of :data:`FAULTS`) for ``times`` triggers (None: until cleared)."""
        if name in (None, "", "none"):
            name = None
        elif name not in FAULTS:
            raise ValueError(f"unknown fault {name!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._fault, self._fault_times = name, times

    def unplug(self) -> None:
        """The reader vanishes: the pty closes (its path disappears)."""
        with self._lock:
            self._close_pty()
            self.path = ""
        self._wake()

    def replug(self) -> str:
        """The reader comes back on a new pty; returns its path."""
        with self._lock:
            if self._master is None:
                self._open_pty()
        self._wake()
        return self.path

    def _take_fault(self, *names: str) -> str | None:
        with self._lock:
            if self._fault not in names:
                return None
            fault = self._fault
            if self._fault_times is not None:
                self._fault_times -= 1
                if self._fault_times <= 0:
                    self._fault, self._fault_times = None, None
            return fault

    # -- serving --------------------------------------------------------------------------
    def _serve(self) -> None:
        decoder = p.FrameDecoder()
        frame_start = 0.0
        while not self._stop.is_set():
            master = self._master
            fds = [self._wake_r] if master is None else [self._wake_r, master]
            try:
                ready, _, _ = select.select(fds, [], [])
            except (OSError, ValueError):
                continue
            if self._wake_r in ready:
                with contextlib.suppress(OSError):
                    os.read(self._wake_r, 64)
                continue
            if master is None or master not in ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:
                continue
            now = time.monotonic()
            if not decoder.in_frame:
                frame_start = now
            decoder.feed(data)
            while True:
                try:
                    payload = decoder.next_payload()
                except p.ProtocolError:
                    self._respond(master, p.build_response(0x10), frame_start, None)
                    continue
                if payload is None:
                    break
                frame_len = p.HEADER_LEN + len(payload) + 1
                ready_at = frame_start + frame_len * 10.0 / self.baud
                try:
                    self._handle(master, payload, ready_at)
                except p.ProtocolError:
                    self._respond(master, p.build_response(0x11), ready_at, None)
                frame_start = time.monotonic()

    def _handle(self, master: int, payload: bytes, ready_at: float) -> None:
        self.commands += 1
        command, _cmd, _para, _data = p.parse_command_payload(payload)
        if self._take_fault("silent"):
            return  # no answer at all: the driver's deadline decides
        if self._take_fault("sam_60"):
            self._respond(master, p.build_response(0x60), ready_at, None)
            return
        with self._lock:
            card = self._card
            gen = self._card_gen
        cut: str | None = None
        if command in (p.Command.RESET, p.Command.SAM_STATUS):
            frame = p.build_response(0x90)
        elif command is p.Command.SAM_ID:
            frame = p.build_response(0x90, p.build_sam_id(self.sam_id))
        elif command is p.Command.FIND:
            found = card is not None and not self._read_done and not self._take_fault("no_card")
            frame = p.build_response(0x9F, bytes(4)) if found else p.build_response(0x80)
        elif command is p.Command.SELECT:
            sam = self._take_fault("sam_31", "sam_32") if card is not None else None
            if sam:
                frame = p.build_response(int(sam[-2:], 16))
            elif card is not None and not self._take_fault("no_card"):
                frame = p.build_response(0x90, bytes(8))
            else:
                frame = p.build_response(0x81)
        elif command in (p.Command.READ, p.Command.READ_FINGERPRINT) and card is not None:
            if self._take_fault("sam_41"):
                frame = p.build_response(0x41)
            else:
                holder = self.deck[card]
                text, photo = p.encode_text(holder), bytes(holder.photo)
                data = p.build_read_data(text, photo)
                if command is p.Command.READ_FINGERPRINT:
                    data = data[:4] + b"\x00\x00" + data[4:]
                frame = p.build_response(0x90, data)
                cut = self._take_fault("partial", "unplug", "remove_mid_read")
                self.read_started.set()
                if self._send_read(master, frame, ready_at, cut, gen):
                    with self._lock:
                        if self._card_gen == gen:
                            self._read_done = True
                return
        elif command in (p.Command.READ, p.Command.READ_FINGERPRINT):
            frame = p.build_response(0x41)
        elif command is p.Command.READ_NEW_ADDRESS:
            frame = p.build_response(0x91)
        elif command is not None and command.value[0] == 0x60:
            frame = p.build_response(0x90)
            self._respond(master, frame, ready_at, None)
            rates = {c: b for b, c in p.BAUD_COMMANDS.items()}
            self.baud = rates[command]
            return
        else:
            frame = p.build_response(0x21)
        self._respond(master, frame, ready_at, None)

    def _respond(self, master: int, frame: bytes, start: float, gen: int | None) -> bool:
        if self._take_fault("checksum"):
            frame = frame[:-1] + bytes([frame[-1] ^ 0x5A])
        if self._fault == "garbage":
            frame = GARBAGE + frame
        return self._paced_write(master, frame, start, gen)

    def _send_read(self, master: int, frame: bytes, start: float, cut: str | None,
                   gen: int) -> bool:
        """Stream a read response; True when it went out whole."""
        if cut is None:
            return self._respond(master, frame, start, gen)
        half = frame[: len(frame) // 2]
        self._paced_write(master, half, start, gen)
        if cut == "unplug":
            self.set_fault(None)  # a replugged reader comes back healthy
            self.unplug()
        elif cut == "remove_mid_read":
            self.remove()
        return False

    def _paced_write(self, master: int, data: bytes, start: float, gen: int | None) -> bool:
        """Write ``data`` no faster than the wire; stop early on removal, unplug or stop."""
        byte_time = 10.0 / self.baud
        step = max(1, self.baud // 5000)  # about 2 ms of bytes per write
        for i in range(0, len(data), step):
            chunk = data[i:i + step]
            due = start + (i + len(chunk)) * byte_time
            delay = due - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return False
            if gen is not None and self._card_gen != gen:
                return False  # the card left the field: the SAM stops sending
            if self._master != master:
                return False
            try:
                os.write(master, chunk)
            except OSError:
                return False
        return True

    # -- control ------------------------------------------------------------------------
    def control(self, op: str, request: Mapping[str, Any]) -> Reply:
        """One control request (see the module doc) -> its reply fields."""
        if op == "insert":
            key = str(request["key"])
            if key not in self.deck:
                raise ControlError("no_such_card", f"no card {key!r} in the deck")
            self.insert(key)
        elif op == "remove":
            self.remove()
        elif op == "fault":
            kind = str(request["kind"])
            if kind != "none" and kind not in FAULTS:
                raise ControlError("unknown_fault", f"idcard faults: {', '.join(FAULTS)}")
            times = request.get("times")
            self.set_fault(kind, int(times) if times is not None else None)
            if kind == "none" and not self.path:
                self.replug()  # no fault left: an unplugged reader is plugged back in
        elif op == "unplug":
            self.unplug()
        elif op in ("plug", "replug"):
            return {"path": self.replug()}
        elif op == "status":
            return {"path": self.path, "card": self._card, "fault": self._fault,
                    "baud": self.baud, "commands": self.commands}
        elif op == "cards":
            return {"cards": sorted(self.deck)}
        else:
            raise ControlError("unknown_op", f"idcard ops: insert, remove, fault, unplug, "
                               f"plug, status, cards (not {op!r})")
        return {}
