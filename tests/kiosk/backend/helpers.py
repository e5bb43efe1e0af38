"""Demo people as the ID-card reader would report them, and request builders."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from kiosk.backend.contract import ApplicationRequest, CardIdentity, Delivery
from kiosk.backend.platform.seed import load_people

PEOPLE = {c["key"]: c for c in load_people()["citizens"]}
ENTERPRISES = {e["key"]: e for e in load_people()["enterprises"]}


def card(key: str, **changes: Any) -> CardIdentity:
    c = PEOPLE[key]
    valid_to = None if c["valid_to"] == "长期" else c["valid_to"]
    data: dict[str, Any] = {"card_type": c["card_type"], "name": c["name"],
                            "id_number": c["id_number"], "valid_from": c["valid_from"],
                            "valid_to": valid_to}
    data.update(changes)
    return CardIdentity(**data)


KIOSK = "kiosk-test"


def request(matter_id: str, ref: str, form: dict[str, str] | None = None,
            delivery: Delivery = Delivery.PRINT, key: str | None = None,
            kiosk_id: str = KIOSK, **kw: Any) -> ApplicationRequest:
    return ApplicationRequest(idempotency_key=key or uuid.uuid4().hex, matter_id=matter_id,
                              holder_ref=ref, kiosk_id=kiosk_id, form=form or {},
                              attachments=kw.pop("attachments", []), delivery=delivery, **kw)


def date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)
