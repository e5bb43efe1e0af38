"""scripts/install-appliance run for real into a staging root: users, modes, owners, units
(checked by systemd-analyze verify), udev rules, journald, the printer queue on a private
cupsd; and its refusals on unsupported systems."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hardware.display.simulator import BacklightSim
from hardware.printer.cupsd import PrivateCupsd
from tests.appliance.conftest import REPO

INSTALL = REPO / "scripts" / "install-appliance"
STUBS = ("/usr/lib/xorg/Xorg", "/usr/bin/xhost", "/usr/bin/cage", "/bin/sh",
         "/opt/kiosk/releases/1.0.0/bin/kiosk", "/opt/kiosk/releases/1.0.0/bin/kiosk-update")


@pytest.fixture(scope="module")
def cupsd() -> Iterator[PrivateCupsd]:
    daemon = PrivateCupsd()
    daemon.start()
    yield daemon
    daemon.cleanup()


def staging_root(root: Path) -> Path:
    """A root with the host's account databases and systemd's unit tree (for verify)."""
    (root / "etc").mkdir(parents=True)
    for name in ("passwd", "group", "shadow", "gshadow", "login.defs"):
        if Path("/etc", name).exists():
            shutil.copy2(Path("/etc", name), root / "etc" / name)
    shutil.copytree("/usr/lib/systemd/system", root / "usr/lib/systemd/system", symlinks=True)
    for stub in STUBS:  # the programs the units start, as the target would have them
        path = root / stub.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    (root / "opt/kiosk/current").symlink_to("releases/1.0.0")
    return root


def install(*args: str, user: int | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, str(INSTALL), *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def account(root: Path, db: str, name: str) -> list[str]:
    for line in (root / "etc" / db).read_text().splitlines():
        if line.split(":")[0] == name:
            return line.split(":")
    raise AssertionError(f"{name} not in {db}")


def mode_owner(path: Path) -> tuple[int, int, int]:
    st = path.lstat()
    return stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid


def test_staged_install_users_modes_owners_units_rules(tmp_path: Path,
                                                       cupsd: PrivateCupsd) -> None:
    root = staging_root(tmp_path / "root")
    secrets = root / "etc/kiosk/secrets"
    secrets.mkdir(parents=True)
    (secrets / "outbox.key").write_bytes(b"k" * 32)  # a secret copied in before, too open
    (secrets / "outbox.key").chmod(0o644)
    panel = BacklightSim(tmp_path / "sys", "intel_backlight")  # a panel, as sysfs lays it out
    done = install("--root", str(root), "--backlight-root", str(panel.class_dir),
                   "--idcard-usb", "10C4:EA60", "--qr-usb", "0c2e:0b61",
                   "--touch-matrix", "0 -1 1 1 0 0", "--cups-server", cupsd.server,
                   "--printer-queue", "kiosk-lobby", "--printer-uri", "socket://127.0.0.1:9",
                   "--printer-model", "raw", "--with-platform")
    assert done.returncode == 0, done.stderr
    assert "staging" in done.stdout

    user = account(root, "passwd", "kiosk")
    uid, gid = int(user[2]), int(user[3])
    assert uid < 1000 and user[6] == "/usr/sbin/nologin" and user[5] == "/var/lib/kiosk"
    for group in ("dialout", "lp", "video", "input", "render"):
        account(root, "group", group)
    assert mode_owner(root / "var/lib/kiosk") == (0o700, uid, gid)
    assert mode_owner(root / "etc/kiosk/secrets") == (0o700, uid, gid)
    assert mode_owner(secrets / "outbox.key") == (0o600, uid, gid)
    assert mode_owner(root / "etc/kiosk") == (0o750, 0, gid)
    assert mode_owner(root / "etc/kiosk/site.yaml") == (0o640, 0, gid)
    assert mode_owner(root / "opt/kiosk/releases") == (0o755, 0, 0)
    platform = account(root, "passwd", "kiosk-platform")
    assert mode_owner(root / "var/lib/kiosk-platform")[:2] == (0o700, int(platform[2]))

    units = root / "etc/systemd/system"
    for name in ("kiosk.service", "kiosk-display.service", "kiosk-update-recover.service",
                 "kiosk-platform.service"):
        text = (units / name).read_text()
        assert not re.findall(r"@[A-Z0-9_]+@", text), name
        assert mode_owner(units / name) == (0o644, 0, 0)
    kiosk_unit = (units / "kiosk.service").read_text()
    for line in ("Type=notify", "NotifyAccess=main", "LimitCORE=0", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ReadWritePaths=/var/lib/kiosk", "PrivateTmp=yes",
                 "User=kiosk", "ExecStart=/opt/kiosk/current/bin/kiosk run --config "
                 "/etc/kiosk/site.yaml"):
        assert line in kiosk_unit
    assert (units / "graphical.target.wants/kiosk.service").is_symlink()
    assert os.readlink(units / "default.target").endswith("graphical.target")

    rules = (root / "etc/udev/rules.d/70-kiosk-readers.rules").read_text()
    assert 'ATTRS{idVendor}=="10c4", ATTRS{idProduct}=="ea60", SYMLINK+="kiosk-idcard", ' \
           'GROUP="kiosk", MODE="0660"' in rules
    assert 'ATTRS{idVendor}=="0c2e", ATTRS{idProduct}=="0b61", SYMLINK+="kiosk-qr"' in rules
    assert 'LIBINPUT_CALIBRATION_MATRIX}="0 -1 1 1 0 0"' in rules
    backlight = (root / "etc/udev/rules.d/71-kiosk-backlight.rules").read_text()
    assert 'SUBSYSTEM=="backlight", RUN+="/bin/chgrp video /sys/class/backlight/%k/' \
           'brightness"' in backlight
    dropin = (units / "kiosk.service.d/backlight.conf").read_text()
    assert f"ReadWritePaths=-{panel.device.resolve()}\n" in dropin  # the real device path
    assert "SupplementaryGroups=" in kiosk_unit and " video" in kiosk_unit
    touch = (root / "etc/X11/xorg.conf.d/40-kiosk-touch.conf").read_text()
    assert '"CalibrationMatrix" "0 -1 1 1 0 0 0 0 1"' in touch
    journald = (root / "etc/systemd/journald.conf.d/kiosk.conf").read_text()
    assert "SystemMaxUse=500M" in journald and "MaxRetentionSec=30day" in journald
    assert "Storage=none" in (root / "etc/systemd/coredump.conf.d/kiosk.conf").read_text()

    queues = subprocess.run(["lpstat", "-h", cupsd.server, "-v", "kiosk-lobby"],
                            capture_output=True, text=True, check=False)
    assert "socket://127.0.0.1:9" in queues.stdout, queues.stderr

    # run again: nothing breaks, the site's own file is kept
    (root / "etc/kiosk/site.yaml").write_text("profile: production\n# edited\n")
    again = install("--root", str(root), "--no-packages")
    assert again.returncode == 0, again.stderr
    assert "# edited" in (root / "etc/kiosk/site.yaml").read_text()


@pytest.mark.parametrize("session, names", [
    ("x", ["kiosk.service", "kiosk-display.service", "kiosk-update-recover.service",
           "kiosk-platform.service"]),
    ("cage", ["kiosk-cage.service"]),
])
def test_units_pass_systemd_analyze_verify(tmp_path: Path, session: str,
                                           names: list[str]) -> None:
    root = staging_root(tmp_path / "root")
    panel = BacklightSim(tmp_path / "sys", "amdgpu_bl0")  # the drop-in is verified too
    done = install("--root", str(root), "--session", session, "--with-platform",
                   "--backlight-root", str(panel.class_dir))
    assert done.returncode == 0, done.stderr
    verify = subprocess.run(
        ["systemd-analyze", "verify", f"--root={root}",
         *[f"/etc/systemd/system/{n}" for n in names]],
        capture_output=True, text=True, timeout=120, check=False)
    unit = "kiosk.service" if session == "x" else "kiosk-cage.service"
    assert "ReadWritePaths=-" in (root / f"etc/systemd/system/{unit}.d/backlight.conf"
                                  ).read_text()
    # verify exits 0 on unknown keys, so any message at all is a failure
    assert verify.returncode == 0 and verify.stderr.strip() == "" \
        and verify.stdout.strip() == "", verify.stderr + verify.stdout


def test_without_a_backlight_the_dropin_grants_nothing(tmp_path: Path) -> None:
    root = staging_root(tmp_path / "root")
    done = install("--root", str(root), "--backlight-root", str(tmp_path / "none"))
    assert done.returncode == 0, done.stderr
    dropin = (root / "etc/systemd/system/kiosk.service.d/backlight.conf").read_text()
    assert "ReadWritePaths" not in dropin and "no backlight under" in dropin


def test_refuses_an_unsupported_system(tmp_path: Path) -> None:
    ubuntu = tmp_path / "os-release"
    ubuntu.write_text('ID=ubuntu\nVERSION_ID="24.04"\nPRETTY_NAME="Ubuntu 24.04 LTS"\n')
    done = install("--root", str(tmp_path), "--os-release", str(ubuntu))
    assert done.returncode == 2
    assert "unsupported system: Ubuntu 24.04 LTS" in done.stderr
    assert "Debian 12" in done.stderr and "Traceback" not in done.stderr


def test_refuses_without_systemd_as_pid_1(tmp_path: Path) -> None:
    done = install("--systemd-dir", str(tmp_path / "no-systemd"))
    assert done.returncode == 2 and "systemd is not running as PID 1" in done.stderr


def test_refuses_a_non_root_user(tmp_path: Path) -> None:
    done = install("--root", str(tmp_path), user=65534)
    assert done.returncode == 2 and "must be run as root" in done.stderr


def test_bad_options_name_the_option() -> None:
    done = install("--idcard-usb", "reader")
    assert done.returncode == 2 and "--idcard-usb: expected VID:PID" in done.stderr
