"""The audit log chains records, detects tampering and refuses personal data."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.audit import AuditError, AuditLog
from kiosk.privacy import pseudonym


def test_chain_verifies_and_survives_reopen(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", "k1")
    log.append("identify.code", "code_replayed")
    log.append("identify.card", "ok", subject=pseudonym("440605195803121228", "audit"))
    again = AuditLog(tmp_path / "audit.jsonl", "k1")
    again.append("application.submit", "ok", matter="sb-record-print")
    assert again.verify() == 3


def test_tampering_breaks_the_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, "k1")
    for outcome in ("ok", "card_expired", "ok"):
        log.append("identify.card", outcome)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1].replace("card_expired", "ok"), lines[2]])
                    + "\n")
    with pytest.raises(AuditError, match="line 2: MAC does not match"):  # the edited record
        log.verify()
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")  # a record removed
    with pytest.raises(AuditError, match="line 2: sequence 3 where 2 was expected"):
        log.verify()
    with pytest.raises(AuditError, match="line 2"):  # and it is not opened for append
        AuditLog(path, "k1")


@pytest.mark.parametrize("value", ["440605195803121228", "91440605MA51XY0R24",
                                   "GZID1.abc.def"])
def test_personal_data_is_refused(tmp_path: Path, value: str) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", "k1")
    with pytest.raises(AuditError, match="personal data"):
        log.append("identify.code", "code_invalid", code=value)
    assert not (tmp_path / "audit.jsonl").exists() or log.verify() == 0
