"""The privacy audit (issue 15): after real journeys on the simulators, nothing personal is
left in the logs, the temp dirs (the private cupsd's spool and logs among them), the var dir,
the databases (the outbox must hold ciphertext only) or crash output (an all-threads dump, as
the watchdog's SIGABRT writes it); core dumps are off for the service.

Needles: every demo citizen's name, ID number, address and pass number (UTF-8, UTF-16-LE,
GB18030), image signatures (PNG, JPEG, JFIF/Exif), the demo reference photo's bytes and its
face encoding (float64 and float32)."""

from __future__ import annotations

import faulthandler
import logging
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from kiosk.backend.contract import Delivery
from kiosk.compose import running
from kiosk.core import KioskCore
from kiosk.session.states import State
from tests.appliance.conftest import KIOSK_UNIT, REPO
from tests.kiosk.session.conftest import sim
from tests.kiosk.session.test_journey import Watcher

# the government's records (they hold citizens by nature) and the emulated paper
NOT_KIOSK_STATE = ("platform.sqlite", "printer-spool")
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xe1",
               b"\xff\xd8\xff\xdb", b"JFIF\x00", b"Exif\x00\x00")


def citizens() -> list[dict[str, Any]]:
    data = yaml.safe_load((REPO / "config/demo/citizens.yaml").read_text(encoding="utf-8"))
    return list(data["citizens"])


def text_needles() -> dict[str, bytes]:
    out = {}
    for person in citizens():
        for field in ("name", "id_number", "address", "pass_number"):
            value = person.get(field)
            if value:
                for codec in ("utf-8", "utf-16-le", "gb18030"):
                    out[f"{person['key']}.{field}/{codec}"] = str(value).encode(codec)
    return out


def face_needles(keys: list[str]) -> dict[str, bytes]:
    import cv2
    import face_recognition

    from kiosk.demo.faces import reference_jpeg

    out = {}
    for key in keys:
        photo = reference_jpeg(key)
        out[f"{key}.photo"] = photo[len(photo) // 2: len(photo) // 2 + 48]
        rgb = cv2.cvtColor(cv2.imdecode(np.frombuffer(photo, np.uint8), cv2.IMREAD_COLOR),
                           cv2.COLOR_BGR2RGB)
        encodings = face_recognition.face_encodings(rgb)
        assert encodings, f"no face found in {key}'s reference photo"
        out[f"{key}.encoding/f64"] = np.asarray(encodings[0][:4], np.float64).tobytes()
        out[f"{key}.encoding/f32"] = np.asarray(encodings[0][:4], np.float32).tobytes()
    return out


def scan(paths: list[Path], needles: dict[str, bytes], magic: bool = True) -> list[str]:
    found = []
    for path in paths:
        try:
            blob = path.read_bytes()
        except OSError:
            continue
        found += [f"{path}: {name}" for name, needle in needles.items() if needle in blob]
        if magic:
            found += [f"{path}: image {m!r}" for m in IMAGE_MAGIC if m in blob]
    return found


def files_under(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink()
            and not any(part in p.parts or part in p.name for part in NOT_KIOSK_STATE)]


@pytest.fixture
def audited(make_config: Callable[..., Any], tmp_path: Path,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[KioskCore, Path, Path]]:
    """The kiosk with every temp file of its process under one folder and every log record
    (DEBUG and up) in one file."""
    # under /tmp, searchable (not readable) by others: cupsd's backends run as lp
    private_tmp = Path(tempfile.mkdtemp(prefix="kiosk-audit-", dir="/tmp"))
    private_tmp.chmod(0o711)
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    log_file = tmp_path / "kiosk.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    cfg = make_config(camera__source="sim://faces", face__deadline_s="40")
    try:
        with running(cfg) as kiosk:
            yield kiosk, private_tmp, log_file
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
        shutil.rmtree(private_tmp, ignore_errors=True)


def card_face_journey(core: KioskCore, w: Watcher, key: str, crash_dump: Path) -> None:
    world, journey = sim(core), core.journey
    world.present_face(key)
    world.insert_card(key)
    w.state(State.FACE_CONSENT)
    journey.give_face_consent()
    w.state(State.HOME)
    assert journey.select_matter("sb-record-print")
    w.state(State.GUIDE)
    journey.begin()
    w.state(State.CONSENT)
    journey.give_consent()
    w.state(State.CERTIFICATES)
    prepared = core.session.data.prepared
    assert prepared is not None
    with crash_dump.open("w") as fh:  # what a watchdog SIGABRT mid-session writes
        faulthandler.dump_traceback(fh, all_threads=True)
    journey.continue_to_form()
    w.state(State.FORM)
    assert journey.submit_form({k: "13800138000" for k in prepared.to_type}) == {}
    w.state(State.REVIEW)
    journey.submit()
    w.state(State.RESULT)
    journey.choose_delivery()
    w.state(State.DELIVERY)
    before = len(world.printed())
    journey.deliver(Delivery.PRINT)
    w.state(State.RATING)
    assert world.wait_printed(before + 1, 30)
    journey.rate("good")
    w.state(State.GOODBYE)
    journey.finish()
    w.state(State.ATTRACT)
    world.remove_card()


def code_journey_left_in_the_outbox(core: KioskCore, w: Watcher) -> None:
    """An identity-code journey submitted while the platform is cut: the row stays sealed."""
    service = core.backend.inner.service  # type: ignore[union-attr]
    core.journey.handle_code(service.issue_identity_code("44060519480118102X"))
    w.identified()
    assert core.journey.select_matter("elderly-allowance")
    core.journey.begin()
    w.state(State.CONSENT)
    core.journey.give_consent()
    w.state(State.CERTIFICATES)
    core.journey.continue_to_form()
    prepared = core.session.data.prepared
    assert prepared is not None
    form = {k: "13800138000" for k in prepared.to_type}
    errors = core.journey.submit_form(form)
    if errors:
        m = core.session.data.matter
        assert m is not None
        for f in m.fields:
            if f.key in errors:
                form[f.key] = f.choices[0] if f.choices else "广东省佛山市南海区九江镇"
        assert core.journey.submit_form(form) == {}
    w.state(State.REVIEW)
    core.backend.cut()  # type: ignore[union-attr]
    core.journey.submit()
    w.state(State.RESULT)


def test_nothing_personal_is_left_anywhere_after_journeys(
        audited: tuple[KioskCore, Path, Path], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    core, private_tmp, log_file = audited
    w = Watcher(core)
    crash_dump = tmp_path / "crash-dump.txt"
    card_face_journey(core, w, "chen", crash_dump)
    code_journey_left_in_the_outbox(core, w)
    outbox = core.journey.outbox
    assert outbox.pending_count() == 1  # the citizen's promise, held while the platform is cut

    needles = {**text_needles(), **face_needles(["chen"])}
    needles["extra.address"] = "广东省佛山市南海区九江镇".encode()
    var = Path(core.cfg.var_dir)
    places = files_under(var) + files_under(private_tmp) + [log_file, crash_dump]
    databases = [p for p in files_under(var) if p.read_bytes()[:16] == b"SQLite format 3\x00"]
    assert databases, "the kiosk's own databases (outbox, audit) are scanned"
    found = scan(places, needles)
    found += [f"log record: {n}" for n, needle in text_needles().items()
              if needle.decode("utf-8", "ignore") in caplog.text and n.endswith("/utf-8")]
    assert found == [], "\n".join(found)
    # positive controls: the scan sees what is there (the platform's records of the citizen;
    # the cupsd and its spool that printed for this kiosk live in the scanned temp dir)
    assert scan(sorted(var.glob("platform.sqlite*")), needles, magic=False)
    assert any("cups" in p.name or "log" in p.parts for p in files_under(private_tmp))

    # the outbox holds ciphertext only: no readable field of the application in any cell
    outbox_db = Path(core.cfg.outbox.path)
    with sqlite3.connect(f"file:{outbox_db}?mode=ro", uri=True) as db:
        tables = [r[0] for r in db.execute("select name from sqlite_master where type='table'")]
        cells = [c for t in tables for row in db.execute(f'select * from "{t}"') for c in row]
    blobs = [c for c in cells if isinstance(c, bytes) and len(c) > 64]
    assert blobs, "the pending submission is in the outbox"
    assert not any(b"13800138000" in b or b"elderly" in b or b"{" == b[:1] for b in blobs)

    core.backend.restore()  # type: ignore[union-attr]
    assert outbox.deliver_pending() == 1 and outbox.pending_count() == 0
    assert scan(files_under(var) + files_under(private_tmp), needles) == []


def test_core_dumps_are_off_for_the_service() -> None:
    unit = KIOSK_UNIT.read_text(encoding="utf-8")
    assert "\nLimitCORE=0\n" in unit
    coredump = (REPO / "deploy/coredump/kiosk.conf").read_text(encoding="utf-8")
    assert "Storage=none" in coredump and "ProcessSizeMax=0" in coredump
