"""Certificate types and the matter catalogue of the reference platform (demo data).

Matters are modelled on Guangdong certificate-free (免证办) services. Each material is bound
to a certificate type or marked paper-only; each form field names its source; instant matters
(秒批) declare the rules that decide them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kiosk.backend.contract import (
    ApprovalMode,
    Delivery,
    FieldSource,
    FormField,
    I18nText,
    Material,
    Matter,
)
from kiosk.identity.checks import uscc_check_char


def t(cn: str, hk: str, en: str) -> I18nText:
    """Text in the three kiosk languages."""
    return {"zh_CN": cn, "zh_HK": hk, "en": en}


def _uscc(body: str) -> str:
    return body + uscc_check_char(body)


# Issuing departments (invented codes with valid GB 32100 check characters).
MPS_FOSHAN = ("佛山市公安局南海分局", _uscc("11440605MB2C90001"))
CIVIL_AFFAIRS = ("佛山市南海区民政局", _uscc("11440605MB2C90002"))
HEALTH = ("佛山市南海区卫生健康局", _uscc("11440605MB2C90003"))
MARKET = ("佛山市南海区市场监督管理局", _uscc("11440605MB2C90004"))
HRSS = ("佛山市人力资源和社会保障局", _uscc("11440600MB2C90005"))


@dataclass(frozen=True)
class CertType:
    """A certificate type of the national catalogue: code, name, issuing ministry."""

    code: str
    name: str
    code_type: str = "居民身份证号码"


def _type_code(ministry_body: str, seq: str) -> str:
    return _uscc(ministry_body) + seq


ID_CARD = CertType(_type_code("11100000000013338", "001"), "居民身份证")
HUKOU = CertType(_type_code("11100000000013338", "002"), "居民户口簿")
HK_MO_PERMIT = CertType(_type_code("11100000000013338", "011"), "港澳台居民居住证")
MARRIAGE = CertType(_type_code("11100000000014286", "001"), "结婚证")
BIRTH = CertType(_type_code("11100000717800236", "001"), "出生医学证明")
SOCIAL_CARD = CertType(_type_code("11100000717830645", "001"), "社会保障卡")
BUSINESS_LICENCE = CertType(_type_code("11100000MB0143553", "001"), "营业执照", "统一社会信用代码")
FOOD_LICENCE = CertType(_type_code("11100000MB0143553", "010"), "食品经营许可证",
                        "统一社会信用代码")

CERT_TYPES = {c.code: c for c in (ID_CARD, HUKOU, HK_MO_PERMIT, MARRIAGE, BIRTH, SOCIAL_CARD,
                                  BUSINESS_LICENCE, FOOD_LICENCE)}


@dataclass(frozen=True)
class MatterSpec:
    """A matter, its declared instant rules and the title of its result document."""

    matter: Matter
    rules: list[dict[str, Any]] = field(default_factory=list)
    result_title: I18nText = field(default_factory=dict)


def _card(key: str, label: I18nText, **kw: Any) -> FormField:
    return FormField(key=key, label=label, source=FieldSource(kind="card", field=key), **kw)


def _cert(key: str, label: I18nText, ctype: CertType, fld: str, **kw: Any) -> FormField:
    return FormField(key=key, label=label,
                     source=FieldSource(kind="certificate", certificate_type=ctype.code,
                                        field=fld), **kw)


def _holder(key: str, label: I18nText, fld: str) -> FormField:
    return FormField(key=key, label=label, source=FieldSource(kind="holder", field=fld))


def _typed(key: str, label: I18nText, **kw: Any) -> FormField:
    return FormField(key=key, label=label, source=FieldSource(kind="citizen"), **kw)


def _mat(mid: str, name: I18nText, ctype: CertType | None, **kw: Any) -> Material:
    return Material(id=mid, name=name, certificate_type=ctype.code if ctype else None, **kw)


L_NAME = t("姓名", "姓名", "Name")
L_ID = t("身份证号码", "身份證號碼", "ID number")
L_ADDR = t("户籍地址", "戶籍地址", "Registered address")
L_PHONE = t("联系电话", "聯絡電話", "Phone number")
M_ID = _mat("id_card", t("居民身份证", "居民身份證", "Resident ID card"), ID_CARD)
M_HUKOU = _mat("hukou", t("居民户口簿", "居民戶口簿", "Household register"), HUKOU)
M_SOCIAL = _mat("social_card", t("社会保障卡", "社會保障卡", "Social security card"),
                SOCIAL_CARD)
M_LICENCE = _mat("business_licence", t("营业执照", "營業執照", "Business licence"),
                 BUSINESS_LICENCE)
PHONE = _typed("phone", L_PHONE, input="phone", pattern=r"^1\d{10}$")
DEPT_HRSS = t("佛山市南海区社会保险基金管理局", "佛山市南海區社會保險基金管理局",
              "Nanhai Social Insurance Fund Administration")
DEPT_POLICE = t("佛山市公安局南海分局", "佛山市公安局南海分局", "Nanhai Public Security Bureau")
DEPT_CIVIL = t("佛山市南海区民政局", "佛山市南海區民政局", "Nanhai Civil Affairs Bureau")
DEPT_MARKET = t("佛山市南海区市场监督管理局", "佛山市南海區市場監督管理局",
                "Nanhai Administration for Market Regulation")
FREE = t("免费", "免費", "Free of charge")
NEXT_DAY = 1

MATTERS: list[MatterSpec] = [
    MatterSpec(
        Matter(
            id="sb-record-print", name=t("社保参保证明打印", "社保參保證明打印",
                                         "Social insurance record print"),
            category="personal", department=DEPT_HRSS, keywords=["社保", "参保", "证明"],
            conditions=t("在本市参加社会保险的人员。", "在本市參加社會保險的人員。",
                         "Persons insured in this city."),
            fee=FREE, time_limit_days=0, materials=[M_ID, M_SOCIAL],
            fields=[_card("name", L_NAME), _card("id_number", L_ID),
                    _cert("social_card_no", t("社会保障卡号", "社會保障卡號",
                                              "Social security card no."),
                          SOCIAL_CARD, "card_number")],
            approval=ApprovalMode.INSTANT, delivery=[Delivery.PRINT, Delivery.ELECTRONIC],
            devices=["printer"]),
        rules=[{"rule": "certificate_valid", "type": SOCIAL_CARD.code}],
        result_title=t("社会保险参保缴费证明", "社會保險參保繳費證明",
                       "Certificate of social insurance contributions")),
    MatterSpec(
        Matter(
            id="hukou-certificate", name=t("户籍证明开具", "戶籍證明開具",
                                           "Household registration certificate"),
            category="personal", department=DEPT_POLICE, keywords=["户籍", "户口", "证明"],
            conditions=t("本区户籍居民。", "本區戶籍居民。",
                         "Residents registered in this district."),
            fee=FREE, time_limit_days=0, materials=[M_ID, M_HUKOU],
            fields=[_card("name", L_NAME), _card("id_number", L_ID),
                    _cert("household_address", L_ADDR, HUKOU, "household_address"),
                    _typed("purpose", t("开具用途", "開具用途", "Purpose"), input="choice",
                           choices=["就业", "入学", "出国", "其他"])],
            approval=ApprovalMode.INSTANT, delivery=[Delivery.PRINT], devices=["printer"]),
        rules=[{"rule": "certificate_valid", "type": HUKOU.code},
               {"rule": "area", "prefix": "440605"}],
        result_title=t("户籍证明", "戶籍證明", "Household registration certificate")),
    MatterSpec(
        Matter(
            id="marriage-record", name=t("婚姻登记记录证明", "婚姻登記記錄證明",
                                         "Marriage registration record"),
            category="personal", department=DEPT_CIVIL, keywords=["婚姻", "结婚", "记录"],
            conditions=t("在本省办理过婚姻登记的当事人。", "在本省辦理過婚姻登記的當事人。",
                         "Parties registered for marriage in this province."),
            fee=FREE, time_limit_days=0,
            materials=[M_ID, _mat("hukou", t("居民户口簿", "居民戶口簿", "Household register"),
                                  HUKOU, required=False)],
            fields=[_card("name", L_NAME), _card("id_number", L_ID),
                    _cert("spouse_name", t("配偶姓名", "配偶姓名", "Spouse's name"), MARRIAGE,
                          "spouse_name", required=False)],
            approval=ApprovalMode.INSTANT, delivery=[Delivery.PRINT], devices=["printer"]),
        rules=[{"rule": "certificate_valid", "type": ID_CARD.code}],
        result_title=t("婚姻登记记录证明", "婚姻登記記錄證明",
                       "Certificate of marriage registration record")),
    MatterSpec(
        Matter(
            id="elderly-allowance", name=t("高龄老人津贴申请", "高齡老人津貼申請",
                                           "Elderly allowance application"),
            category="personal", department=DEPT_CIVIL, keywords=["高龄", "津贴", "老人"],
            conditions=t("年满70周岁的本区户籍老年人。", "年滿70周歲的本區戶籍老年人。",
                         "Residents of this district aged 70 or over."),
            fee=FREE, time_limit_days=0, materials=[M_ID, M_HUKOU, M_SOCIAL],
            fields=[_card("name", L_NAME), _card("id_number", L_ID),
                    _card("birth_date", t("出生日期", "出生日期", "Date of birth")),
                    _cert("bank_account", t("社保卡金融账户", "社保卡金融賬戶",
                                            "Social security card bank account"),
                          SOCIAL_CARD, "bank_account"),
                    PHONE],
            approval=ApprovalMode.INSTANT, delivery=[Delivery.ELECTRONIC, Delivery.PRINT],
            requires_face=True, devices=["printer"]),
        rules=[{"rule": "min_age", "years": 70}, {"rule": "area", "prefix": "440605"},
               {"rule": "once_per_holder"}],
        result_title=t("高龄老人津贴核准通知书", "高齡老人津貼核准通知書",
                       "Notice of elderly allowance approval")),
    MatterSpec(
        Matter(
            id="housing-fund-print", name=t("住房公积金缴存证明打印", "住房公積金繳存證明打印",
                                            "Housing provident fund statement print"),
            category="personal", department=t("佛山市住房公积金管理中心南海管理部",
                                              "佛山市住房公積金管理中心南海管理部",
                                              "Foshan Housing Provident Fund, Nanhai"),
            keywords=["公积金", "缴存"], conditions=t("已建立公积金账户的职工。",
                                                   "已建立公積金賬戶的職工。",
                                                   "Employees with a provident fund account."),
            fee=FREE, time_limit_days=0, materials=[M_ID],
            fields=[_card("name", L_NAME), _card("id_number", L_ID)],
            approval=ApprovalMode.INSTANT, delivery=[Delivery.PRINT], devices=["printer"]),
        rules=[{"rule": "certificate_valid", "type": ID_CARD.code}],
        result_title=t("住房公积金缴存证明", "住房公積金繳存證明",
                       "Housing provident fund contribution statement")),
    MatterSpec(
        Matter(
            id="social-card-replace", name=t("社会保障卡补换", "社會保障卡補換",
                                             "Social security card replacement"),
            category="personal", department=DEPT_HRSS, keywords=["社保卡", "补卡", "换卡"],
            conditions=t("社会保障卡遗失或损坏的持卡人。", "社會保障卡遺失或損壞的持卡人。",
                         "Holders whose card was lost or damaged."),
            fee=FREE, time_limit_days=10, materials=[M_ID],
            fields=[_card("name", L_NAME), _card("id_number", L_ID), PHONE,
                    _typed("reason", t("补换原因", "補換原因", "Reason"), input="choice",
                           choices=["遗失", "损坏", "信息变更"])],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.MAIL, Delivery.COUNTER],
            requires_face=True),
        result_title=t("社会保障卡补换受理结果", "社會保障卡補換受理結果",
                       "Social security card replacement result")),
    MatterSpec(
        Matter(
            id="birth-registration", name=t("出生登记（入户）", "出生登記（入戶）",
                                            "Birth registration"),
            category="personal", department=DEPT_POLICE, keywords=["出生", "入户", "新生儿"],
            conditions=t("父母一方为本区户籍的新生儿。", "父母一方為本區戶籍的新生兒。",
                         "Newborns with a parent registered in this district."),
            fee=FREE, time_limit_days=5,
            materials=[_mat("birth_cert", t("出生医学证明", "出生醫學證明",
                                            "Medical birth certificate"), BIRTH,
                            paper_allowed=False),
                       M_HUKOU,
                       _mat("marriage_cert", t("结婚证", "結婚證", "Marriage certificate"),
                            MARRIAGE)],
            fields=[_card("name", t("申报人姓名", "申報人姓名", "Applicant")),
                    _cert("child_name", t("新生儿姓名", "新生兒姓名", "Child's name"), BIRTH,
                          "child_name"),
                    _cert("household_address", L_ADDR, HUKOU, "household_address"), PHONE],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.COUNTER], needs_original=True),
        result_title=t("出生登记受理结果", "出生登記受理結果", "Birth registration result")),
    MatterSpec(
        Matter(
            id="licence-copy-reissue", name=t("营业执照副本补领", "營業執照副本補領",
                                              "Business licence duplicate reissue"),
            category="enterprise", department=DEPT_MARKET, keywords=["营业执照", "补领", "副本"],
            conditions=t("营业执照副本遗失或损毁的企业。", "營業執照副本遺失或損毀的企業。",
                         "Enterprises whose duplicate licence was lost or damaged."),
            fee=FREE, time_limit_days=3, materials=[M_LICENCE, M_ID],
            fields=[_holder("enterprise_name", t("企业名称", "企業名稱", "Enterprise"), "name"),
                    _holder("uscc", t("统一社会信用代码", "統一社會信用代碼", "Credit code"),
                            "code"),
                    _cert("representative", t("法定代表人", "法定代表人",
                                              "Legal representative"),
                          BUSINESS_LICENCE, "legal_representative"),
                    _typed("copies", t("补领份数", "補領份數", "Copies"), input="digits",
                           pattern=r"^[1-9]$"), PHONE],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.MAIL, Delivery.COUNTER]),
        result_title=t("营业执照副本补领决定", "營業執照副本補領決定",
                       "Decision on duplicate licence")),
    MatterSpec(
        Matter(
            id="food-licence-change", name=t("食品经营许可证变更", "食品經營許可證變更",
                                             "Food business licence change"),
            category="enterprise", department=DEPT_MARKET, keywords=["食品", "许可证", "变更"],
            conditions=t("持有有效食品经营许可证的经营者。", "持有有效食品經營許可證的經營者。",
                         "Operators holding a valid food business licence."),
            fee=FREE, time_limit_days=10,
            materials=[M_LICENCE,
                       _mat("food_licence", t("食品经营许可证", "食品經營許可證",
                                              "Food business licence"), FOOD_LICENCE,
                            paper_allowed=False),
                       _mat("change_evidence", t("变更事项证明材料", "變更事項證明材料",
                                                 "Evidence of the change"), None,
                            paper_only=True)],
            fields=[_holder("enterprise_name", t("经营者名称", "經營者名稱", "Operator"), "name"),
                    _cert("licence_no", t("许可证编号", "許可證編號", "Licence number"),
                          FOOD_LICENCE, "licence_no"),
                    _typed("change_item", t("变更事项", "變更事項", "Item changed"),
                           input="choice", choices=["经营项目", "经营场所", "法定代表人"]),
                    _typed("new_value", t("变更后内容", "變更後內容", "New content")), PHONE],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.COUNTER, Delivery.MAIL],
            needs_original=True),
        result_title=t("食品经营许可证（变更）", "食品經營許可證（變更）",
                       "Food business licence (changed)")),
    MatterSpec(
        Matter(
            id="sole-trader-register", name=t("个体工商户注册登记", "個體工商戶註冊登記",
                                              "Sole trader registration"),
            category="personal", department=DEPT_MARKET, keywords=["个体户", "注册", "开业"],
            conditions=t("有经营能力的自然人。", "有經營能力的自然人。",
                         "Natural persons able to run a business."),
            fee=FREE, time_limit_days=1, materials=[M_ID],
            fields=[_card("name", t("经营者姓名", "經營者姓名", "Operator")),
                    _card("id_number", L_ID),
                    _typed("trade_name", t("字号名称", "字號名稱", "Trade name")),
                    _typed("business_scope", t("经营范围", "經營範圍", "Business scope")),
                    _typed("premises", t("经营场所", "經營場所", "Premises"), input="address"),
                    PHONE],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.MAIL, Delivery.COUNTER]),
        result_title=t("个体工商户营业执照", "個體工商戶營業執照", "Sole trader licence")),
    MatterSpec(
        Matter(
            id="hk-mo-residence-print", name=t("港澳台居民居住证明打印", "港澳台居民居住證明打印",
                                               "HK/Macau/Taiwan residence proof print"),
            category="personal", department=DEPT_POLICE, keywords=["港澳", "居住证"],
            conditions=t("持有有效港澳台居民居住证的人员。", "持有有效港澳台居民居住證的人員。",
                         "Holders of a valid residence permit for HK/Macau/Taiwan residents."),
            fee=FREE, time_limit_days=0,
            materials=[_mat("permit", t("港澳台居民居住证", "港澳台居民居住證",
                                        "Residence permit"), HK_MO_PERMIT,
                            paper_allowed=False)],
            fields=[_card("name", L_NAME), _card("id_number", L_ID),
                    _cert("pass_number", t("通行证号码", "通行證號碼", "Travel permit no."),
                          HK_MO_PERMIT, "pass_number")],
            approval=ApprovalMode.INSTANT, delivery=[Delivery.PRINT], devices=["printer"]),
        rules=[{"rule": "certificate_valid", "type": HK_MO_PERMIT.code}],
        result_title=t("居住登记证明", "居住登記證明", "Residence registration proof")),
]


# -- 告知承诺制 (a signed commitment instead of a missing material) --------------------------
# Guangdong's commitment lists let a citizen sign a commitment instead of proving a condition
# with a paper (the department checks afterwards and revokes on a false commitment). No demo
# citizen holds these certificates, so the kiosk offers the commitment.
NO_CRIMINAL_RECORD = CertType(_type_code("11100000000013338", "031"), "无犯罪记录证明")
RESIDENCE_PROOF = CertType(_type_code("11100000MB0143553", "021"), "住所证明")
CERT_TYPES.update({c.code: c for c in (NO_CRIMINAL_RECORD, RESIDENCE_PROOF)})

COMMIT_NO_CRIME = t(
    "本人郑重承诺：本人无故意犯罪记录，未受过剥夺政治权利的刑事处罚。本人知悉行政机关将对承诺"
    "内容进行核查，如承诺不实，愿意承担相应法律责任，已取得的资格将被撤销。",
    "本人鄭重承諾：本人無故意犯罪記錄，未受過剝奪政治權利的刑事處罰。本人知悉行政機關將對承諾"
    "內容進行核查，如承諾不實，願意承擔相應法律責任，已取得的資格將被撤銷。",
    "I solemnly declare that I have no record of an intentional crime and have never been "
    "sentenced to deprivation of political rights. I know the authority will check this "
    "declaration; if it is false, I accept the legal consequences and the qualification "
    "granted will be revoked.")
COMMIT_RESIDENCE = t(
    "本人郑重承诺：本人在申报的居住地址有合法稳定住所并实际居住，所填信息真实有效。本人知悉"
    "公安机关将核查居住情况，如承诺不实，愿意承担相应法律责任，所领证件将被注销。",
    "本人鄭重承諾：本人在申報的居住地址有合法穩定住所並實際居住，所填信息真實有效。本人知悉"
    "公安機關將核查居住情況，如承諾不實，願意承擔相應法律責任，所領證件將被註銷。",
    "I solemnly declare that I have a lawful, stable residence at the address I state and "
    "actually live there, and that what I filled in is true. I know the police will check "
    "my residence; if this declaration is false, I accept the legal consequences and the "
    "permit will be cancelled.")
M_NO_CRIME = _mat("no_criminal_record", t("无犯罪记录证明", "無犯罪記錄證明",
                                          "Proof of no criminal record"), NO_CRIMINAL_RECORD,
                  commitment_allowed=True, commitment_version="GD-CN-WFZ-2024.1",
                  commitment_text=COMMIT_NO_CRIME)
M_RESIDENCE = _mat("residence_proof", t("合法稳定住所证明", "合法穩定住所證明",
                                        "Proof of lawful residence"), RESIDENCE_PROOF,
                   paper_allowed=False, commitment_allowed=True,
                   commitment_version="GD-CN-JZ-2024.2", commitment_text=COMMIT_RESIDENCE)

MATTERS += [
    MatterSpec(
        Matter(
            id="teacher-qualification", name=t("教师资格认定", "教師資格認定",
                                               "Teacher qualification"),
            category="personal", department=t("佛山市南海区教育局", "佛山市南海區教育局",
                                              "Nanhai Education Bureau"),
            keywords=["教师", "资格", "承诺"],
            conditions=t("通过教师资格考试、户籍或居住证在本区的申请人。",
                         "通過教師資格考試、戶籍或居住證在本區的申請人。",
                         "Applicants who passed the teacher examination and live here."),
            fee=FREE, time_limit_days=20, materials=[M_ID, M_NO_CRIME],
            fields=[_card("name", L_NAME), _card("id_number", L_ID), PHONE,
                    _typed("school_level", t("任教学段", "任教學段", "School level"),
                           input="choice", choices=["幼儿园", "小学", "初级中学", "高级中学"])],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.MAIL, Delivery.COUNTER]),
        result_title=t("教师资格证书", "教師資格證書", "Teacher qualification certificate")),
    MatterSpec(
        Matter(
            id="residence-permit", name=t("居住证申领", "居住證申領", "Residence permit"),
            category="personal", department=DEPT_POLICE, keywords=["居住证", "居住", "承诺"],
            conditions=t("在本区居住半年以上的非本市户籍人员。",
                         "在本區居住半年以上的非本市戶籍人員。",
                         "Non-local residents living in this district for six months."),
            fee=FREE, time_limit_days=15, materials=[M_ID, M_RESIDENCE],
            fields=[_card("name", L_NAME), _card("id_number", L_ID), PHONE],
            approval=ApprovalMode.REVIEW, delivery=[Delivery.COUNTER, Delivery.MAIL]),
        result_title=t("广东省居住证", "廣東省居住證", "Guangdong residence permit")),
]
