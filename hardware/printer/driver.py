"""The CUPS printer adapter: status, print with a deadline, one print per document.

Errors: only :class:`hardware.base.DeviceError` subclasses escape (from :meth:`discover` and
:meth:`refresh` never; from the constructor, :class:`HardwareError` if the journal cannot be
opened). :meth:`CupsPrinter.print_document` reports every failure as a :class:`PrintOutcome`.

Message keys (``PrintOutcome.message_key`` and ``details["message_key"]``) are the ones in
:mod:`hardware.printer.status` plus ``printer.submit_failed`` and ``printer.outcome_unknown``.

No document file is left behind. The PDF is streamed to CUPS (Create-Job, Send-Document with
the bytes from memory): the driver writes no temp file, so a kill -9 leaves none. Once a job
is completed, aborted or canceled *and* the journal holds that outcome, the driver purges it
from CUPS (Cancel-Job with purge-job: its document and control files go), on any CUPS,
whatever its ``PreserveJobFiles``; :meth:`CupsPrinter.start` purges finished jobs of this
journal that a crash left (after recording their outcome). A job whose outcome is not known
yet is never purged: the no-print-twice journal still needs CUPS' word on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from hardware.base import (
    Device,
    DeviceError,
    DeviceNotReady,
    DeviceStatus,
    HardwareError,
    HealthLevel,
    HealthResult,
)
from hardware.events import JobProgress
from hardware.printer.config import PrinterConfig
from hardware.printer.journal import (
    FINAL,
    FINAL_PRINTED,
    RETRYABLE,
    JournalEntry,
    PrintJournal,
)
from hardware.printer.status import (
    JOB_FINAL,
    JOB_STATES,
    PrinterState,
    clean_reasons,
    job_failure_key,
    map_printer,
    stuck_message_key,
)
from hardware.printer.testpage import test_page_pdf
from hardware.printer.transport import IPP_NOT_FOUND, CupsTransport, IppError
from hardware.roles import OutcomeState, PrintOutcome

if TYPE_CHECKING:  # the simulator is imported only where cups_server is sim://printer
    from hardware.printer.simulator import PrinterSimulator

log = logging.getLogger("hardware.printer")

__all__ = ["CupsPrinter", "OutcomeState", "PrintOutcome"]
_JOB_ATTRS = ["job-state", "job-state-reasons", "job-printer-state-message", "job-name",
              "job-printer-uri"]
_PRINTER_ATTRS = ["printer-state", "printer-state-reasons", "printer-state-message",
                  "printer-is-accepting-jobs", "device-uri", "printer-make-and-model"]
_RAM_DIR = "/dev/shm"  # noqa: S108 - only swept: older versions put the PDF there
_CHUNK = 64 * 1024
_HTTP_CONTINUE = 100
_JOB_HELD = 4


class CupsPrinter(Device):
    """A CUPS queue as a :class:`~hardware.roles.Printer` (name ``printer``).

    Status changes and :class:`~hardware.events.JobProgress` go to the sink given to
    :meth:`start`. A ``simulator`` (``cups_server: sim://printer``) is owned: :meth:`close`
    stops it.
    """

    name = "printer"

    def __init__(self, cfg: PrinterConfig, *, server: str | None = None,
                 queue: str | None = None, state_dir: str | os.PathLike[str] | None = None,
                 kiosk_id: str = "", clock: Callable[[], float] = time.monotonic,
                 simulator: PrinterSimulator | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        self.queue = queue or cfg.queue
        self.kiosk_id = kiosk_id
        self.transport = CupsTransport(server if server is not None else cfg.cups_server,
                                       cfg.probe_timeout_s)
        try:
            self.journal = PrintJournal(state_dir if state_dir is not None else cfg.state_dir)
        except (OSError, sqlite3.Error) as exc:
            raise HardwareError(f"print journal unavailable: {exc}", detail="journal") from exc
        self._clock = clock
        self._missing_since: float | None = None
        self._last: PrinterState | None = None
        self._print_lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self.simulator = simulator
        self._identity: dict[str, Any] = {}  # device-uri and model from the last refresh
        self._update(DeviceStatus.OFFLINE, queue=self.queue, reachable=False, paper="unknown",
                     reasons=[], jobs_pending=0, message_key=None)
        _remove_old_temp_documents()

    # -- discovery and status -------------------------------------------------------------
    def discover(self) -> list[str]:
        """Names of the queues CUPS knows ([] when CUPS is unreachable)."""
        try:
            printers = self.transport.call(lambda c: c.getPrinters(),
                                           self.cfg.probe_timeout_s)
        except DeviceError:
            return []
        return sorted(printers)

    def refresh(self) -> PrinterState:
        """Poll CUPS once and update status/details (a vanished queue is debounced)."""
        reachable = True
        attrs: dict[str, Any] | None = None
        pending = 0
        try:
            attrs = self.transport.call(self._printer_attrs, self.cfg.probe_timeout_s)
            if attrs is not None:
                pending = self.transport.call(self._pending_jobs, self.cfg.probe_timeout_s)
        except DeviceError:
            reachable = False
        if attrs is not None and self.cfg.probe_device and not self._device_answers(attrs):
            attrs = dict(attrs)
            attrs["printer-state-reasons"] = [*clean_reasons(attrs.get("printer-state-reasons")),
                                              "offline-report"]
        state = map_printer(attrs, reachable=reachable)
        now = self._clock()
        if attrs is None:  # queue or cupsd gone: keep the last state for a moment
            if self._missing_since is None:
                self._missing_since = now
            if (self._last is not None and self._last.status.usable
                    and now - self._missing_since < self.cfg.debounce_s):
                self._update(flapping=True)
                return self._last
        else:
            self._missing_since = None
            self._identity = {"device_uri": attrs.get("device-uri"),
                              "model": attrs.get("printer-make-and-model")}
        self._last = state
        self._update(state.status, reachable=reachable, jobs_pending=pending, flapping=False,
                     printer_state=int(attrs.get("printer-state", 0)) if attrs else 0,
                     **state.details())
        return state

    def _device_answers(self, attrs: dict[str, Any]) -> bool:
        """For an idle ``socket://host:port`` queue, can the device's port be reached?"""
        uri = urlsplit(str(attrs.get("device-uri", "")))
        if uri.scheme != "socket" or not uri.hostname or int(attrs.get("printer-state", 3)) != 3:
            return True
        try:
            with socket.create_connection((uri.hostname, uri.port or 9100),
                                          timeout=self.cfg.probe_timeout_s):
                return True
        except OSError:
            return False

    def _printer_attrs(self, conn: Any) -> dict[str, Any] | None:
        try:
            attrs: dict[str, Any] = conn.getPrinterAttributes(
                self.queue, requested_attributes=_PRINTER_ATTRS)
        except Exception as exc:
            import cups

            if isinstance(exc, cups.IPPError) and exc.args and exc.args[0] == IPP_NOT_FOUND:
                return None
            raise
        return attrs

    def _pending_jobs(self, conn: Any) -> int:
        jobs = conn.getJobs(which_jobs="not-completed",
                            requested_attributes=["job-id", "job-printer-uri"])
        suffix = f"/printers/{self.queue}"
        return sum(1 for j in jobs.values() if str(j.get("job-printer-uri", "")).endswith(suffix))

    def _start(self) -> None:
        """Poll status every ``poll_interval_s`` on a daemon thread."""
        self.refresh()
        self.purge_finished()
        if self._poller is None:
            self._stop.clear()
            self._poller = threading.Thread(target=self._poll, name="printer-poll", daemon=True)
            self._poller.start()

    def _poll(self) -> None:
        was_usable: bool | None = None
        while not self._stop.wait(self.cfg.poll_interval_s):
            try:
                state = self.refresh()
            except Exception:  # the poller must survive anything
                log.exception("printer status poll failed")
                continue
            usable = state.status.usable
            if usable != was_usable:
                log.info("printer %s", "available" if usable else
                         f"unavailable ({state.message_key})")
                was_usable = usable

    def status_report(self) -> dict[str, Any]:
        """What ``kiosk diag printer status --json`` prints."""
        state = self.refresh()
        details = self.details
        cups_state = "unreachable" if not details.get("reachable") else (
            "missing" if "queue-missing" in state.reasons else
            {3: "idle", 4: "processing", 5: "stopped"}.get(
                int(details.get("printer_state", 3)), "unknown"))
        return {"queue": self.queue, "state": cups_state, "reasons": state.reasons,
                "reachable": bool(details.get("reachable")),
                "jobs_pending": int(details.get("jobs_pending", 0)),
                "status": state.status.value, "paper": state.paper,
                "message_key": state.message_key}

    # -- printing -------------------------------------------------------------------------
    def print_document(self, doc_id: str, pdf: bytes, title: str,
                       deadline_s: float | None = None,
                       cancel: threading.Event | None = None, *,
                       precheck: bool = True) -> PrintOutcome:
        """Print ``pdf`` once for ``doc_id`` and follow the job to a final state.

        ``title`` is for logs of the caller only: the CUPS job name is an opaque tag, so no
        document title (which may name a person) reaches CUPS. Never raises for printer
        faults; see :class:`PrintOutcome`. With ``precheck`` (default) a printer whose
        status is not usable fails fast (``aborted``) without submitting anything.
        """
        del title
        t0 = time.monotonic()
        end = t0 + (deadline_s if deadline_s is not None else self.cfg.job_timeout_s)
        cancel = cancel or threading.Event()
        with self._print_lock:
            try:
                state, job_id, key = self._print(doc_id, pdf, end, cancel, precheck)
            except DeviceError as exc:
                state, job_id, key = "aborted", None, f"printer.{exc.code.value}"
            except (OSError, sqlite3.Error) as exc:
                log.error("print failed locally: %s", type(exc).__name__)
                state, job_id, key = "aborted", None, "printer.journal_error"
        outcome = PrintOutcome(job_id, state, (time.monotonic() - t0) * 1000.0, key)
        self.emit(JobProgress(job_id, state, key))
        self.count("prints" if outcome.state == "completed" else f"prints_{outcome.state}")
        log.info("print job %s: %s (%s) in %.0f ms", job_id, state, key, outcome.elapsed_ms)
        return outcome

    def test_page(self, timeout: float = 30.0) -> PrintOutcome:
        pdf = test_page_pdf(self.queue, self.kiosk_id)
        return self.print_document(f"test-page:{uuid.uuid4().hex}", pdf, "test page", timeout,
                                   precheck=False)

    def _print(self, doc_id: str, pdf: bytes, end: float, cancel: threading.Event,
               precheck: bool) -> tuple[OutcomeState, int | None, str | None]:
        doc_key = self.journal.key(doc_id)
        entry = self.journal.get(doc_key)
        if entry is not None and entry.state == FINAL_PRINTED:
            return "duplicate", entry.job_id, None
        if entry is not None and entry.state not in RETRYABLE:
            resolved = self._resolve(entry, end, cancel)
            if resolved is not None:
                return resolved
        # Not printed yet (or the earlier attempt failed): check the printer, then submit.
        state = self.refresh()
        if precheck and not state.status.usable:
            return "aborted", None, state.message_key or "printer.unavailable"
        entry = self.journal.begin(doc_key)
        job_id = self._submit(entry, pdf, end)
        if isinstance(job_id, str):
            return ("timeout" if job_id == "printer.timeout" else "aborted"), None, job_id
        self.journal.update(doc_key, "submitted", job_id)
        self.emit(JobProgress(job_id, "submitted"))
        return self._follow(doc_key, job_id, end, cancel, resumed=False)

    def _resolve(self, entry: JournalEntry, end: float, cancel: threading.Event,
                 ) -> tuple[OutcomeState, int | None, str | None] | None:
        """An earlier attempt's outcome is unknown: find its job in CUPS instead of reprinting.

        Returns ``None`` when the document may be submitted (the earlier job failed or never
        reached CUPS).
        """
        job_id = entry.job_id
        try:
            if job_id is None:  # crashed between the journal write and the IPP answer
                job_id = self.transport.call(lambda c: _find_job(c, entry.job_tag),
                                             self._left(end))
            if job_id is None:
                self.journal.update(entry.doc_key, "failed")
                return None
            found = job_id
            attrs = self.transport.call(
                lambda c: c.getJobAttributes(found, ["job-state", "job-state-reasons"]),
                self._left(end))
            if _incoming(attrs):  # its upload was cut (crash, timeout): it can never print
                self.transport.call(lambda c: c.cancelJob(found, purge_job=True),
                                    self._left(end))
                self.journal.update(entry.doc_key, "failed", found)
                return None
        except IppError as exc:
            if exc.status == IPP_NOT_FOUND:  # CUPS forgot the job: never risk a second copy
                self.journal.update(entry.doc_key, FINAL_PRINTED, job_id)
                return "duplicate", job_id, "printer.outcome_unknown"
            return "aborted", job_id, "printer.outcome_unknown"
        except DeviceError:
            return "timeout", job_id, "printer.cups_unreachable"
        self.journal.update(entry.doc_key, "submitted", job_id)
        result = self._follow(entry.doc_key, job_id, end, cancel, resumed=True)
        if result[0] in ("aborted", "canceled"):
            return None
        return result

    def _submit(self, entry: JournalEntry, pdf: bytes, end: float) -> int | str:
        """Submit; returns the job id or a message key. Retries a vanished queue or cupsd
        for up to ``debounce_s``."""
        first_failure: float | None = None
        pause = threading.Event()
        while True:
            try:
                job_id: int = self.transport.call(lambda c: self._stream(c, entry, pdf),
                                                  self._left(end))
                return job_id
            except IppError as exc:
                if exc.status != IPP_NOT_FOUND:
                    self.journal.update(entry.doc_key, "failed")
                    return "printer.not_accepting" if "accept" in str(exc).lower() \
                        else "printer.submit_failed"
                key = "printer.queue_missing"
            except DeviceError as exc:
                if exc.detail == "cups-timeout":  # the job may exist: resolve next time
                    return "printer.timeout"
                current = self.journal.get(entry.doc_key)
                if current is not None and current.state == "submitting" \
                        and current.job_id is not None:
                    return "printer.timeout"  # created, upload cut: resolved next time
                key = "printer.cups_unreachable"
            now = time.monotonic()
            first_failure = first_failure or now
            if now - first_failure >= self.cfg.debounce_s or now >= end:
                self.journal.update(entry.doc_key, "failed")
                return key
            pause.wait(min(0.25, self._left(end)))

    def _stream(self, conn: Any, entry: JournalEntry, pdf: bytes) -> int:
        """Create-Job, then Send-Document with the bytes from memory (runs on the worker).

        The job id goes to the journal as soon as CUPS gives it. If the upload fails, the job
        holds no complete document and can never print: it is purged, and the error raised.
        """
        import cups

        job_id = int(conn.createJob(self.queue, entry.job_tag, {}))
        self.journal.set_job(entry.doc_key, entry.job_tag, job_id)
        try:
            status = conn.startDocument(self.queue, job_id, "document", cups.CUPS_FORMAT_AUTO, 1)
            view = memoryview(pdf)
            for offset in range(0, len(pdf), _CHUNK):
                if status != _HTTP_CONTINUE:
                    raise cups.HTTPError(status)
                chunk = bytes(view[offset:offset + _CHUNK])
                status = conn.writeRequestData(chunk, len(chunk))
            conn.finishDocument(self.queue)
        except Exception as exc:
            try:
                attrs = conn.getJobAttributes(job_id, ["job-state", "job-state-reasons"])
            except Exception:  # cannot tell: the journal keeps the job id, resolved next time
                raise DeviceNotReady("CUPS connection failed during upload",
                                     detail="cups-unreachable") from exc
            if not _incoming(attrs):
                return job_id  # the document arrived whole; only the answer failed
            with contextlib.suppress(Exception):
                conn.cancelJob(job_id, purge_job=True)
            self.journal.update(entry.doc_key, "failed")
            raise
        return job_id

    def _follow(self, doc_key: str, job_id: int, end: float, cancel: threading.Event, *,
                resumed: bool) -> tuple[OutcomeState, int | None, str | None]:
        """Wait for the job to reach a final state; cancel it when the deadline passes."""
        interval = 0.02
        attrs: dict[str, Any] = {}
        while True:
            try:
                attrs = self.transport.call(lambda c: c.getJobAttributes(job_id, _JOB_ATTRS),
                                            max(0.2, min(self.cfg.probe_timeout_s,
                                                         self._left(end))))
            except DeviceError:
                attrs = {}  # cupsd gone for a moment: keep trying until the deadline
            code = int(attrs.get("job-state", 0))
            if code in JOB_FINAL:
                final = JOB_FINAL[code]
                self.journal.update(doc_key, final, job_id)
                self._purge(job_id)
                if final == "completed":
                    return ("duplicate" if resumed else "completed"), job_id, None
                failed: OutcomeState = "canceled" if final == "canceled" else "aborted"
                return failed, job_id, job_failure_key(final, attrs.get("job-state-reasons"))
            if cancel.is_set() or time.monotonic() >= end:
                return self._give_up(doc_key, job_id, attrs, canceled=cancel.is_set())
            if cancel.wait(min(interval, self._left(end))):
                continue
            interval = min(interval * 1.5, 0.25)

    def _give_up(self, doc_key: str, job_id: int, attrs: dict[str, Any], *, canceled: bool,
                 ) -> tuple[OutcomeState, int | None, str | None]:
        found: dict[str, Any] | None = None
        try:
            found = self.transport.call(self._printer_attrs, self.cfg.probe_timeout_s)
        except DeviceError:
            pass
        printer = found or {}
        key = "printer.canceled" if canceled else stuck_message_key(
            attrs.get("job-printer-state-message"), attrs.get("job-state-reasons"),
            printer.get("printer-state-message"), printer.get("printer-state-reasons"),
            JOB_STATES.get(int(attrs.get("job-state", 0)), ""))
        if not attrs:
            key = "printer.cups_unreachable"
        final = "unknown"
        try:
            self.transport.call(lambda c: c.cancelJob(job_id), self.cfg.probe_timeout_s)
            after = self.transport.call(lambda c: c.getJobAttributes(job_id, ["job-state"]),
                                        self.cfg.probe_timeout_s)
            final = JOB_FINAL.get(int(after.get("job-state", 0)), "unknown")
        except DeviceError as exc:
            log.warning("could not cancel job %s: %s", job_id, exc.detail)
        if final == "completed":  # it finished while we gave up
            self.journal.update(doc_key, FINAL_PRINTED, job_id)
            self._purge(job_id)
            return "completed", job_id, None
        self.journal.update(doc_key, final, job_id)
        if final != "unknown":
            self._purge(job_id)
        return ("canceled" if canceled else "timeout"), job_id, key

    def _purge(self, job_id: int) -> bool:
        """Remove a finished job (its document and control files) from CUPS; its outcome is
        in the journal already. A job still stopping can outlive a purge request: it is asked
        again until CUPS no longer has it, for up to ``probe_timeout_s`` (else the next
        :meth:`purge_finished` takes it)."""
        end = time.monotonic() + self.cfg.probe_timeout_s
        pause = threading.Event()
        while True:
            try:
                self.transport.call(lambda c: c.cancelJob(job_id, purge_job=True),
                                    self._left(end))
                self.transport.call(lambda c: c.getJobAttributes(job_id, ["job-state"]),
                                    self._left(end))
            except IppError as exc:
                if exc.status == IPP_NOT_FOUND:
                    return True
                log.warning("could not purge job %s: %s", job_id, exc.detail)
                return False
            except DeviceError as exc:
                log.warning("could not purge job %s: %s", job_id, exc.detail)
                return False
            if time.monotonic() >= end:
                log.info("job %s not purged yet: the next start purges it", job_id)
                return False
            pause.wait(0.05)

    def purge_finished(self) -> int:
        """Purge the finished jobs of this journal's documents still in CUPS (a crash, or a
        cancel that could not be confirmed, left them), recording an outcome the journal
        did not know first. Returns how many were purged; never raises for CUPS faults."""
        try:
            jobs: dict[int, dict[str, Any]] = self.transport.call(
                lambda c: c.getJobs(which_jobs="completed", requested_attributes=[
                    "job-id", "job-name", "job-state"]), self.cfg.probe_timeout_s)
        except DeviceError:
            return 0
        purged = 0
        for job_id, attrs in jobs.items():
            entry = self.journal.owner_of(str(attrs.get("job-name", "")))
            code = int(attrs.get("job-state", 0))
            if entry is None or code not in JOB_FINAL:
                continue
            if entry.job_tag == attrs.get("job-name") and entry.state not in FINAL:
                self.journal.update(entry.doc_key, JOB_FINAL[code], int(job_id))
            purged += self._purge(int(job_id))
        if purged:
            log.info("purged %d finished print job(s) from CUPS", purged)
        return purged

    def _left(self, end: float) -> float:
        return max(0.05, end - time.monotonic())

    # -- description ----------------------------------------------------------------------
    def capabilities(self) -> dict[str, Any]:
        return {"paper": self.cfg.paper, "formats": ["application/pdf"], "duplicate_guard": True}

    def inventory(self) -> dict[str, Any]:
        """Queue, server, and the device URI and model CUPS gave at the last status poll
        (no I/O here)."""
        return {"queue": self.queue, "server": self.transport.server,
                "device_uri": self._identity.get("device_uri"),
                "model": self._identity.get("model"), "simulated": self.simulator is not None}

    def check_health(self, level: HealthLevel = HealthLevel.INTERNAL) -> HealthResult:
        if level is HealthLevel.INTERNAL:
            return super().check_health(level)
        if level is HealthLevel.INTERACTIVE:
            outcome = self.test_page(min(self.cfg.job_timeout_s, 30.0))
            return HealthResult(self.name, level, outcome.ok, self.status,
                                f"test page: {outcome.state}", outcome.as_dict())
        state = self.refresh()
        text = f"queue {self.queue}: {state.status.value}" + (
            f" ({state.message_key})" if state.message_key else "")
        return HealthResult(self.name, level, state.status.usable, state.status, text,
                            state.details())

    def close(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(5)
            self._poller = None
        self.transport.close()
        self.journal.close()
        if self.simulator is not None:
            try:
                self.simulator.close()
            except Exception:  # closing the simulator must not stop the printer closing
                log.exception("stopping the printer simulator failed")
            self.simulator = None
        super().close()


def _incoming(attrs: dict[str, Any]) -> bool:
    """A job held because its document never fully arrived (Create-Job without the end of
    Send-Document): it cannot print, and purging it loses nothing."""
    reasons = attrs.get("job-state-reasons") or []
    if isinstance(reasons, str):
        reasons = [reasons]
    return int(attrs.get("job-state", 0)) == _JOB_HELD and "job-incoming" in reasons


def _remove_old_temp_documents(ram_dir: str = _RAM_DIR, older_than_s: float = 60.0) -> None:
    """Remove PDFs an older version of this driver left in the RAM folder when killed."""
    cutoff = time.time() - older_than_s
    with contextlib.suppress(OSError):
        for entry in os.scandir(ram_dir):
            if not (entry.name.startswith("kiosk-print-") and entry.name.endswith(".pdf")):
                continue
            with contextlib.suppress(OSError):
                st = entry.stat(follow_symlinks=False)
                if st.st_uid == os.geteuid() and st.st_mtime < cutoff:
                    os.unlink(entry.path)


def _find_job(conn: Any, tag: str) -> int | None:
    """The job whose job-name is ``tag``. Needs job names visible to the kiosk's user: true
    for the owner over the local domain socket, and in the private cupsd's policy."""
    jobs = conn.getJobs(which_jobs="all", requested_attributes=["job-id", "job-name"])
    for job_id, attrs in jobs.items():
        if attrs.get("job-name") == tag:
            return int(job_id)
    return None
