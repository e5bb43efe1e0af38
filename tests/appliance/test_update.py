"""Releases end to end: real builds of tiny versions (scripts' build code), installed by
kiosk-update into a temp root beside the running one, the service run by the supervisor with
the kiosk unit's settings; a release that fails its health check rolls back by itself."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import nacl.signing
import pytest

from kiosk.fleet.keys import certify, pub_text, write_signing_key
from tests.appliance.conftest import REPO
from tests.appliance.supervisor import Supervisor
from tests.harness.peers import wait_until

PROGRAM = '''
import json, os, signal, socket, threading, time

MODE = {mode!r}
VAR = os.environ.get("KIOSK__VAR_DIR", "")
SESSION_S = 1.0  # how long a citizen's session lasts


def notify(message):
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\\0" + address[1:]
    if address:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.sendto(message.encode(), address)


def record(what):
    if VAR:
        with open(os.path.join(VAR, "citizens.log"), "a") as fh:
            fh.write(f"{{os.getpid()}} {{what}}\\n")


def held():
    # the kiosk's side of kiosk.appliance.hold: a request naming this process, not expired
    try:
        with open(os.path.join(VAR, "update-hold.json")) as fh:
            req = json.load(fh)
    except (OSError, ValueError):
        return False
    return req.get("pid") == os.getpid() and req.get("until", 0) > time.time()


def main():
    stop = threading.Event()
    state = {{"busy_until": 0.0, "held": False}}

    def citizen(*_):  # SIGUSR1: a citizen starts a session, unless the kiosk is held
        if state["held"]:
            record("refused")
        else:
            state["busy_until"] = time.monotonic() + SESSION_S
            record("session")

    def long_citizen(*_):  # SIGUSR2: a session until the next SIGUSR2
        if state["busy_until"] == float("inf"):
            state["busy_until"] = 0.0
        elif not state["held"]:
            state["busy_until"] = float("inf")
            record("session")

    def term(*_):
        if time.monotonic() < state["busy_until"]:
            record("cut off")
        stop.set()

    signal.signal(signal.SIGUSR1, citizen)
    signal.signal(signal.SIGUSR2, long_citizen)
    signal.signal(signal.SIGTERM, term)
    period = int(os.environ.get("WATCHDOG_USEC", "1000000")) / 2e6
    printer = "offline" if MODE == "lost-printer" else "online"
    devices = f"idcard=online, printer={{printer}}"
    notify(f"READY=1\\nSTATUS=session=idle, {{devices}}")
    last_ping, said = 0.0, "idle"
    while not stop.wait(0.05):
        state["held"] = held()
        busy = time.monotonic() < state["busy_until"]
        session = "busy" if busy else "held" if state["held"] else "idle"
        if session != said:
            notify(f"STATUS=session={{session}}, {{devices}}")
            said = session
        if MODE != "no-watchdog" and time.monotonic() - last_ping >= period:
            notify("WATCHDOG=1")
            last_ping = time.monotonic()
'''

VERSIONS = {"1.0.0": "good", "1.1.0": "no-watchdog", "1.2.0": "good",
            "1.3.0": "lost-printer"}


def tiny_project(where: Path, version: str, mode: str) -> Path:
    (where / "tinykiosk").mkdir(parents=True)
    (where / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "tinykiosk"
        version = "{version}"
        [project.scripts]
        kiosk = "tinykiosk:main"
        [tool.setuptools]
        packages = ["tinykiosk"]
        """))
    (where / "tinykiosk" / "__init__.py").write_text(PROGRAM.format(mode=mode))
    return where


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO)}


class Releases:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.root_key = root = nacl.signing.SigningKey.generate()
        signer = nacl.signing.SigningKey.generate()
        self.trust = base / "root.pub"
        self.trust.write_text(pub_text(root.verify_key) + "\n")
        self.key = base / "signing.key"
        write_signing_key(self.key, signer, certify(root, signer.verify_key, 3600,
                                                    purposes=("config", "release")))
        self.tars = {v: self.build(v, mode) for v, mode in VERSIONS.items()}

    def build(self, version: str, mode: str, key: Path | None = None,
              out: Path | None = None) -> Path:
        project = tiny_project(self.base / f"src-{version}-{mode}", version, mode)
        done = subprocess.run(
            [sys.executable, "-m", "kiosk.appliance.build", "--project", str(project),
             "--key", str(key or self.key), "--out", str(out or self.base / "dist")],
            capture_output=True, text=True, env=env(), cwd=REPO, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    return Releases(tmp_path_factory.mktemp("releases"))


@pytest.fixture
def appliance(tmp_path: Path, releases: Releases,
              supervise: Callable[..., Supervisor]) -> Iterator[Appliance]:
    yield Appliance(tmp_path / "opt-kiosk", releases, supervise)


class Appliance:
    """A release root with 1.0.0 installed and running under the supervisor."""

    def __init__(self, root: Path, releases: Releases,
                 supervise: Callable[..., Supervisor]) -> None:
        self.root, self.releases = root, releases
        self.var_dir = root.parent / "var"
        self.var_dir.mkdir()
        first = self.update("install", str(releases.tars["1.0.0"]))
        assert first.returncode == 0 and "first release" in first.stdout, first.stderr
        self.sup = supervise([str(root / "current" / "bin" / "kiosk")], watchdog_s=1.0,
                             timeout_abort_s=2.0, restart_s=0.2, start_limit_burst=100,
                             environment={"KIOSK__VAR_DIR": str(self.var_dir)})
        self.sup.wait_for(lambda s: s.active_state == "active", 30, "1.0.0 running")
        self.control = self.sup.serve_control()

    def update(self, *args: str, window: float = 3.0,
               popen: bool = False) -> subprocess.CompletedProcess[str]:
        shim = f"{sys.executable} -m tests.appliance.systemctl_shim --control " \
               f"{getattr(self, 'control', '/nonexistent')}"
        cmd = [sys.executable, "-m", "kiosk.appliance.update_cli", "--root", str(self.root),
               "--trust-root", str(self.releases.trust), "--systemctl", shim,
               "--ready-timeout", "30", "--health-window", str(window),
               "--var-dir", str(self.var_dir), *args]
        if popen:
            return subprocess.Popen(cmd, env=env(), cwd=REPO,  # type: ignore[return-value]
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return subprocess.run(cmd, capture_output=True, text=True, env=env(), cwd=REPO,
                              timeout=300, check=False)

    def link(self, name: str) -> str | None:
        path = self.root / name
        return os.readlink(path).split("/")[-1] if path.is_symlink() else None


def test_a_release_that_loses_its_watchdog_rolls_back_by_itself(appliance: Appliance) -> None:
    sup, tars = appliance.sup, appliance.releases.tars
    done = appliance.update("install", str(tars["1.1.0"]))
    assert done.returncode == 1, done.stdout + done.stderr
    assert "rolled back to 1.0.0" in done.stderr and "health window" in done.stderr
    assert appliance.link("current") == "1.0.0" and appliance.link("rollback-to") is None
    assert not (appliance.root / "releases" / "1.1.0").exists()
    assert any(e[1:] and e[-1] == "SIGABRT" for e in sup.events)  # the watchdog fired
    # the previous release runs again and keeps its watchdog
    sup.wait_for(lambda s: s.active_state == "active", 30, "1.0.0 back")
    pings = sup.pings
    sup.wait_for(lambda s: s.pings > pings + 2, 10, "pings from 1.0.0")
    again = appliance.update("install", str(tars["1.1.0"]))
    assert again.returncode == 2 and "failed before" in again.stderr

    good = appliance.update("install", str(tars["1.2.0"]))
    assert good.returncode == 0, good.stderr
    assert appliance.link("current") == "1.2.0" and appliance.link("previous") == "1.0.0"
    assert sorted(p.name for p in (appliance.root / "releases").iterdir()) == \
        ["1.0.0", "1.2.0"]
    older = appliance.update("install", str(tars["1.0.0"]))
    assert older.returncode == 2 and "older than the current 1.2.0" in older.stderr

    manual = appliance.update("rollback")
    assert manual.returncode == 0, manual.stderr
    assert appliance.link("current") == "1.0.0" and appliance.link("previous") == "1.2.0"


def test_a_citizen_arriving_right_after_the_idle_check_is_not_cut_off(
        appliance: Appliance) -> None:
    """The kiosk is held before idleness counts: a citizen who starts just after
    kiosk-update first sees ``session=idle`` finishes, and the switch waits for them."""
    sup, fired = appliance.sup, []

    def citizen_arrives() -> None:
        if not fired and sup.status_text.startswith("session=idle"):
            fired.append(sup.main_pid)
            os.kill(sup.main_pid, signal.SIGUSR1)

    sup.on_show = citizen_arrives
    done = appliance.update("install", str(appliance.releases.tars["1.2.0"]), window=1.0)
    sup.on_show = None
    assert done.returncode == 0, done.stdout + done.stderr
    log = (appliance.var_dir / "citizens.log").read_text().splitlines()
    assert log[0] == f"{fired[0]} session", log
    assert not any(line.endswith("cut off") for line in log), log
    assert appliance.link("current") == "1.2.0"
    assert not (appliance.var_dir / "update-hold.json").exists()  # released


def test_not_idle_in_time_releases_the_hold(appliance: Appliance) -> None:
    sup = appliance.sup
    pid = sup.main_pid
    os.kill(pid, signal.SIGUSR2)  # a citizen, longer than the idle timeout allows
    sup.wait_for(lambda s: s.status_text.startswith("session=busy"), 10, "busy")
    done = appliance.update("install", "--idle-timeout", "0.3",
                            str(appliance.releases.tars["1.2.0"]))
    assert done.returncode == 75 and "not idle within 0.3 s" in done.stderr, done.stderr
    assert appliance.link("current") == "1.0.0" and sup.main_pid == pid
    assert not (appliance.var_dir / "update-hold.json").exists()
    os.kill(pid, signal.SIGUSR2)  # that citizen leaves
    sup.wait_for(lambda s: s.status_text.startswith("session=idle"), 10, "idle again")
    os.kill(pid, signal.SIGUSR1)  # the kiosk takes citizens again
    wait_until(lambda: (appliance.var_dir / "citizens.log").read_text().count(" session")
               == 2, 10, "a second session")


def test_a_release_that_loses_a_device_rolls_back(appliance: Appliance) -> None:
    done = appliance.update("install", str(appliance.releases.tars["1.3.0"]), window=1.0)
    assert done.returncode == 1
    assert "devices online before are not now: printer" in done.stderr
    assert appliance.link("current") == "1.0.0"


def test_power_loss_in_the_health_window_is_rolled_back_before_the_next_start(
        appliance: Appliance) -> None:
    proc = appliance.update("install", str(appliance.releases.tars["1.2.0"]), window=120,
                            popen=True)
    try:
        wait_until(lambda: appliance.link("rollback-to") == "1.0.0"
                   and appliance.sup.status_text.startswith("session=idle")
                   and appliance.link("current") == "1.2.0", 120, "the health window")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert appliance.link("current") == "1.2.0"  # cut off mid-check
    done = appliance.update("recover")
    assert done.returncode == 0 and "rolled back to 1.0.0" in done.stdout
    assert appliance.link("current") == "1.0.0" and appliance.link("rollback-to") is None
    status = appliance.update("status")
    assert '"1.2.0": "interrupted' in status.stdout


def test_tampered_untrusted_and_malformed_releases_are_refused(
        releases: Releases, tmp_path: Path) -> None:
    good = releases.tars["1.2.0"]
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(good) as src, tarfile.open(tampered, "w:") as dst:
        for member in src.getmembers():
            data = src.extractfile(member).read()  # type: ignore[union-attr]
            if member.name.endswith(".whl"):
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.addfile(member, io.BytesIO(data))
    other_root = nacl.signing.SigningKey.generate()
    signer = nacl.signing.SigningKey.generate()
    stranger_key = tmp_path / "stranger.key"
    write_signing_key(stranger_key, signer, certify(other_root, signer.verify_key, 3600,
                                                    purposes=("release",)))
    stranger = releases.build("1.4.0", "good", key=stranger_key, out=tmp_path / "s")
    config_only = tmp_path / "config-only.key"  # the right root, but not for releases
    write_signing_key(config_only, signer, certify(releases.root_key, signer.verify_key, 3600,
                                                   purposes=("config",)))
    config_signed = releases.build("1.5.0", "good", key=config_only, out=tmp_path / "c")
    not_a_tar = tmp_path / "junk.tar"
    not_a_tar.write_bytes(b"not a tar")
    root = tmp_path / "opt"
    for tar, words in ((tampered, "hash_mismatch"), (stranger, "untrusted_key"),
                       (config_signed, "may not sign release"), (not_a_tar, "not a release tar")):
        done = subprocess.run(
            [sys.executable, "-m", "kiosk.appliance.update_cli", "--root", str(root),
             "--trust-root", str(releases.trust), "install", "--now", str(tar)],
            capture_output=True, text=True, env=env(), cwd=REPO, timeout=120, check=False)
        assert done.returncode == 2 and words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
    assert not (root / "current").exists() and not list((root / "releases").glob("1.*"))
