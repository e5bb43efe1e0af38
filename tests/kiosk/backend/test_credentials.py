"""Issue 11 item 4: token rotation and revocation take effect at once, without a restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from kiosk.backend.contract import Unauthorized
from kiosk.backend.credentials import CredentialStore, load_credential
from kiosk.backend.http import HttpBackend
from kiosk.cli import main
from kiosk.config.schema import KioskConfig
from tests.harness.peers import free_port, wait_until


def cli(*args: str) -> dict[str, object]:
    result = CliRunner().invoke(main, ["backend", *args])
    assert result.exit_code == 0, result.output
    parsed: dict[str, object] = json.loads(result.output)
    return parsed


def test_store_sees_rotation_and_revocation_of_its_file(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    server = CredentialStore.load(path)  # the running server's store, loaded once
    operator = CredentialStore.load(path)  # what the CLI does in another process
    first = operator.issue("k-01")
    assert server.verify(first.token) == "k-01"
    for _ in range(5):  # quick successive rotations (same size, maybe the same inode)
        new = CredentialStore.load(path).issue("k-01")
        assert server.verify(new.token) == "k-01"
        assert server.verify(first.token) is None
        first = new
    other = CredentialStore.load(path).issue("k-02")
    assert CredentialStore.load(path).revoke("k-01") is True
    assert server.verify(first.token) is None
    assert server.verify(other.token) == "k-02"
    assert CredentialStore.load(path).revoke("k-01") is False


def test_store_fails_closed_on_a_damaged_file(tmp_path: Path) -> None:
    path = tmp_path / "creds.json"
    server = CredentialStore.load(path)
    token = CredentialStore.load(path).issue("k-01").token
    assert server.verify(token) == "k-01"
    path.write_text("{not json", encoding="utf-8")
    assert server.verify(token) is None
    path.unlink()
    assert server.verify(token) is None


def test_revoke_command(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    token = CredentialStore.load(creds).issue("k-07").token
    assert cli("revoke-credentials", "--kiosk-id", "k-07", "--credentials", str(creds)) == \
        {"kiosk_id": "k-07", "revoked": True}
    assert CredentialStore.load(creds).verify(token) is None
    again = CliRunner().invoke(main, ["backend", "revoke-credentials", "--kiosk-id", "k-07",
                                      "--credentials", str(creds)])
    assert again.exit_code == 2 and "k-07" in again.output


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``kiosk backend serve`` in its own process; yields (url, server credentials file)."""
    creds = tmp_path / "server-creds.json"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "backend", "serve", "--port", str(port),
         "--db", str(tmp_path / "platform.sqlite"), "--seed-demo", "--credentials",
         str(creds), "--key-file", str(tmp_path / "key")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=os.getcwd())
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().decode()[-2000:]}"
                               if proc.stderr else "server exited")
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        wait_until(up, 60, "kiosk backend serve")
        yield url, creds
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def status(url: str, token: str) -> int:
    return httpx.get(f"{url}/v1/matters", headers={"Authorization": f"Bearer {token}"}).\
        status_code


def test_rotation_and_revocation_on_a_running_server(server: tuple[str, Path],
                                                    tmp_path: Path) -> None:
    url, creds = server
    kiosk_file = tmp_path / "kiosk" / "credentials.json"
    cli("issue-credentials", "--kiosk-id", "k-01", "--credentials", str(creds),
        "--out", str(kiosk_file))
    old = load_credential(kiosk_file).token
    assert status(url, old) == 200  # issued after the server started: accepted at once
    cfg = KioskConfig.model_validate({"kiosk": {"id": "k-01"}, "backend": {
        "kind": "http", "url": url, "credentials_file": str(kiosk_file), "retries": 0}})
    backend = HttpBackend(cfg, backoff_s=0.01)
    assert backend.list_matters()
    cli("issue-credentials", "--kiosk-id", "k-01", "--credentials", str(creds),
        "--out", str(kiosk_file))
    new = load_credential(kiosk_file).token
    assert status(url, old) == 401 and status(url, new) == 200
    assert backend.list_matters()  # the kiosk re-read its credentials file: no restart
    cli("revoke-credentials", "--kiosk-id", "k-01", "--credentials", str(creds))
    assert status(url, new) == 401
    with pytest.raises(Unauthorized):
        backend.list_matters()
    backend.close()


def test_damaged_server_file_is_an_operator_error(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text("[1, 2", encoding="utf-8")
    for args in (["serve", "--port", str(free_port())], ["issue-credentials", "--kiosk-id", "k"],
                 ["revoke-credentials", "--kiosk-id", "k"]):
        result = CliRunner().invoke(main, ["backend", *args, "--credentials", str(creds),
                                           *(["--db", str(tmp_path / "p.sqlite"),
                                              "--key-file", str(tmp_path / "key")]
                                             if args[0] == "serve" else [])])
        assert result.exit_code == 2, (args, result.output)
        assert str(creds) in result.output and "Traceback" not in result.output
    assert creds.read_text(encoding="utf-8") == "[1, 2"  # left as it was
