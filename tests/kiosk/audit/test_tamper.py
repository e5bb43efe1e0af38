"""The audit chain is anchored outside its file: a keyed MAC per record and a checkpoint.

Each way of tampering is checked on a real log in a temp folder: the verification names the
first bad record, and appending after the tampering never makes the edit part of a valid
chain.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.audit import AuditError, AuditLog, verify_file
from kiosk.audit.anchor import GENESIS, canonical, head_valid, read_checkpoint
from kiosk.cli import main

OUTCOMES = ("ok", "card_expired", "ok", "code_replayed", "ok")


def _log(tmp_path: Path, n: int = len(OUTCOMES)) -> tuple[Path, AuditLog]:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, "k1")
    for outcome in OUTCOMES[:n]:
        log.append("identify.card", outcome, session=7)
    return path, log


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="ascii").splitlines()


def _write(path: Path, lines: list[str]) -> None:
    path.write_text("".join(line + "\n" for line in lines), encoding="ascii")


def _broken(path: Path) -> tuple[int | None, str | None]:
    result = verify_file(path)
    assert result.status == "broken", result.as_dict()
    return result.line, result.code


def test_an_intact_log_verifies_and_its_head_is_the_checkpoint(tmp_path: Path) -> None:
    path, log = _log(tmp_path)
    assert log.verify() == 5 and verify_file(path).status == "ok"
    head = log.head()
    last = _lines(path)[-1].encode("ascii")
    assert (head.seq, head.hash) == (5, hashlib.sha256(last).hexdigest())
    assert read_checkpoint(tmp_path / "secrets" / "audit.jsonl.head") == head
    key = bytes.fromhex((tmp_path / "secrets" / "audit.key").read_text().strip())
    assert head_valid(key, head)
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    for private in (tmp_path / "secrets" / "audit.key", tmp_path / "secrets" / "audit.jsonl.head",
                    path):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600, private.name


def test_edited_last_line_is_named(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    lines = _lines(path)
    lines[-1] = lines[-1].replace('"outcome":"ok"', '"outcome":"card_expired"')
    _write(path, lines)
    assert _broken(path) == (5, "mac_mismatch")
    with pytest.raises(AuditError, match="line 5"):
        AuditLog(path, "k1")  # not opened for append


def test_cut_tail_is_named(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    _write(path, _lines(path)[:-2])
    line, code = _broken(path)
    assert (line, code) == (4, "tail_cut")
    assert "ends at record 3" in (verify_file(path).reason or "")


def test_emptied_and_removed_files_are_told(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    path.write_bytes(b"")
    assert _broken(path) == (1, "tail_cut")
    assert "empty" in (verify_file(path).reason or "")
    path.unlink()
    assert _broken(path) == (1, "tail_cut")
    assert "missing" in (verify_file(path).reason or "")


def test_a_chain_recomputed_without_the_key_fails_at_the_edit(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    records = [json.loads(line) for line in _lines(path)]
    records[1]["outcome"] = "ok"  # hide the expired card
    forged_key = secrets.token_bytes(32)
    prev, out = GENESIS, []
    for record in records:
        record["prev"] = prev
        body = {k: v for k, v in record.items() if k != "mac"}
        record["mac"] = hmac.new(forged_key, canonical(body).encode(), "sha256").hexdigest()
        line = canonical(record)
        out.append(line)
        prev = hashlib.sha256(line.encode()).hexdigest()
    _write(path, out)
    checkpoint = tmp_path / "secrets" / "audit.jsonl.head"
    head = json.loads(checkpoint.read_text())
    checkpoint.write_text(json.dumps({**head, "hash": prev}))
    assert _broken(path) == (1, "mac_mismatch")  # every MAC is wrong: the first one is named


def test_macs_stripped_and_chain_recomputed_is_not_taken_for_an_old_file(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    prev, out = GENESIS, []
    for line in _lines(path):
        record = json.loads(line)
        del record["mac"]
        record["prev"] = prev
        text = canonical(record)
        out.append(text)
        prev = hashlib.sha256(text.encode()).hexdigest()
    _write(path, out)
    assert _broken(path)[1] == "checkpoint_mismatch"
    (tmp_path / "secrets" / "audit.jsonl.head").unlink()  # and the checkpoint removed
    assert _broken(path)[1] == "checkpoint_missing"


def test_reordered_and_deleted_lines_are_named(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    lines = _lines(path)
    _write(path, [lines[0], lines[2], lines[1], *lines[3:]])
    assert _broken(path) == (2, "seq_gap")
    _write(path, [lines[0], *lines[2:]])
    assert _broken(path) == (2, "seq_gap")
    _write(path, [lines[0], lines[1], lines[1], *lines[3:]])  # a duplicated record
    assert _broken(path) == (3, "seq_gap")


def test_append_after_an_edit_while_open_does_not_launder_it(tmp_path: Path) -> None:
    path, log = _log(tmp_path)
    lines = _lines(path)
    lines[-1] = lines[-1].replace('"session":7', '"session":8')
    _write(path, lines)
    log.append("application.submit", "ok")  # the running kiosk's next record
    assert log.verify() == 2  # a new segment: audit.segment + the record
    asides = sorted(tmp_path.glob("audit.jsonl.*.changed"))
    assert len(asides) == 1
    assert _broken(asides[0]) == (5, "mac_mismatch")  # the edit stays visible
    first = json.loads(_lines(path)[0])
    assert first["event"] == "audit.segment" and first["detail"]["previous"] == asides[0].name


def test_reopening_a_tampered_log_starts_a_new_segment(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    _write(path, _lines(path)[:-1])  # tail cut while the kiosk was off
    reopened = AuditLog.open(path, "k1")
    reopened.append("identify.card", "ok")
    assert reopened.verify() == 2 and verify_file(path).status == "ok"
    aside = next(tmp_path.glob("audit.jsonl.*.broken"))
    assert _broken(aside) == (5, "tail_cut")  # set aside with its checkpoint: still told
    segment = json.loads(_lines(path)[0])
    assert segment["detail"] == {"reason": "tail_cut", "previous": aside.name,
                                 "previous_line": 5}
    with pytest.raises(AuditError) as refused:
        AuditLog(aside, "k1")
    assert refused.value.code == "tail_cut" and refused.value.line == 5


def test_a_missing_key_is_an_error_and_never_silently_replaced(tmp_path: Path) -> None:
    path, _ = _log(tmp_path)
    (tmp_path / "secrets" / "audit.key").unlink()
    with pytest.raises(AuditError) as refused:
        AuditLog(path, "k1")
    assert refused.value.code == "key_missing"
    assert not (tmp_path / "secrets" / "audit.key").exists()
    assert _broken(path)[1] == "key_missing"


def _legacy(path: Path, n: int) -> None:
    """A log as the version before keyed audit wrote it (hash chain, no MAC, no checkpoint)."""
    prev, out = GENESIS, []
    for seq in range(1, n + 1):
        line = json.dumps({"seq": seq, "at": 1.0 * seq, "kiosk": "k1", "event": "identify.card",
                           "outcome": "ok", "subject": None, "detail": {}, "prev": prev},
                          ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        out.append(line)
        prev = hashlib.sha256(line.encode()).hexdigest()
    _write(path, out)


def test_an_old_unkeyed_file_is_read_said_so_and_set_aside_anchored(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _legacy(path, 3)
    result = verify_file(path)
    assert result.status == "unkeyed" and result.records == 3 and result.ok
    assert any("no MAC" in note for note in result.notes)
    with pytest.raises(AuditError) as refused:
        AuditLog(path, "k1")
    assert refused.value.code == "unkeyed"
    log = AuditLog.open(path, "k1")
    log.append("identify.card", "ok")
    assert log.verify() == 2
    aside = next(tmp_path.glob("audit.jsonl.*.unkeyed"))
    assert verify_file(aside).status == "unkeyed"  # readable, and now its end is anchored
    _write(aside, _lines(aside)[:-1])
    assert _broken(aside) == (3, "tail_cut")


def test_an_interrupted_append_is_finished_not_taken_for_tampering(tmp_path: Path) -> None:
    path, log = _log(tmp_path, 3)
    checkpoint = tmp_path / "secrets" / "audit.jsonl.head"
    behind = checkpoint.read_bytes()
    log.append("identify.card", "ok")
    checkpoint.write_bytes(behind)  # power cut after the record, before the checkpoint
    with path.open("ab") as fh:
        fh.write(b'{"seq":5,"at":')  # and a second write cut short
    result = verify_file(path)
    assert result.status == "ok" and result.torn and result.behind
    reopened = AuditLog(path, "k1")
    assert reopened.verify() == 5
    last = json.loads(_lines(path)[-1])
    assert last["event"] == "audit.recovered" and last["outcome"] == "interrupted_append"


def _cli(*args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(main, ["diag", "audit", *args, "--json"])
    return result.exit_code, json.loads(result.output.strip().splitlines()[-1])


def test_diag_audit_verify_and_head(tmp_path: Path) -> None:
    path, log = _log(tmp_path)
    code, report = _cli("verify", "--file", str(path))
    assert code == 0 and report["status"] == "ok" and report["records"] == 5
    code, head = _cli("head", "--file", str(path))
    assert code == 0 and head["seq"] == 5 and head["hash"] == log.head().hash
    lines = _lines(path)
    _write(path, [lines[0], lines[1].replace("card_expired", "ok"), *lines[2:]])
    code, report = _cli("verify", "--file", str(path))
    assert code == 2 and report["status"] == "broken"
    assert report["first_bad"] == {"line": 2, "code": "mac_mismatch",
                                   "reason": verify_file(path).reason}
    text = CliRunner().invoke(main, ["diag", "audit", "verify", "--file", str(path)])
    assert text.exit_code == 2 and "line 2" in text.output


def test_diag_audit_verify_finds_the_log_from_the_configuration(tmp_path: Path) -> None:
    _log(tmp_path)
    result = CliRunner().invoke(main, ["diag", "audit", "verify", "--json"],
                                env={"KIOSK__VAR_DIR": str(tmp_path)})
    assert result.exit_code == 0 and json.loads(result.output)["records"] == 5
    bad = tmp_path / "bad.yaml"
    bad.write_text("var_dir: [1, 2\n")
    result = CliRunner().invoke(main, ["diag", "audit", "verify", "--config", str(bad)])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_verify_reads_nothing_it_should_not_create(tmp_path: Path) -> None:
    code, report = _cli("verify", "--file", str(tmp_path / "audit.jsonl"))
    assert code == 0 and report["records"] == 0
    assert list(tmp_path.iterdir()) == []  # no key, no checkpoint, no file made by a check
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("damaged", ["audit.key", "audit.jsonl.head"])
def test_a_damaged_key_or_checkpoint_starts_a_new_segment(tmp_path: Path, damaged: str) -> None:
    path, _ = _log(tmp_path)
    (tmp_path / "secrets" / damaged).write_text("not what it was\n")
    assert verify_file(path).status == "broken"
    log = AuditLog.open(path, "k1")
    log.append("identify.card", "ok")
    assert log.verify() == 2
    assert len(list(tmp_path.glob("audit.jsonl.*.broken"))) == 1  # the old file, kept
    kept = sorted(p.name for p in (tmp_path / "secrets").glob(f"{damaged}*"))
    expected = 2 if damaged == "audit.key" else 1  # a damaged key is kept aside, not reused
    assert len(kept) == expected, kept
