"""The ID-card reader driver: find -> select -> read over the SAM protocol, polling, status."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, NoReturn

from hardware.base import (
    Canceled,
    Deadline,
    Device,
    DeviceError,
    DeviceEvent,
    DeviceNotReady,
    DeviceStatus,
    DeviceTimeout,
    HardwareError,
    HealthLevel,
    HealthResult,
    InvalidData,
)
from hardware.events import CardInserted, CardRead, CardReadFailed, CardRemoved
from hardware.idcard import protocol as p
from hardware.idcard.card import IdCardData
from hardware.idcard.config import IdCardConfig
from hardware.idcard.photo import WltDecoder
from hardware.idcard.transport import SerialTransport

if TYPE_CHECKING:  # the simulator is imported only where a sim:// port asks for it
    from hardware.idcard.simulator import IdCardSimulator

log = logging.getLogger("hardware.idcard")

DRIVER_VERSION = "1.0"
NOT_CONNECTED = "ID-card reader: not connected (unplugged or no power)"
CHECKSUM_RETRIES = 2
SILENT_RETRIES = 1  # a command the SAM did not answer is asked again once before "hardware_error"
# command -> (SAM processing allowance in s, expected response length in bytes)
COMMAND_TIMING: dict[p.Command, tuple[float, int]] = {
    p.Command.RESET: (1.0, 11),
    p.Command.SAM_STATUS: (0.5, 11),
    p.Command.SAM_ID: (0.5, 27),
    p.Command.FIND: (0.5, 15),
    p.Command.SELECT: (0.5, 19),
    p.Command.READ: (1.5, 1295),
}
_OUTCOME_ERRORS: dict[p.Outcome, tuple[type[DeviceError], str]] = {
    p.Outcome.NO_CARD: (DeviceNotReady, "no_card"),
    p.Outcome.NO_CONTENT: (InvalidData, "invalid_data"),
    p.Outcome.CHECKSUM: (InvalidData, "checksum"),
    p.Outcome.PROTOCOL: (InvalidData, "invalid_data"),
    p.Outcome.CARD_ERROR: (HardwareError, "sam_error"),
    p.Outcome.SAM_FAULT: (HardwareError, "sam_error"),
    p.Outcome.UNKNOWN_CARD: (InvalidData, "unknown_card"),
}
# the most a response may take on the wire: the largest frame and some line noise before it
MAX_RESPONSE_BYTES = p.HEADER_LEN + p.MAX_FRAME_LEN + 512
# failures after select that may mean the card left the field
_MAYBE_REMOVED = frozenset({"partial", "sam_error", "no_card", "timeout"})


def wire_time_s(nbytes: int, baud: int) -> float:
    """Time ``nbytes`` take on an 8N1 line (10 bits per byte)."""
    return nbytes * 10.0 / baud


class IdCardReader(Device):
    """A SAM ID-card reader on a serial port (or the simulator's pty).

    Status: online / no_device / hardware_error with details ``card`` (absent|present).
    :meth:`start` polls in the background and emits CardInserted, CardRead, CardRemoved and
    CardReadFailed (:mod:`hardware.events`). A ``simulator`` (what a ``sim://`` port
    started) is owned by the reader and stopped by :meth:`close`.
    """

    name = "idcard"

    def __init__(self, cfg: IdCardConfig, transport: SerialTransport, *,
                 photo_decoder: WltDecoder | None = None,
                 simulator: IdCardSimulator | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.transport = transport
        self.photo_decoder = photo_decoder
        self.simulator = simulator  # owned: stopped by close()
        self._io = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._sam_id: str | None = None
        self._present = False  # a card was read and has not left the field yet
        self._last_error: str | None = None
        self._details["card"] = "absent"

    # -- low level ------------------------------------------------------------------------
    def _ensure_open(self) -> None:
        if not self.transport.is_open:
            try:
                self.transport.open()
            except DeviceNotReady:
                self._update(DeviceStatus.NO_DEVICE)
                raise

    def _command_deadline(self, command: p.Command, outer: Deadline) -> Deadline:
        allowance, reply = COMMAND_TIMING.get(command, (0.5, 64))
        seconds = allowance + wire_time_s(10, self.transport.baud) \
            + 1.5 * wire_time_s(reply, self.transport.baud)
        return Deadline(min(seconds, outer.remaining()), outer.cancel)

    def _exchange(self, command: p.Command, outer: Deadline) -> p.Response:
        """Send ``command`` and return its response; retries checksum errors."""
        frame = p.build_command(command)
        what = command.name.lower()
        for _attempt in range(1 + CHECKSUM_RETRIES):
            deadline = self._command_deadline(command, outer)
            deadline.check(what)
            self.transport.discard_input()
            self.transport.write(frame)
            try:
                response = self._read_response(deadline, what)
            except p.ProtocolError as exc:
                if exc.detail != "checksum":
                    raise InvalidData(f"{what}: malformed response", detail="invalid_data") \
                        from None
                self.count("checksum_errors")
                continue
            if response.status.outcome is p.Outcome.CHECKSUM:
                self.count("checksum_errors")
                continue
            return response
        self._update(DeviceStatus.HARDWARE_ERROR)  # line noise or a baud mismatch
        raise InvalidData(f"{what}: checksum errors on every attempt", detail="checksum")

    def _read_response(self, deadline: Deadline, what: str) -> p.Response:
        """One response frame, by ``deadline`` and within :data:`MAX_RESPONSE_BYTES`.

        The deadline is checked before every read, also while bytes keep arriving: a reader
        that streams noise without end is refused (``invalid_data``) instead of holding the
        caller (and the poller's lock) for as long as it sends.
        """
        decoder = p.FrameDecoder()
        gap = max(0.2, wire_time_s(64, self.transport.baud))  # silence inside a frame
        received = 0
        while True:
            payload = decoder.next_payload()
            if payload is not None:
                if decoder.skipped:
                    self.count("resyncs")
                return p.parse_response_payload(payload)
            if deadline.cancel.is_set():
                raise Canceled(f"{what}: canceled", detail="canceled")
            if received >= MAX_RESPONSE_BYTES or (received and deadline.expired):
                if decoder.in_frame and received < MAX_RESPONSE_BYTES:
                    self.count("partial_frames")
                    raise InvalidData(f"{what}: the response did not complete in time",
                                      detail="partial")
                self._noise(what, received)
            wait = deadline.remaining()
            if decoder.in_frame:
                wait = min(wait, gap)
            want = min(decoder.needed(), MAX_RESPONSE_BYTES - received)
            chunk = self.transport.read_some(want, wait)
            if chunk:
                received += len(chunk)
                decoder.feed(chunk)
                continue
            if decoder.in_frame:
                self.count("partial_frames")
                raise InvalidData(f"{what}: the response stopped mid-frame", detail="partial")
            if deadline.remaining() <= 0 and not deadline.cancel.is_set():
                if received:
                    self._noise(what, received)
                raise DeviceTimeout(f"{what}: no response from the SAM", detail="timeout")

    def _noise(self, what: str, received: int) -> NoReturn:
        """Bytes until the deadline or the cap, and no frame: line noise, a baud mismatch or
        a device that streams without end."""
        self.count("endless_streams")
        self.transport.discard_input()
        self._update(DeviceStatus.HARDWARE_ERROR)
        raise InvalidData(f"{what}: the reader sent {received} bytes without a valid frame",
                          detail="invalid_data")

    def _ok(self, response: p.Response, what: str) -> p.Response:
        status = response.status
        if status.ok:
            return response
        kind, detail = _OUTCOME_ERRORS[status.outcome]
        if status.outcome is p.Outcome.SAM_FAULT:
            self._update(DeviceStatus.HARDWARE_ERROR)
        raise kind(f"{what}: SAM status 0x{status.sw3:02X} ({status.text})", detail=detail)

    def _command(self, command: p.Command, outer: Deadline) -> p.Response:
        for attempt in range(1 + SILENT_RETRIES):
            try:
                response = self._exchange(command, outer)
                break
            except DeviceNotReady as exc:
                if exc.detail == "no_device":
                    self._lost()
                raise
            except DeviceTimeout:
                if outer.expired:
                    raise
                # the SAM missed its answer: once is a slow moment (a loaded line), asked
                # again; silent again is a hardware error (it takes a kiosk out of service)
                self.count("timeouts")
                if attempt == SILENT_RETRIES:
                    self._update(DeviceStatus.HARDWARE_ERROR)
                    raise
        if response.status.outcome is not p.Outcome.SAM_FAULT:
            self._update(DeviceStatus.ONLINE)
        return response

    def _lost(self) -> None:
        self.transport.close()
        self._present = False
        self._update(DeviceStatus.NO_DEVICE, card="absent")

    # -- operations -----------------------------------------------------------------------
    def _find(self, deadline: Deadline) -> bool:
        response = self._command(p.Command.FIND, deadline)
        if response.status.outcome is p.Outcome.NO_CARD:
            return False
        self._ok(response, "find")
        return True

    def _card_in_field(self, deadline: Deadline) -> bool:
        """Whether a card (new or already read) is in the field: find, then select."""
        if self._find(deadline):
            return True
        response = self._command(p.Command.SELECT, deadline)
        return response.status.ok

    def _select_and_read(self, deadline: Deadline) -> IdCardData:
        try:
            self._ok(self._command(p.Command.SELECT, deadline), "select")
            response = self._ok(self._command(p.Command.READ, deadline), "read")
        except DeviceError as exc:
            if exc.detail in _MAYBE_REMOVED and not self._still_there(deadline):
                raise DeviceNotReady("the card left the field during the read",
                                     detail="removed_mid_read") from None
            raise
        try:
            blocks = p.parse_read_data(response.data)
            card = p.parse_text(blocks.text, blocks.photo)
        except p.ProtocolError as exc:
            detail = exc.detail if exc.detail in ("partial", "unknown_card") else "invalid_data"
            raise InvalidData(f"read: {exc}", detail=detail) from None
        self.count("reads")
        return card

    def _still_there(self, deadline: Deadline) -> bool:
        probe = Deadline(max(0.5, deadline.remaining()), deadline.cancel)
        try:
            return self._card_in_field(probe)
        except DeviceError:
            return True  # cannot tell: report the original error

    def read_card(self, deadline: Deadline) -> IdCardData:
        """Wait for a card until ``deadline``, then find -> select -> read it.

        Raises DeviceError subclasses with ``detail`` in no_card, timeout, checksum,
        sam_error, partial, no_device, removed_mid_read, invalid_data, unknown_card.
        """
        seen_empty = False
        while True:
            with self._io:
                self._ensure_open()
                try:
                    found = self._find(deadline)
                except DeviceTimeout:
                    if seen_empty and deadline.expired:
                        raise DeviceNotReady("no card in the field", detail="no_card") from None
                    raise
                if found:
                    try:
                        card = self._select_and_read(deadline)
                    except DeviceError:
                        self.count("errors")
                        raise
                    self._present = True
                    self._update(card="present")
                    return card
            seen_empty = True
            wait = min(self.cfg.poll_interval_s, deadline.remaining())
            if wait <= 0:
                raise DeviceNotReady("no card in the field", detail="no_card")
            if deadline.cancel.wait(wait):
                raise Canceled("waiting for a card: canceled", detail="canceled")

    def sam_id(self) -> str:
        """The SAM module's id, e.g. ``05.01-20180402-0000123456-2018040201``."""
        with self._io:
            self._ensure_open()
            deadline = Deadline(max(1.0, self.cfg.read_timeout_s))
            response = self._ok(self._command(p.Command.SAM_ID, deadline), "sam_id")
            try:
                self._sam_id = p.parse_sam_id(response.data)
            except p.ProtocolError as exc:
                raise InvalidData(f"sam_id: {exc}", detail="invalid_data") from None
            return self._sam_id

    def reset(self) -> None:
        """Reset the SAM and forget the card state."""
        with self._io:
            self._ensure_open()
            self._ok(self._command(p.Command.RESET, Deadline(2.0)), "reset")
            self._present = False
            self._update(card="absent")

    def decode_photo(self, card: IdCardData) -> bytes | None:
        """The decoded photo (BMP) when a WLT decoder is configured, else None."""
        if self.photo_decoder is None or not card.photo:
            return None
        return self.photo_decoder.decode(card.photo)

    # -- polling --------------------------------------------------------------------------
    def _start(self) -> None:
        """Ask the SAM for its id once (so the status is known when start returns, as the
        printer's first refresh does), then poll for cards on a background thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._probe()
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll_loop, name="idcard-poll", daemon=True)
        self._thread.start()

    def _probe(self) -> None:
        with self._io:
            try:
                self._ensure_open()
                if self._sam_id is None:
                    deadline = Deadline(min(1.0, self.cfg.read_timeout_s), self._stop)
                    self._sam_id = p.parse_sam_id(
                        self._ok(self._command(p.Command.SAM_ID, deadline), "sam_id").data)
            except (DeviceError, p.ProtocolError) as exc:  # the poller tries again
                log.info("idcard: first probe failed (%s)", getattr(exc, "detail", exc))

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            events: list[DeviceEvent] = []
            try:
                self.poll_once(events)
            except Exception:  # the poller must survive anything; no personal data is logged
                log.exception("idcard poll failed")
            for event in events:
                self.emit(event)
            self._stop.wait(self.cfg.poll_interval_s)

    def poll_once(self, events: list[DeviceEvent]) -> None:
        """One polling step; appends the events it produces to ``events``."""
        with self._io:
            deadline = Deadline(self.cfg.read_timeout_s, self._stop)
            try:
                self._ensure_open()
                if self._sam_id is None:
                    self._sam_id = p.parse_sam_id(
                        self._ok(self._command(p.Command.SAM_ID, deadline), "sam_id").data)
                if self._find(deadline):
                    if self._present:
                        self._present = False
                        events.append(CardRemoved())
                    self._read_placed(deadline, events)
                elif self._present:
                    if not self._card_in_field(deadline):
                        self._present = False
                        self._last_error = None
                        self._update(card="absent")
                        events.append(CardRemoved())
                else:
                    self._last_error = None
                    self._update(card="absent")
            except (DeviceError, p.ProtocolError) as exc:
                self.count("poll_errors")
                if isinstance(exc, DeviceError) and exc.detail == "no_device":
                    self._lost()

    def _read_placed(self, deadline: Deadline, events: list[DeviceEvent]) -> None:
        self._update(card="present")
        self.emit(CardInserted())  # now, not after the read: "reading your card..."
        try:
            card = self._select_and_read(deadline)
        except Canceled:
            raise
        except DeviceError as exc:
            self.count("errors")
            if exc.detail == "removed_mid_read":
                self._update(card="absent")
            if exc.detail != self._last_error:
                self._last_error = exc.detail
                events.append(CardReadFailed(exc.detail, exc.message))
            if exc.detail == "no_device":
                self._lost()
            return
        self._last_error = None
        self._present = True
        events.append(CardRead(card))

    def close(self) -> None:
        """Stop polling, close the port and any simulator this reader started."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._thread = None
        with self._io:
            self.transport.close()
        if self.simulator is not None:
            self.simulator.close()
            self.simulator = None
        self._update(DeviceStatus.OFFLINE)
        super().close()

    # -- description ----------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        return {
            "card_types": ["resident", "hk_mo_tw", "foreign_permanent"],
            "baud_rates": list(p.BAUD_RATES),
            "photo_format": "wlt",
            "photo_decoder": self.photo_decoder is not None,
            "fingerprint": False,
        }

    def inventory(self) -> dict[str, Any]:
        return {
            "sam_id": self._sam_id,
            "baud": self.transport.baud,
            "port": self.cfg.port,
            "path": self.transport.path,
            "driver_version": DRIVER_VERSION,
            "simulated": self.simulator is not None,
        }

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult:
        if level is HealthLevel.INTERNAL:
            status = self.status
            if status is DeviceStatus.NO_DEVICE:  # unplugged: say so plainly
                return HealthResult(self.name, level, False, status, NOT_CONNECTED,
                                    {"card": "absent", "error": "no_device"})
            return super().check_health(level)
        details: dict[str, Any] = {"card": self.details.get("card", "absent")}
        try:
            if level is HealthLevel.EXTERNAL:
                with self._io:
                    self._ensure_open()
                    self._ok(self._command(p.Command.SAM_STATUS, Deadline(2.0)), "sam_status")
                details["sam_id"] = self.sam_id()
                text = "ID-card reader: SAM answers"
            else:
                card = self.read_card(Deadline(max(10.0, self.cfg.read_timeout_s)))
                details.update(card_type=card.card_type)
                card.wipe()
                text = "ID-card reader: a card was read"
        except DeviceError as exc:
            return HealthResult(self.name, level, False, self.status,
                                f"ID-card reader: {exc.message}", {**details, "error": exc.detail})
        return HealthResult(self.name, level, True, self.status, text, details)
