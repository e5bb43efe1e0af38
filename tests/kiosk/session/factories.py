"""Small builders of contract values for session tests."""

from __future__ import annotations

import datetime as dt

from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationState,
    ApprovalMode,
    CardIdentity,
    Delivery,
    FieldSource,
    FormField,
    Holder,
    HolderKind,
    Material,
    Matter,
)


def matter(matter_id: str = "m1", category: str = "personal") -> Matter:
    return Matter(
        id=matter_id,
        name={"zh_CN": "社保参保证明打印"},
        category=category,  # type: ignore[arg-type]
        department={"zh_CN": "社保局"},
        conditions={"zh_CN": "参保人本人"},
        fee={"zh_CN": "免费"},
        time_limit_days=0,
        materials=[Material(id="id", name={"zh_CN": "身份证"}, certificate_type="111")],
        fields=[
            FormField(key="name", label={"zh_CN": "姓名"}, source=FieldSource(kind="card",
                                                                            field="name")),
            FormField(key="phone", label={"zh_CN": "电话"}, source=FieldSource(kind="citizen"),
                      input="phone"),
        ],
        approval=ApprovalMode.INSTANT,
        delivery=[Delivery.PRINT, Delivery.MAIL],
        devices=["printer"],
    )


def holder(ref: str = "ref-1") -> Holder:
    return Holder(ref=ref, kind=HolderKind.NATURAL, name="陈美玲", code="440605195803121228",
                  code_type="居民身份证号码")


def card() -> CardIdentity:
    return CardIdentity(name="陈美玲", id_number="440605195803121228",
                        valid_from=dt.date(2018, 4, 2), valid_to=None)


def receipt() -> ApplicationReceipt:
    return ApplicationReceipt(application_no="A-1", matter_id="m1",
                              state=ApplicationState.APPROVED,
                              submitted_at=dt.datetime(2026, 11, 21, 10, 0),
                              result_available=True)
