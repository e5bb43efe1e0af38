"""Issue 11 item 8: every text the platform accepts refuses surrogates and control characters
with 422 and a stable code; no request makes the server answer 5xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.backend.contract import BackendError, Delivery, InvalidRequest, Rating
from kiosk.backend.credentials import KioskCredential
from kiosk.backend.platform.service import PlatformService
from kiosk.backend.platform.text import clean_text
from tests.kiosk.backend.helpers import ENTERPRISES, card, request

K = "kiosk-test"
HOSTILE = ["\udcff", "a\ud800b", "\x00", "x\x07", "\x1b[31m", "\u202eevil", "\ufeffbom",
           "\x85", "\u2028"]
PHONE = {"phone": "13800138000"}


@pytest.mark.parametrize("bad", HOSTILE)
def test_clean_text_refuses_hostile_characters(bad: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        clean_text(bad, "field")
    assert err.value.code == "text_invalid" and err.value.http_status == 422
    assert bad not in err.value.message  # never echoed


def test_clean_text_keeps_ordinary_text() -> None:
    assert clean_text("  广东省佛山市南海区 1号 ", "address") == "广东省佛山市南海区 1号"
    assert clean_text("第一行\n第二行", "reason", multiline=True) == "第一行\n第二行"
    with pytest.raises(InvalidRequest) as err:
        clean_text("第一行\n第二行", "name")
    assert err.value.code == "text_invalid"
    with pytest.raises(InvalidRequest) as err:
        clean_text("x" * 11, "name", limit=10)
    assert err.value.code == "text_too_long"


def service_calls(platform: PlatformService, bad: str) -> dict[str, Callable[[], Any]]:
    """Every text input of the platform, each carrying ``bad``."""
    ref = platform.check_identity(card("huang"), kiosk_id=K).ref
    receipt = platform.submit_application(request(
        "social-card-replace", ref, {**PHONE, "reason": "遗失"}, delivery=Delivery.COUNTER),
        kiosk_id=K)
    no = receipt.application_no
    return {
        "card.name": lambda: platform.check_identity(card("huang", name="黄" + bad),
                                                     kiosk_id=K),
        "card.id_number": lambda: platform.check_identity(card("huang", id_number=bad),
                                                          kiosk_id=K),
        "code": lambda: platform.verify_identity_code("GZID1." + bad, kiosk_id=K),
        "uscc": lambda: platform.check_enterprise(bad, ref, kiosk_id=K),
        "representative_ref": lambda: platform.check_enterprise(
            ENTERPRISES["meiwei"]["uscc"], bad, kiosk_id=K),
        "holder_ref": lambda: platform.list_certificates(bad, kiosk_id=K),
        "identifier": lambda: platform.certificate_document(ref, bad, kiosk_id=K),
        "doc_code": lambda: platform.verify_document_code(bad),
        "matter_id": lambda: platform.prepare_application(bad, ref, kiosk_id=K),
        "form.value": lambda: platform.submit_application(request(
            "social-card-replace", ref, {**PHONE, "reason": "遗失" + bad},
            delivery=Delivery.COUNTER), kiosk_id=K),
        "form.key": lambda: platform.submit_application(request(
            "social-card-replace", ref, {**PHONE, "reason": "遗失", bad: "1"},
            delivery=Delivery.COUNTER), kiosk_id=K),
        "mail_address": lambda: platform.submit_application(request(
            "social-card-replace", ref, {**PHONE, "reason": "遗失"}, delivery=Delivery.MAIL,
            mail_address="南海区" + bad), kiosk_id=K),
        "idempotency_key": lambda: platform.submit_application(request(  # unvalidated copy:
            "social-card-replace", ref, {**PHONE, "reason": "遗失"},  # pydantic refuses it
            delivery=Delivery.COUNTER).model_copy(update={"idempotency_key": "k" * 10 + bad}),
            kiosk_id=K),
        "application_no": lambda: platform.application_status(bad, ref, kiosk_id=K),
        "delivery.mail_address": lambda: platform.set_delivery(no, ref, Delivery.MAIL,
                                                               "南海区" + bad, kiosk_id=K),
        "rating.reason": lambda: platform.rate(Rating(application_no=no, score="good",
                                                      reasons=["快" + bad]), ref, kiosk_id=K),
    }


@pytest.mark.parametrize("bad", ["\udcff", "\x07", "\u202e"])
def test_every_service_text_input_uses_the_validator(platform: PlatformService,
                                                     bad: str) -> None:
    for name, call in service_calls(platform, bad).items():
        with pytest.raises(BackendError) as err:
            call()
        assert (type(err.value), err.value.code) == (InvalidRequest, "text_invalid"), name


# -- over HTTP ------------------------------------------------------------------------------
Server = tuple[str, KioskCredential, PlatformService]


def raw(client: httpx.Client, method: str, path: str, body: Any = None,
        **headers: str) -> httpx.Response:
    """Send ``body`` as JSON with escapes (json.dumps writes a lone surrogate as \\udcff)."""
    content = json.dumps(body).encode("ascii") if body is not None else None
    return client.request(method, path, content=content,
                          headers={"Content-Type": "application/json", **headers})


@pytest.fixture()
def client(http_platform: Server) -> httpx.Client:
    url, cred, _ = http_platform
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {cred.token}"})


def test_lone_surrogate_in_mail_address_is_422_not_500(client: httpx.Client) -> None:
    ref = client.post("/v1/identity/card", json=card("huang").model_dump(mode="json")).json()
    body = request("social-card-replace", ref["ref"], {**PHONE, "reason": "遗失"},
                   delivery=Delivery.MAIL, mail_address="南海区\udcff").model_dump(mode="json")
    resp = raw(client, "POST", "/v1/applications", body)
    assert resp.status_code == 422 and resp.json()["code"] == "text_invalid"
    body["form"] = {"\udcff": 1}  # a hostile key in a validation error's location
    resp = raw(client, "POST", "/v1/applications", body)
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_request"


def test_hostile_text_in_every_body_field_is_refused_cleanly(client: httpx.Client) -> None:
    ref = client.post("/v1/identity/card",
                      json=card("huang").model_dump(mode="json")).json()["ref"]
    good = request("social-card-replace", ref, {**PHONE, "reason": "遗失"},
                   delivery=Delivery.COUNTER).model_dump(mode="json")
    no = client.post("/v1/applications", json=good).json()["application_no"]
    bodies: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
        ("POST", "/v1/identity/card", card("huang").model_dump(mode="json"), {}),
        ("POST", "/v1/identity/code", {"payload": "GZID1.x"}, {}),
        ("POST", "/v1/identity/enterprise", {"uscc": ENTERPRISES["meiwei"]["uscc"],
                                             "representative_ref": ref}, {}),
        ("POST", "/v1/documents/verify", {"code": "GZDOC1.x"}, {}),
        ("POST", "/v1/applications", {**good, "idempotency_key": "k" * 12}, {}),
        ("PUT", f"/v1/applications/{no}/delivery", {"delivery": "mail",
                                                    "mail_address": "南海区"},
         {"X-Holder-Ref": ref}),
        ("POST", "/v1/ratings", {"application_no": no, "score": "good", "reasons": ["快"]},
         {"X-Holder-Ref": ref}),
    ]
    for method, path, body, headers in bodies:
        for field, bad in hostile_variants(body):
            resp = raw(client, method, path, bad, **headers)
            assert resp.status_code == 422, (path, field, resp.status_code, resp.text)
            assert resp.json()["code"] in ("text_invalid", "invalid_request"), (path, field)


def hostile_variants(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``body`` with one string (or dict key) at a time made hostile."""
    out: list[tuple[str, dict[str, Any]]] = []
    for key, value in body.items():
        if isinstance(value, str) and key not in ("delivery", "score", "card_type",
                                                  "valid_from", "valid_to"):
            out.append((key, {**body, key: value + "\udcff"}))
            out.append((key, {**body, key: value + "\x01"}))
        elif isinstance(value, list) and value and isinstance(value[0], str):
            out.append((key, {**body, key: [value[0] + "\udcff"]}))
        elif isinstance(value, dict):
            for sub in value:
                out.append((f"{key}.{sub}", {**body, key: {**value, sub: value[sub] + "\x02"}}))
            out.append((f"{key}.<key>", {**body, key: {**value, "\udcff": "x"}}))
    return out


TEXT = st.text(st.characters(codec=None, categories=None), max_size=30)  # with surrogates
BODIES = {
    ("POST", "/v1/identity/card"): st.fixed_dictionaries({
        "name": TEXT, "id_number": TEXT, "valid_from": st.just("2010-01-01"),
        "valid_to": st.none()}),
    ("POST", "/v1/identity/code"): st.fixed_dictionaries({"payload": TEXT}),
    ("POST", "/v1/identity/enterprise"): st.fixed_dictionaries(
        {"uscc": TEXT, "representative_ref": TEXT}),
    ("POST", "/v1/documents/verify"): st.fixed_dictionaries({"code": TEXT}),
    ("POST", "/v1/applications"): st.fixed_dictionaries({
        "idempotency_key": TEXT, "matter_id": TEXT, "holder_ref": TEXT, "kiosk_id": TEXT,
        "form": st.dictionaries(TEXT, TEXT, max_size=3), "attachments": st.lists(TEXT,
                                                                                 max_size=2),
        "delivery": st.sampled_from(["mail", "print"]), "mail_address": TEXT}),
    ("PUT", "/v1/applications/{no}/delivery"): st.fixed_dictionaries(
        {"delivery": st.sampled_from(["mail", "counter"]), "mail_address": TEXT}),
    ("POST", "/v1/ratings"): st.fixed_dictionaries(
        {"application_no": TEXT, "score": st.just("good"), "reasons": st.lists(TEXT,
                                                                                max_size=3)}),
}
GETS = ["/v1/holder/photo", "/v1/holder/certificates", "/v1/matters/{seg}/prepared",
        "/v1/applications/{seg}", "/v1/applications/{seg}/result",
        "/v1/holder/certificates/{seg}/document"]


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_sweep_never_5xx(http_platform: Server, data: st.DataObject) -> None:
    """Hostile strings in bodies, percent-encoded bytes in paths, odd holder references."""
    url, cred, service = http_platform
    ref = data.draw(st.one_of(st.just(b""), st.text("abcXYZ019_-", min_size=16, max_size=64)
                              .map(str.encode), st.binary(max_size=70)))
    headers = {"Authorization": f"Bearer {cred.token}".encode(), "X-Holder-Ref": ref}
    with httpx.Client(base_url=url) as c:
        if data.draw(st.booleans()):
            (method, path), strategy = data.draw(st.sampled_from(sorted(BODIES.items())))
            body = data.draw(strategy)
            seg = data.draw(st.binary(min_size=1, max_size=20))
            target = path.replace("{no}", "".join(f"%{b:02X}" for b in seg))
            try:
                resp = raw(c, method, target, body, **headers)
            except httpx.LocalProtocolError:
                return  # the client refuses such a header: nothing reaches the server
        else:
            seg = data.draw(st.binary(min_size=1, max_size=40))
            target = data.draw(st.sampled_from(GETS)).replace(
                "{seg}", "".join(f"%{b:02X}" for b in seg))
            try:
                resp = c.get(target, headers=headers)
            except httpx.LocalProtocolError:
                return
    assert resp.status_code < 500, (target, resp.status_code, resp.text[:200])
