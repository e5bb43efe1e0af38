"""Issue 17, 一件事一次办: themed bundles from the platform's catalogue, over real HTTP (uvicorn,
the http adapter) and in-process (the embedded adapter); each bundle matter is an ordinary
application of its own."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from kiosk.backend.bundles import Bundle, supports_bundles
from kiosk.backend.contract import ApplicationState, Delivery, InvalidRequest, NotFound
from kiosk.backend.credentials import KioskCredential
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.backend.platform.bundles import BUNDLE_MATTERS, seed_bundle_matters
from kiosk.backend.platform.models import MatterRow
from kiosk.backend.platform.service import PlatformService
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.helpers import card, request
from tests.kiosk.backend.test_http import make_backend

Server = tuple[str, KioskCredential, PlatformService]


def test_bundles_over_http_list_and_get(http_platform: Server, tmp_path: Path) -> None:
    url, cred, service = http_platform
    backend = make_backend(tmp_path, url, cred)
    assert supports_bundles(backend)
    bundles = {b.id: b for b in backend.list_bundles()}
    assert set(bundles) == {"newborn", "retirement"}
    newborn = bundles["newborn"]
    assert newborn.matter_ids == ["newborn-birth-cert", "birth-registration",
                                  "newborn-medical-insurance", "newborn-social-card"]
    assert {"name", "child_name", "phone"} <= set(newborn.shared_fields)
    for lang in ("zh_CN", "zh_HK", "en"):
        assert newborn.name[lang] and newborn.summary[lang]
    assert backend.get_bundle("retirement") == bundles["retirement"]
    matters = {m.id for m in backend.list_matters()}
    for b in bundles.values():  # every step is a matter of the catalogue
        assert set(b.matter_ids) <= matters
    with pytest.raises(NotFound) as err:
        backend.get_bundle("nope")
    assert err.value.code == "bundle_not_found"
    for bad in ("../matters", "x" * 65):  # a typed contract error, never another resource
        with pytest.raises((NotFound, InvalidRequest)):
            backend.get_bundle(bad)
    # bundles are catalogue reads, but still need a kiosk token
    assert httpx.get(f"{url}/v1/bundles").status_code == 401


def test_bundle_matters_are_ordinary_applications(http_platform: Server,
                                                  tmp_path: Path) -> None:
    """Huang (a newborn's father): each newborn matter prepares with its certificates and is
    submitted on its own; the instant ones decide at once."""
    url, cred, _service = http_platform
    backend = make_backend(tmp_path, url, cred)
    holder = backend.check_identity(card("huang"))
    bundle = backend.get_bundle("newborn")
    states = {}
    for mid in bundle.matter_ids:
        prepared = backend.prepare_application(mid, holder.ref)
        assert prepared.blocking == []
        filled = {p.key: p.value for p in prepared.prefilled}
        assert filled.get("child_name") == "黄梓睿"
        matter = next(m for m in backend.list_matters() if m.id == mid)
        form = {k: "13800138000" for k in prepared.to_type if k == "phone"}
        receipt = backend.submit_application(request(
            mid, holder.ref, form=form, delivery=matter.delivery[0]))
        states[mid] = receipt.state
    assert states["newborn-birth-cert"] is ApplicationState.RESULT_ISSUED
    assert states["newborn-medical-insurance"] is ApplicationState.RESULT_ISSUED
    assert states["birth-registration"] is ApplicationState.ACCEPTED
    assert states["newborn-social-card"] is ApplicationState.ACCEPTED


def test_without_a_birth_certificate_the_newborn_matters_are_blocked(
        http_platform: Server, tmp_path: Path) -> None:
    url, cred, _service = http_platform
    backend = make_backend(tmp_path, url, cred)
    holder = backend.check_identity(card("chen"))
    prepared = backend.prepare_application("newborn-birth-cert", holder.ref)
    assert prepared.blocking == ["certificate_missing:birth_cert"]


def test_a_bundle_is_listed_only_with_all_its_matters(fresh_platform: PlatformService,
                                                      tmp_path: Path) -> None:
    cfg = KioskConfig.model_validate({"kiosk": {"id": "kiosk-test"}})
    backend = EmbeddedBackend(cfg, service=fresh_platform)
    assert {b.id for b in backend.list_bundles()} == {"newborn", "retirement"}
    with Session(fresh_platform.engine) as s, s.begin():
        s.execute(delete(MatterRow).where(MatterRow.id == "housing-fund-retire"))
    assert [b.id for b in backend.list_bundles()] == ["newborn"]
    with pytest.raises(NotFound):
        backend.get_bundle("retirement")
    # a platform seeded before bundles existed gets their matters on the next seed
    assert seed_bundle_matters(fresh_platform.engine) == 1
    assert seed_bundle_matters(fresh_platform.engine) == 0
    assert {b.id for b in backend.list_bundles()} == {"newborn", "retirement"}
    ids = [m.id for m in backend.list_matters()]
    assert len(ids) == len(set(ids))
    assert {s.matter.id for s in BUNDLE_MATTERS} <= set(ids)


def test_bundle_values_refuse_a_single_step() -> None:
    with pytest.raises(ValueError):
        Bundle(id="x", name={"zh_CN": "x"}, summary={"zh_CN": "x"}, steps=[])
    assert Delivery.COUNTER  # the new matters' deliveries are contract values
