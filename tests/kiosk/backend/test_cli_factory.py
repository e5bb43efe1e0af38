"""`kiosk backend` commands and the backend factory."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.backend.contract import Refused
from kiosk.backend.credentials import CredentialStore, load_credential
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.backend.factory import create_backend
from kiosk.backend.http import HttpBackend
from kiosk.cli import main
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.helpers import PEOPLE


def test_issue_credentials(tmp_path: Path) -> None:
    server, out = tmp_path / "server.json", tmp_path / "kiosk.json"
    result = CliRunner().invoke(main, ["backend", "issue-credentials", "--kiosk-id", "k-01",
                                       "--credentials", str(server), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"kiosk_id": "k-01", "credentials_file": str(out)}
    cred = load_credential(out)
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert cred.token not in server.read_text()  # the server keeps hashes only
    assert CredentialStore.load(server).verify(cred.token) == "k-01"
    assert CredentialStore.load(server).verify(cred.token + "x") is None
    bad = CliRunner().invoke(main, ["backend", "issue-credentials", "--kiosk-id", "a.b",
                                    "--credentials", str(server)])
    assert bad.exit_code == 2


def test_identity_code_command_and_factory(tmp_path: Path) -> None:
    db, key = str(tmp_path / "p.sqlite"), str(tmp_path / "k.key")
    result = CliRunner().invoke(main, ["backend", "identity-code", "--db", db, "--key-file",
                                       key, "--id-number", PEOPLE["he"]["id_number"]])
    assert result.exit_code == 0, result.output
    code = result.output.strip()
    assert code.startswith("GZID1.") and PEOPLE["he"]["id_number"] not in code
    cfg = KioskConfig.model_validate({"backend": {"db": db, "identity_key_file": key}})
    backend = create_backend(cfg)
    assert isinstance(backend, EmbeddedBackend)
    assert backend.verify_identity_code(code).name == PEOPLE["he"]["name"]
    unknown = CliRunner().invoke(main, ["backend", "identity-code", "--db", db, "--key-file",
                                        key, "--id-number", "11010519491231002X"])
    assert unknown.exit_code == 2
    http = create_backend(KioskConfig.model_validate(
        {"backend": {"kind": "http", "url": "http://127.0.0.1:9"}}))
    assert isinstance(http, HttpBackend)


def test_identity_code_for_one_kiosk(tmp_path: Path) -> None:
    db, key = str(tmp_path / "p.sqlite"), str(tmp_path / "k.key")
    args = ["backend", "identity-code", "--db", db, "--key-file", key, "--id-number",
            PEOPLE["he"]["id_number"], "--audience"]
    result = CliRunner().invoke(main, [*args, "k-01"])
    assert result.exit_code == 0, result.output
    code = result.output.strip()

    def kiosk(kiosk_id: str) -> EmbeddedBackend:
        return EmbeddedBackend(KioskConfig.model_validate(
            {"kiosk": {"id": kiosk_id}, "backend": {"db": db, "identity_key_file": key}}))

    with pytest.raises(Refused) as err:
        kiosk("k-02").verify_identity_code(code)
    assert err.value.code == "code_invalid"
    assert kiosk("k-01").verify_identity_code(code).name == PEOPLE["he"]["name"]
    bad = CliRunner().invoke(main, [*args, "k 01"])
    assert bad.exit_code == 2 and "--audience" in bad.output
