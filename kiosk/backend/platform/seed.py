"""Demo data: the people and enterprises of ``config/demo/citizens.yaml``, their certificates
and the matter catalogue. Idempotent: seeding a seeded database does nothing."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.orm import Session

from kiosk.backend.platform import catalogue as cat
from kiosk.backend.platform.bundles import seed_bundle_matters
from kiosk.backend.platform.halls import HallSpec, load_halls
from kiosk.backend.platform.models import CertificateRow, HallRow, HolderRow, MatterRow
from kiosk.backend.platform.service import load_reference_photo
from kiosk.identity.checks import certificate_identifier

CITIZENS_FILE = Path(__file__).resolve().parents[2] / "defaults" / "demo" / "citizens.yaml"
CARD_KEYS = ("name", "sex", "nation", "birth_date", "address", "id_number", "issuer",
             "valid_from", "valid_to", "pass_number", "issue_count")


def holder_id(key: str) -> str:
    """The platform's opaque, stable holder id of a demo key (never an ID number)."""
    return "h-" + hashlib.sha256(f"demo-holder:{key}".encode()).hexdigest()[:16]


def _date(value: Any) -> dt.date | None:
    if value in (None, "长期"):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _serial(year: int, n: int) -> str:
    return f"{year}{n:07d}"


def load_people(path: Path = CITIZENS_FILE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def seed_halls(engine: Engine, halls: list[HallSpec] | None = None, *,
               replace: bool = False) -> bool:
    """Store the halls taking appointments (the demo halls by default) unless the database
    has halls already (``replace``: swap them for these); True if it stored them."""
    halls = load_halls() if halls is None else halls
    with Session(engine) as s, s.begin():
        if s.scalar(select(func.count()).select_from(HallRow)):
            if not replace:
                return False
            s.execute(delete(HallRow))
        for i, hall in enumerate(halls):
            s.add(HallRow(id=hall.id, position=i, definition=hall.model_dump(mode="json")))
    return True


def seed_demo(engine: Engine, path: Path = CITIZENS_FILE, photos: bool = True) -> bool:
    """Seed the demo data (and the demo halls, if the database has none); False if the
    database already holds matters."""
    seed_halls(engine)
    seeded = _seed_people(engine, path, photos)
    seed_bundle_matters(engine)  # also into a catalogue seeded before bundles existed
    return seeded


def _seed_people(engine: Engine, path: Path, photos: bool) -> bool:
    with Session(engine) as s, s.begin():
        if s.scalar(select(func.count()).select_from(MatterRow)):
            return False
        people = load_people(path)
        for i, spec in enumerate(cat.MATTERS):
            s.add(MatterRow(id=spec.matter.id, position=i,
                            definition=spec.matter.model_dump(mode="json"),
                            rules=spec.rules, result_title=spec.result_title))
        citizens = {c["key"]: c for c in people["citizens"]}
        for key, c in citizens.items():
            card = {k: str(c[k]) for k in CARD_KEYS if k in c}
            s.add(HolderRow(
                id=holder_id(key), kind="natural", name=c["name"], code=c["id_number"],
                code_type=("港澳台居民居住证号码" if c["card_type"] == "hk_mo_tw"
                           else "居民身份证号码"),
                card_type=c["card_type"], valid_from=_date(c["valid_from"]),
                valid_to=_date(c["valid_to"]), data=card, face_key=c.get("face"),
                photo=load_reference_photo(c["face"]) if photos and c.get("face") else None))
        s.flush()
        for e in people["enterprises"]:
            s.add(HolderRow(id=holder_id(e["key"]), kind="legal", name=e["name"], code=e["uscc"],
                            code_type="统一社会信用代码", data={"address": e["address"]},
                            representative_id=holder_id(e["representative"])))
        s.flush()
        for row in _certificates(citizens, {e["key"]: e for e in people["enterprises"]}):
            s.add(row)
    return True


def _cert(n: int, ctype: cat.CertType, issuer: tuple[str, str], owner: str, number: str,
          issued: dt.date, valid_to: dt.date | None, fields: dict[str, str],
          revoked: bool = False) -> CertificateRow:
    ident = certificate_identifier(ctype.code, issuer[1], _serial(issued.year, n))
    return CertificateRow(identifier=ident, type_code=ctype.code, type_name=ctype.name,
                          number=number, holder_id=holder_id(owner), issuer=issuer[0],
                          issuer_code=issuer[1], issue_date=issued, valid_from=issued,
                          valid_to=valid_to, revoked=revoked, fields=fields)


def _certificates(citizens: dict[str, Any], ents: dict[str, Any]) -> list[CertificateRow]:
    d = dt.date
    rows: list[CertificateRow] = []
    n = 0

    def add(*args: Any, **kw: Any) -> None:
        nonlocal n
        n += 1
        rows.append(_cert(n, *args, **kw))

    for key in ("chen", "huang", "liang", "he"):
        c = citizens[key]
        vf, vt = _date(c["valid_from"]), _date(c["valid_to"])
        if vf is None:
            raise ValueError(f"demo citizen {key}: valid_from missing")
        add(cat.ID_CARD, cat.MPS_FOSHAN, key, c["id_number"], vf, vt,
            {"name": c["name"], "address": c["address"], "birth_date": str(c["birth_date"])})
        add(cat.HUKOU, cat.MPS_FOSHAN, key, f"44060500{n:06d}", d(2015, 6, 1), None,
            {"household_address": c["address"], "relation": "户主", "area_code": "440605"})
        add(cat.SOCIAL_CARD, cat.HRSS, key, f"D4406{n:05d}", d(2020, 3, 1), d(2030, 3, 1),
            {"card_number": f"D4406{n:05d}", "bank_account": f"6217 **** **** {1000 + n}"},
            revoked=key == "liang")
    add(cat.MARRIAGE, cat.CIVIL_AFFAIRS, "chen", "J440605-1982-000318", d(1982, 10, 1), None,
        {"spouse_name": "王建国", "registration_date": "1982-10-01"})
    add(cat.MARRIAGE, cat.CIVIL_AFFAIRS, "huang", "J440605-2012-004211", d(2012, 5, 20), None,
        {"spouse_name": "周丽华", "registration_date": "2012-05-20"})
    add(cat.BIRTH, cat.HEALTH, "huang", "R440123456", d(2024, 2, 3), None,
        {"child_name": "黄梓睿", "birth_date": "2024-02-03", "birth_place": "佛山市南海区人民医院"})
    lee = citizens["lee"]
    add(cat.HK_MO_PERMIT, cat.MPS_FOSHAN, "lee", lee["id_number"], _date(lee["valid_from"]),
        _date(lee["valid_to"]), {"pass_number": str(lee.get("pass_number", "")),
                                 "address": str(lee["address"])})
    add(cat.SOCIAL_CARD, cat.HRSS, "lee", "D440699001", d(2021, 6, 1), d(2031, 6, 1),
        {"card_number": "D440699001", "bank_account": "6217 **** **** 2001"})
    for key, ent in ents.items():
        rep = citizens[ent["representative"]]["name"]
        add(cat.BUSINESS_LICENCE, cat.MARKET, key, ent["uscc"], d(2019, 4, 8), None,
            {"name": ent["name"], "legal_representative": rep, "address": ent["address"],
             "registered_capital": "100万元人民币", "type": "有限责任公司"})
    add(cat.FOOD_LICENCE, cat.MARKET, "meiwei", "JY24406050012345", d(2021, 9, 1),
        d(2031, 8, 31),
        {"licence_no": "JY24406050012345", "premises": ents["meiwei"]["address"],
         "main_business": "餐饮服务经营者"})
    add(cat.FOOD_LICENCE, cat.MARKET, "xinchuang", "JY24406050067890", d(2020, 1, 10),
        d(2025, 1, 9), {"licence_no": "JY24406050067890", "premises": ents["xinchuang"]["address"],
                        "main_business": "预包装食品销售"})
    return rows
