"""``kiosk-update``: install a signed release beside the running one, switch at an idle moment,
check its health and roll back by itself when the check fails.

The idle moment is taken without a race: the kiosk is first asked to hold (no new journey),
and the switch happens once it reports ``session=held`` (:mod:`kiosk.appliance.hold`); the
kiosk's var dir (``--var-dir``, or ``var_dir`` of ``--config``) is where it is asked.

Exit codes: 0 done (or nothing to do), 1 the new release failed its health check and the
previous one runs again, 2 refused (bad signature, older version, bad option: the message
names the file or option), 75 the kiosk did not become idle in time (try again later; the
release stays installed).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click

from kiosk.appliance.config import ApplianceConfig
from kiosk.appliance.health import HealthCheck, ServiceError, Systemctl, Verdict
from kiosk.appliance.hold import HoldFile
from kiosk.appliance.release import ReleaseError, read_manifest, verify, version_key
from kiosk.appliance.releases import ReleaseStore
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.keys import load_trust_root

EXIT_ROLLED_BACK, EXIT_REFUSED, EXIT_NOT_IDLE = 1, 2, 75


@dataclass
class Settings:
    root: Path
    trust_root: str | None
    unit: str
    systemctl: str
    ready_timeout_s: float
    window_s: float
    python: str | None
    var_dir: Path | None = None

    def store(self) -> ReleaseStore:
        return ReleaseStore(self.root, self.python)

    def check(self) -> HealthCheck:
        return HealthCheck(Systemctl(self.unit, self.systemctl), self.ready_timeout_s,
                           self.window_s)


def fail(code: int, where: str, message: str) -> None:
    click.echo(f"kiosk-update: {where}: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="the kiosk's site file: appliance.* and fleet.trust_root as defaults")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="where releases/, current and previous live [appliance.release_root]")
@click.option("--trust-root", default=None, help="root.pub [fleet.trust_root]")
@click.option("--unit", default=None, help="the service [appliance.unit]")
@click.option("--systemctl", default="systemctl", show_default=True,
              help="the systemctl command (another compatible tool for tests)")
@click.option("--ready-timeout", type=float, default=None,
              help="seconds to become ready [appliance.ready_timeout_s]")
@click.option("--health-window", type=float, default=None,
              help="seconds it must then stay up [appliance.health_window_s]")
@click.option("--python", default=None, help="the interpreter for new releases' venvs")
@click.option("--var-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="the kiosk's var dir, where it is asked to hold for the switch [var_dir]")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, root: Path | None,
         trust_root: str | None, unit: str | None, systemctl: str,
         ready_timeout: float | None, health_window: float | None,
         python: str | None, var_dir: Path | None) -> None:
    """Install, check and roll back kiosk releases."""
    appliance, trust, site_var = ApplianceConfig(), None, None
    if config_path is not None:
        from kiosk.config.loader import ConfigError, load_config

        try:
            cfg = load_config(config_path)
        except ConfigError as exc:
            fail(EXIT_REFUSED, config_path, str(exc))
        appliance, trust, site_var = cfg.appliance, cfg.fleet.trust_root, Path(cfg.var_dir)
    ctx.obj = Settings(root or Path(appliance.release_root), trust_root or trust,
                       unit or appliance.unit, systemctl,
                       appliance.ready_timeout_s if ready_timeout is None else ready_timeout,
                       appliance.health_window_s if health_window is None else health_window,
                       python, var_dir or site_var)


@main.command("install")
@click.argument("tar", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--now", is_flag=True, help="do not wait for an idle moment")
@click.option("--idle-timeout", type=float, default=3600.0, show_default=True)
@click.option("--allow-downgrade", is_flag=True, help="install an older version")
@click.option("--force", is_flag=True, help="retry a version that failed its health check")
@click.pass_obj
def install(s: Settings, tar: Path, now: bool, idle_timeout: float, allow_downgrade: bool,
            force: bool) -> None:
    """Install TAR, switch to it and keep it only if it is healthy."""
    if not s.trust_root:
        fail(EXIT_REFUSED, "--trust-root", "no trust root (give it, or fleet.trust_root)")
    if not now and s.var_dir is None:
        fail(EXIT_REFUSED, "--var-dir", "the kiosk's var dir is needed to hold it for the "
                                        "switch (give it, or --config; or --now)")
    store = s.store()
    try:
        root_key = load_trust_root(s.trust_root)  # type: ignore[arg-type]
        with store.locked():
            if store.rollback_to is not None:
                store.rollback("interrupted: the health window did not finish")
            release = verify(read_manifest(tar), root_key)
            current = store.current
            if release.version == current:
                click.echo(f"kiosk-update: {release.version} is already the current release")
                return
            if current is not None and release.key < version_key(current) \
                    and not allow_downgrade:
                fail(EXIT_REFUSED, str(tar), f"{release.version} is older than the current "
                                             f"{current} (--allow-downgrade)")
            failed = store.state().get("failed", {})
            if release.version in failed and not force:
                fail(EXIT_REFUSED, str(tar), f"{release.version} failed before "
                                             f"({failed[release.version]}); --force to retry")
            store.install(tar, release)
            if current is None:
                store.set_link("current", release.version)
                store.record(committed=release.version)
                click.echo(f"kiosk-update: {release.version} installed as the first release; "
                           f"start {s.unit}")
                return
            verdict = trial(s, store, release.version, now, idle_timeout)
    except OperatorError as exc:
        fail(EXIT_REFUSED, exc.where, exc.message)
    except ReleaseError as exc:
        fail(EXIT_REFUSED, str(tar), f"{exc} ({exc.reason})")
    except ServiceError as exc:
        fail(EXIT_REFUSED, s.unit, str(exc))
    if not verdict.ok:
        fail(EXIT_ROLLED_BACK, release.version, f"rolled back to {store.current}: "
                                                f"{verdict.reason}")
    click.echo(f"kiosk-update: {release.version} is running and healthy (previous "
               f"{store.previous})")


def trial(s: Settings, store: ReleaseStore, version: str, now: bool,
          idle_timeout: float) -> Verdict:
    check = s.check()
    if now:
        return _switch(check, store, version)
    hold = HoldFile(s.var_dir or ".")  # (install refused a missing --var-dir already)
    try:  # held first, then idle: a citizen can no longer start between check and restart
        try:
            held = check.hold_idle(idle_timeout, hold)
        except OSError as exc:
            fail(EXIT_REFUSED, "--var-dir", f"cannot ask the kiosk to hold ({exc.strerror})")
        if not held:
            fail(EXIT_NOT_IDLE, s.unit, f"not idle within {idle_timeout:g} s; {version} "
                                        "stays installed, try again later")
        return _switch(check, store, version)
    finally:
        hold.clear()  # the old process is gone (or takes citizens again); the new ignores it


def _switch(check: HealthCheck, store: ReleaseStore, version: str) -> Verdict:
    before = check.service.show()
    store.begin_trial(version)
    try:
        verdict = check.run(before)
    except ServiceError as exc:
        verdict = Verdict(False, str(exc))
    if verdict.ok:
        store.commit()
        return verdict
    store.rollback(verdict.reason)
    try:  # the previous release again; its own health is what it was
        check.restart_until_ready(check.service.show())
    except ServiceError as exc:
        click.echo(f"kiosk-update: restarting the previous release: {exc}", err=True)
    return verdict


@main.command("recover")
@click.pass_obj
def recover(s: Settings) -> None:
    """Roll back an update whose health window was cut short (run before the kiosk starts)."""
    store = s.store()
    try:
        with store.locked():
            back = store.rollback("interrupted: the health window did not finish")
    except ReleaseError as exc:
        fail(EXIT_REFUSED, str(s.root), str(exc))
    click.echo(f"kiosk-update: rolled back to {back}" if back else
               "kiosk-update: no interrupted update")


@main.command("rollback")
@click.option("--no-restart", is_flag=True)
@click.pass_obj
def rollback(s: Settings, no_restart: bool) -> None:
    """Go back to the previous release by hand (current and previous change places)."""
    store = s.store()
    try:
        with store.locked():
            version = store.swap()
        if not no_restart:
            s.check().service.restart()
    except ReleaseError as exc:
        fail(EXIT_REFUSED, str(s.root), str(exc))
    except ServiceError as exc:
        fail(EXIT_REFUSED, s.unit, str(exc))
    click.echo(f"kiosk-update: {version} is current again")


@main.command("status")
@click.pass_obj
def status(s: Settings) -> None:
    """The releases: current, previous, installed, failed (JSON)."""
    store = s.store()
    state = store.state()
    click.echo(json.dumps({"current": store.current, "previous": store.previous,
                           "rollback_to": store.rollback_to, "installed": store.installed(),
                           "failed": state.get("failed", {}), "trial": state.get("trial")},
                          indent=2, sort_keys=True))


if __name__ == "__main__":  # pragma: no cover
    main()
