"""``kiosk run``: start devices, session core and backend client, with or without the UI.

The configuration is the committed fleet slot over the base layers (``ConfigSource.boot``);
the preflight includes the fleet's settings. Around the core, a :class:`Runner` does what the
service manager and the fleet need, whichever loop turns (the ``--no-ui`` loop or the Kivy
clock):

* the fleet agent when the fleet is on: started once the core is built, stopped before the
  core stops, woken when a citizen session ends (the session machine's transitions);
* ``READY=1`` once the core is up (with the UI: on its first drawn frame), ``WATCHDOG=1`` from
  the loop only while the session tick, the outbox and the device threads live, ``STOPPING=1``
  on the way out (:mod:`kiosk.appliance.service`);
* restarts between sessions: a fleet change that needs new devices or a new backend,
  ``restart_when_idle``, and the nightly restart (``appliance.nightly_restart``).

Exit status: 0 stopped; 2 a configuration problem (the key path is named); 75 restart me
(the unit's ``RestartForceExitStatus=75``). Not under a service manager (no
``NOTIFY_SOCKET``), the kiosk executes itself again instead of exiting 75.

Why a restart rather than rebuilding devices and backend in place: the UI, the simulation dock
and the journey hold the devices, the backend and the outbox they were started with; a restart
builds all of them from the new configuration through the one composition root, and the
config slots make it safe: the trial is handed over to the new process, which resumes its
health window, and a process that dies in that window has it rolled back at the next start.

Test-only hook: with ``KIOSK_TEST_HANG_SIGNAL`` set to a signal name (``USR1``), that signal
makes the main loop block for good (a hung UI thread), so a test can show the watchdog getting
the process killed and restarted. Without the variable no handler is installed.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

import click

from kiosk.appliance.hold import HoldFile, KioskHold
from kiosk.appliance.hours import restart_due
from kiosk.appliance.service import ServiceLink
from kiosk.config import policy
from kiosk.config.loader import ConfigError
from kiosk.core import KioskCore, LogTail
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.slots import Boot, ConfigSource
from kiosk.logs import setup_logging
from kiosk.preflight import preflight
from kiosk.session.machine import SessionMachine, Transition
from kiosk.session.states import State

if TYPE_CHECKING:
    from kiosk.fleet.agent import FleetAgent

log = logging.getLogger("kiosk")

EXIT_RESTART = 75
HANG_ENV = "KIOSK_TEST_HANG_SIGNAL"
SESSION_TICK_PERIOD_S = 10.0  # the session tick must have turned within this long
LOOP_S = 0.5


class Runner:
    """Readiness, watchdog, fleet agent and restarts around one running core."""

    def __init__(self, core: KioskCore, link: ServiceLink, stop: threading.Event,
                 agent: FleetAgent | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone()
                 ) -> None:
        self.core = core
        self.link = link
        self.stop = stop
        self.agent = agent
        self.clock = clock
        self.started = clock()
        self.restart: str | None = None  # why the loop ended for a restart
        # kiosk-update's hold for switching releases (kiosk.appliance.hold)
        self.hold = KioskHold(core.session, HoldFile(core.cfg.var_dir))
        self._hang = threading.Event()
        self.prestart_face = True  # off for --exit-when-ready (it would only be closed)

    @property
    def loop_s(self) -> float:
        """How often the main loop should turn (often enough for the watchdog)."""
        interval = self.link.watchdog.interval_s
        return min(LOOP_S, interval / 3) if interval else LOOP_S

    def start(self) -> None:
        core = self.core
        for thread in core.workers:
            self.link.liveness.watch_thread(f"thread:{thread.name}", thread)
        core.on_tick(self.link.liveness.heartbeat("session-tick", SESSION_TICK_PERIOD_S).beat)
        core.session.subscribe(self._on_transition)
        log.info("watchdog waits for: %s", ", ".join(self.link.liveness.names()))
        _install_hang_hook(self._hang)
        if self.agent is not None:
            self.agent.start()

    def ready(self) -> None:
        """READY=1 with the status line (once); then the face process is started in the
        background, so the first citizen does not wait for its models."""
        if not self.link.is_ready:
            self.link.ready(self.core.summary(), busy=self.core.session_active())
            if self.prestart_face:
                self.core.journey.prestart_face()

    def tick(self) -> None:
        """From the loop that turns: the nightly restart, a restart due at an idle moment,
        then the status line and the watchdog."""
        if self._hang.is_set():
            threading.Event().wait()  # the test-only hang: this loop never turns again
        core = self.core
        at = core.cfg.appliance.restart_time()
        if at is not None and core.restart_requested is None and \
                restart_due(at, self.started, self.clock(), core.cfg.appliance.timezone):
            core.request_restart("nightly")
        held = self.hold.turn()  # a hold first, then idleness read under the session lock
        busy = core.session_active()
        if core.restart_requested is not None and not busy and not self.stop.is_set():
            self.restart = core.restart_requested
            self.stop.set()
        self.link.tick(busy=busy, summary=core.summary(), held=held is not None)

    def shutdown(self) -> None:
        """STOPPING=1, then the agent (before the core stops)."""
        self.link.stopping()
        if self.agent is not None:
            self.agent.stop()

    def _on_transition(self, transition: Transition, _machine: SessionMachine) -> None:
        if self.agent is not None and transition.target is State.ATTRACT \
                and transition.source is not State.ATTRACT:
            self.agent.wake()  # a session ended: deferred changes and restarts may go now


def _install_hang_hook(hang: threading.Event) -> None:
    name = os.environ.get(HANG_ENV)
    if not name:
        return
    signum = getattr(signal, f"SIG{name.upper().removeprefix('SIG')}", None)
    if not isinstance(signum, signal.Signals):
        log.error("%s=%s is not a signal name; no hang hook", HANG_ENV, name[:20])
        return
    signal.signal(signum, lambda *_: hang.set())
    log.warning("test-only hang hook on %s", signum.name)


def _cannot_start(message: str) -> NoReturn:
    click.echo(f"kiosk run: cannot start: {message}", err=True)
    sys.exit(2)


def _boot(config_path: str | None, profile: str | None) -> tuple[ConfigSource, Boot]:
    source = ConfigSource(config_path, profile)
    where = config_path or "defaults"
    try:
        boot = source.boot()
        cfg = boot.config
        problems = preflight(cfg)  # before anything is built or opened
        if cfg.fleet.enabled:
            from kiosk.fleet.preflight import fleet_problems

            problems += fleet_problems(cfg)
        if problems:
            raise ConfigError(where, problems)
        try:
            setup_logging(cfg.logging.level, cfg.logging.file)
        except OSError as exc:  # the file changed since the preflight
            raise ConfigError(where, [f"logging.file: cannot open it ({exc.strerror})"]) \
                from None
    except ConfigError as exc:
        _cannot_start(str(exc))
    except OSError as exc:  # the fleet slots under var_dir cannot be read or written
        _cannot_start(f"fleet.state_dir: {exc.strerror or exc}")
    return source, boot


def _agent(source: ConfigSource, boot: Boot, core: KioskCore) -> FleetAgent:
    from kiosk.fleet.agent import FleetAgent, KioskHooks

    return FleetAgent(source, boot, KioskHooks(
        health=core.health_summary, apply=core.apply_config, busy=core.session_active,
        command=core.remote_command, problems=core.current_problems,
        audit=core.audit.append))


def _restart(link: ServiceLink, reason: str) -> NoReturn:
    if link.notifier.enabled:  # the service manager starts the kiosk again
        log.info("exiting %d to be restarted (%s)", EXIT_RESTART, reason)
        logging.shutdown()
        sys.exit(EXIT_RESTART)
    log.info("restarting in place (%s)", reason)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])  # noqa: S606 - itself


@click.command("run")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="site configuration file layered over the defaults and the profile")
@click.option("--profile", type=click.Choice(["simulation", "production"]), default=None)
@click.option("--no-ui", is_flag=True, help="run without Kivy (servers, tests)")
@click.option("--ready-file", type=click.Path(dir_okay=False), default=None,
              help="write 'ready' here once the kiosk is up (for supervisors and benchmarks)")
@click.option("--exit-when-ready", is_flag=True, help="stop as soon as the kiosk is ready")
def run_command(config_path: str | None, profile: str | None, no_ui: bool,
                ready_file: str | None, exit_when_ready: bool) -> None:
    """Run the kiosk."""
    link = ServiceLink.from_env()  # before any thread or child process starts
    source, boot = _boot(config_path, profile)
    cfg = boot.config
    for note in boot.notes:
        log.warning("fleet: %s", note)
    if boot.resumed is not None:
        log.info("fleet: resuming a health window (%.1f s left)",
                 boot.resumed.resume.remaining_s)
    for line in policy.warnings(policy.evaluate(cfg)):
        logging.getLogger("kiosk.policy").warning("%s", line)
    tail = LogTail()
    logging.getLogger().addHandler(tail)
    from kiosk.compose import running

    stop = threading.Event()
    signalled = threading.Event()  # asked to stop: no restart then

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        signalled.set()
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with running(cfg) as core:
        core.log_tail = tail
        agent = None
        if cfg.fleet.enabled:
            try:
                agent = _agent(source, boot, core)
            except OperatorError as exc:  # the preflight checked it; the file changed since
                _cannot_start(str(exc))
        runner = Runner(core, link, stop, agent)
        runner.prestart_face = not exit_when_ready
        try:
            runner.start()
            if no_ui:
                core.mark_ready(ready_file)
                runner.ready()
                click.echo(f"kiosk {cfg.kiosk.id}: ready ({core.summary()})", err=True)
                if not exit_when_ready:
                    while not stop.wait(runner.loop_s):
                        core.tick()
                        runner.tick()
            else:
                from screens.app import run_app  # the one place the core starts the UI

                run_app(core, ready_file=ready_file, exit_when_ready=exit_when_ready,
                        stop=stop, on_ready=runner.ready, on_tick=runner.tick,
                        tick_s=runner.loop_s)
        finally:
            runner.shutdown()
    if runner.restart is not None and not signalled.is_set():
        _restart(link, runner.restart)
