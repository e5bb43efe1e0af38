"""The reference platform's themed bundles (一件事一次办) and the matters only they add.

Two bundles modelled on Guangdong's "高效办成一件事" lists: 新生儿出生一件事 (birth medical
certificate, household registration, medical insurance, social security card) and 退休一件事
(pension claim, insurance record, provident fund withdrawal). A bundle is listed only when
every matter it names is in the platform's catalogue, so an operator who removes a matter
never offers a bundle that cannot be done.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kiosk.backend.bundles import Bundle, BundleStep
from kiosk.backend.contract import ApprovalMode, Delivery, Matter, NotFound
from kiosk.backend.platform import catalogue as cat
from kiosk.backend.platform.catalogue import (
    DEPT_HRSS,
    FREE,
    L_ID,
    L_NAME,
    PHONE,
    MatterSpec,
    _card,
    _cert,
    _mat,
    t,
)
from kiosk.backend.platform.models import MatterRow
from kiosk.backend.platform.text import clean_text

_BUNDLE_RE = re.compile(r"[a-z0-9\-]{1,64}")

M_BIRTH = _mat("birth_cert", t("出生医学证明", "出生醫學證明", "Medical birth certificate"),
               cat.BIRTH, paper_allowed=False)
L_CHILD = t("新生儿姓名", "新生兒姓名", "Child's name")
L_BANK = t("社保卡金融账户", "社保卡金融賬戶", "Social security card bank account")
DEPT_HEALTH = t("佛山市南海区卫生健康局", "佛山市南海區衛生健康局", "Nanhai Health Bureau")
DEPT_MEDICAL = t("佛山市南海区医疗保障局", "佛山市南海區醫療保障局",
                 "Nanhai Healthcare Security Administration")
DEPT_FUND = t("佛山市住房公积金管理中心南海管理部", "佛山市住房公積金管理中心南海管理部",
              "Foshan Housing Provident Fund, Nanhai")
CHILD = _cert("child_name", L_CHILD, cat.BIRTH, "child_name")
BANK = _cert("bank_account", L_BANK, cat.SOCIAL_CARD, "bank_account")

BUNDLE_MATTERS: list[MatterSpec] = [
    MatterSpec(
        Matter(
            id="newborn-birth-cert", name=t("出生医学证明电子证照领取", "出生醫學證明電子證照領取",
                                            "Medical birth certificate (electronic)"),
            category="personal", department=DEPT_HEALTH, keywords=["出生", "新生儿", "出生证"],
            conditions=t("在本区助产机构出生的新生儿的父母。", "在本區助產機構出生的新生兒的父母。",
                         "Parents of a child born in a maternity unit of this district."),
            fee=FREE, time_limit_days=0, materials=[cat.M_ID, M_BIRTH],
            fields=[_card("name", L_NAME), _card("id_number", L_ID), CHILD],
            approval=ApprovalMode.INSTANT, delivery=[Delivery.ELECTRONIC, Delivery.PRINT]),
        rules=[{"rule": "certificate_valid", "type": cat.BIRTH.code}],
        result_title=t("出生医学证明电子证照", "出生醫學證明電子證照",
                       "Medical birth certificate (electronic)")),
    MatterSpec(
        Matter(
            id="newborn-medical-insurance", name=t("新生儿城乡居民医保参保登记",
                                                   "新生兒城鄉居民醫保參保登記",
                                                   "Newborn medical insurance enrolment"),
            category="personal", department=DEPT_MEDICAL, keywords=["医保", "参保", "新生儿"],
            conditions=t("父母一方为本区户籍的新生儿。", "父母一方為本區戶籍的新生兒。",
                         "Newborns with a parent registered in this district."),
            fee=FREE, time_limit_days=0, materials=[cat.M_ID, M_BIRTH, cat.M_HUKOU],
            fields=[_card("name", L_NAME), _card("id_number", L_ID), CHILD, PHONE],
            approval=ApprovalMode.INSTANT, delivery=[Delivery.ELECTRONIC, Delivery.COUNTER]),
        rules=[{"rule": "certificate_valid", "type": cat.BIRTH.code},
               {"rule": "area", "prefix": "440605"}],
        result_title=t("城乡居民医保参保登记回执", "城鄉居民醫保參保登記回執",
                       "Medical insurance enrolment receipt")),
    MatterSpec(
        Matter(
            id="newborn-social-card", name=t("新生儿社会保障卡申领", "新生兒社會保障卡申領",
                                             "Newborn social security card"),
            category="personal", department=DEPT_HRSS, keywords=["社保卡", "新生儿", "申领"],
            conditions=t("已登记户口的新生儿，由父母代为申领。",
                         "已登記戶口的新生兒，由父母代為申領。",
                         "Registered newborns; a parent applies."),
            fee=FREE, time_limit_days=10, materials=[cat.M_ID, M_BIRTH],
            fields=[_card("name", L_NAME), _card("id_number", L_ID), CHILD, PHONE],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.COUNTER, Delivery.MAIL]),
        result_title=t("社会保障卡申领受理结果", "社會保障卡申領受理結果",
                       "Social security card application result")),
    MatterSpec(
        Matter(
            id="pension-claim", name=t("基本养老保险待遇申领", "基本養老保險待遇申領",
                                       "Basic pension claim"),
            category="personal", department=DEPT_HRSS, keywords=["退休", "养老金", "待遇"],
            conditions=t("达到法定退休年龄、累计缴费满15年的参保人。",
                         "達到法定退休年齡、累計繳費滿15年的參保人。",
                         "Insured persons of retirement age with 15 years of contributions."),
            fee=FREE, time_limit_days=15,
            materials=[cat.M_ID, _mat("hukou", t("居民户口簿", "居民戶口簿", "Household register"),
                                      cat.HUKOU, paper_allowed=False), cat.M_SOCIAL],
            fields=[_card("name", L_NAME), _card("id_number", L_ID), BANK, PHONE],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.MAIL, Delivery.COUNTER]),
        result_title=t("基本养老保险待遇核定表", "基本養老保險待遇核定表",
                       "Basic pension entitlement")),
    MatterSpec(
        Matter(
            id="housing-fund-retire", name=t("住房公积金退休提取", "住房公積金退休提取",
                                             "Provident fund withdrawal on retirement"),
            category="personal", department=DEPT_FUND, keywords=["退休", "公积金", "提取"],
            conditions=t("已办理退休手续的缴存职工。", "已辦理退休手續的繳存職工。",
                         "Retired employees with a provident fund account."),
            fee=FREE, time_limit_days=3, materials=[cat.M_ID, cat.M_SOCIAL],
            fields=[_card("name", L_NAME), _card("id_number", L_ID), BANK, PHONE],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.COUNTER, Delivery.MAIL]),
        result_title=t("住房公积金提取核准通知", "住房公積金提取核准通知",
                       "Provident fund withdrawal approval")),
]

BUNDLES: list[Bundle] = [
    Bundle(
        id="newborn", name=t("新生儿出生一件事", "新生兒出生一件事", "A newborn: one visit"),
        summary=t("出生证、入户、医保、社保卡，一次提交。",
                  "出生證、入戶、醫保、社保卡，一次提交。",
                  "Birth certificate, household registration, medical insurance and "
                  "social security card in one go."),
        keywords=["新生儿", "出生", "入户", "医保"],
        steps=[BundleStep(matter_id="newborn-birth-cert",
                          note=t("电子证照即时签发", "電子證照即時簽發",
                                 "Issued electronically at once")),
               BundleStep(matter_id="birth-registration",
                          note=t("到窗口核验原件后入户", "到窗口核驗原件後入戶",
                                 "Registered after originals are checked at a counter")),
               BundleStep(matter_id="newborn-medical-insurance",
                          note=t("即时参保", "即時參保", "Enrolled at once")),
               BundleStep(matter_id="newborn-social-card",
                          note=t("制卡后到窗口领取", "製卡後到窗口領取",
                                 "Collect the card at a counter"))],
        shared_fields=["name", "id_number", "child_name", "phone"]),
    Bundle(
        id="retirement", name=t("退休一件事", "退休一件事", "Retirement: one visit"),
        summary=t("养老金申领、参保证明、公积金提取，一次提交。",
                  "養老金申領、參保證明、公積金提取，一次提交。",
                  "Pension claim, insurance record and provident fund withdrawal in one go."),
        keywords=["退休", "养老金", "公积金"],
        steps=[BundleStep(matter_id="pension-claim",
                          note=t("审核后按月发放", "審核後按月發放", "Paid monthly once approved")),
               BundleStep(matter_id="sb-record-print",
                          note=t("即时出证明", "即時出證明", "Issued at once")),
               BundleStep(matter_id="housing-fund-retire",
                          note=t("审核后转入社保卡账户", "審核後轉入社保卡賬戶",
                                 "Paid into the social security card account"))],
        shared_fields=["name", "id_number", "bank_account", "phone"]),
]


def seed_bundle_matters(engine: Engine) -> int:
    """Add the matters only bundles name to a catalogue that lacks them (a fresh demo seed,
    or a platform seeded before bundles existed); the number added."""
    with Session(engine) as s, s.begin():
        have = set(s.scalars(select(MatterRow.id)))
        position = int(s.scalar(select(func.max(MatterRow.position))) or 0)
        added = 0
        for spec in BUNDLE_MATTERS:
            if spec.matter.id in have:
                continue
            position += 1
            added += 1
            s.add(MatterRow(id=spec.matter.id, position=position,
                            definition=spec.matter.model_dump(mode="json"),
                            rules=spec.rules, result_title=spec.result_title))
    return added


def list_bundles(matters: list[Matter]) -> list[Bundle]:
    """The bundles every matter of which is in ``matters`` (the platform's catalogue)."""
    have = {m.id for m in matters}
    return [b for b in BUNDLES if all(mid in have for mid in b.matter_ids)]


def get_bundle(matters: list[Matter], bundle_id: str) -> Bundle:
    """One listed bundle; ``NotFound`` ``bundle_not_found`` otherwise."""
    bundle_id = clean_text(bundle_id, "bundle_id", limit=64, strip=False)
    if _BUNDLE_RE.fullmatch(bundle_id):
        for b in list_bundles(matters):
            if b.id == bundle_id:
                return b
    raise NotFound("no such bundle", code="bundle_not_found")
