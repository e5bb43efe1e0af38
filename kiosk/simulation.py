"""The simulated world around a kiosk in the simulation profile: what the simulation dock, the
UI driver, the demo and tests do to it, through the simulators' control sockets (the one
control protocol, :mod:`hardware.sim.control`) and the switchable backend.

Nothing here holds a simulator object or reaches into a device: a simulator is a socket path
(``Devices.simulators``), so the same calls work for a simulator in another process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from hardware.sim.control import SimClient, SimControlError
from kiosk.backend.switch import SwitchableBackend

log = logging.getLogger("kiosk.simulation")

IssueCode = Callable[[str], str]
STALE_CODE = "GZID1.offline.offline"  # what a phone without network shows: unverifiable


class SimulationControls:
    """Drive the simulators and the platform link of one kiosk.

    ``controls``: device name -> control socket; ``backend``: the switchable backend of the
    simulation profile (cut/restore), if any; ``issue_code``: the reference platform's
    identity-code issuer (the citizen's phone), if the platform is embedded.
    """

    def __init__(self, controls: Mapping[str, str], *, backend: SwitchableBackend | None = None,
                 issue_code: IssueCode | None = None, timeout: float = 10.0) -> None:
        self.controls = dict(controls)
        self.backend = backend
        self.issue_code = issue_code
        self.timeout = timeout

    def has(self, device: str) -> bool:
        return device in self.controls

    def client(self, device: str) -> SimClient:
        """The control client of ``device``'s simulator (:class:`KeyError` when there is
        none)."""
        return SimClient(self.controls[device], self.timeout)

    def call(self, device: str, op: str, **args: Any) -> dict[str, Any]:
        return self.client(device).call(op, **args)

    # -- ID card --------------------------------------------------------------------------
    def insert_card(self, key: str) -> None:
        self.call("idcard", "insert", key=key)

    def remove_card(self) -> None:
        self.call("idcard", "remove")

    def card_in_field(self) -> str | None:
        """The deck key of the card on the reader, if any."""
        card = self.call("idcard", "status").get("card")
        return str(card) if card is not None else None

    # -- QR scanner and the citizen's phone ----------------------------------------------
    def scan(self, text: str) -> bool:
        """Show ``text`` to the scanner; False when it did not read (trigger mode, idle)."""
        return bool(self.call("qr", "scan", text=text).get("sent"))

    @property
    def can_show_codes(self) -> bool:
        return self.issue_code is not None and self.has("qr")

    def show_identity_code(self, id_number: str) -> bool:
        """The citizen's phone shows a fresh identity code to the scanner (a stale one while
        the platform link is cut: the phone cannot fetch a code either)."""
        if self.issue_code is None:
            return False
        if self.backend is not None and self.backend.is_cut:
            return self.scan(STALE_CODE)
        return self.scan(self.issue_code(id_number))

    # -- camera ---------------------------------------------------------------------------
    def present_face(self, who: str | None) -> None:
        """``key`` (a live person), ``photo:KEY`` (a printed photo) or ``None`` (nobody)."""
        self.call("camera", "present", who=who)

    def camera_frames(self, flowing: bool) -> None:
        """Stop (``False``) or resume the camera's frames."""
        self.call("camera", "fault", kind="none" if flowing else "unplug")

    # -- printer --------------------------------------------------------------------------
    def printer_fault(self, kind: str | None) -> None:
        self.call("printer", "fault", kind=kind or "none")

    def paper(self, out: bool) -> None:
        self.printer_fault("paper_out" if out else None)

    def printed(self, wait_for: int = 0, timeout: float = 0.0) -> list[Path]:
        """The jobs the printer simulator printed, oldest first (waiting up to ``timeout``
        until there are ``wait_for``)."""
        client = SimClient(self.controls["printer"], max(self.timeout, timeout + 5.0))
        jobs = client.call("jobs", wait_for=wait_for, timeout=timeout).get("jobs", [])
        return [Path(p) for p in jobs]

    def wait_printed(self, n: int, timeout: float) -> bool:
        end = time.monotonic() + timeout
        return len(self.printed(n, max(0.0, end - time.monotonic()))) >= n

    # -- platform link --------------------------------------------------------------------
    @property
    def can_cut_backend(self) -> bool:
        return self.backend is not None

    def backend_cut(self, cut: bool) -> None:
        if self.backend is None:
            raise SimControlError("no_switch", "this backend cannot be cut")
        if cut:
            self.backend.cut()
        else:
            self.backend.restore()
