"""``kiosk run``: start devices, session core and backend client, with or without the UI."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from kiosk.config import policy
from kiosk.config.loader import ConfigError, load_config
from kiosk.logs import setup_logging
from kiosk.preflight import preflight


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
    source = config_path or "defaults"
    try:
        cfg = load_config(config_path, profile=profile)
        problems = preflight(cfg)  # before anything is built or opened
        if problems:
            raise ConfigError(source, problems)
        try:
            setup_logging(cfg.logging.level, cfg.logging.file)
        except OSError as exc:  # the file changed since the preflight
            raise ConfigError(source, [f"logging.file: cannot open it ({exc.strerror})"]) \
                from None
    except ConfigError as exc:
        click.echo(f"kiosk run: cannot start: {exc}", err=True)
        sys.exit(2)
    for line in policy.warnings(policy.evaluate(cfg)):
        logging.getLogger("kiosk.policy").warning("%s", line)
    from kiosk.core import KioskCore

    core = KioskCore(cfg)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("kiosk").info("signal %d: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        core.start()
        if no_ui:
            core.mark_ready(ready_file)
            click.echo(f"kiosk {cfg.kiosk.id}: ready ({core.summary()})", err=True)
            if not exit_when_ready:
                while not stop.wait(0.5):
                    core.tick()
        else:
            from screens.app import run_app

            run_app(core, ready_file=ready_file, exit_when_ready=exit_when_ready, stop=stop)
    finally:
        core.stop()
