"""Every visible string has a translation in every language; unknown keys stay plain."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from screens import i18n

SCREENS = Path(i18n.__file__).resolve().parent
KEY_RE = re.compile(r"""\btr\(\s*['"]([a-z0-9_.]+)['"]|self\.t\(\s*['"]([a-z0-9_.]+)['"]""")
VOICE_RE = re.compile(r"""voice_key = ['"]([a-z0-9_]+)['"]""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in list(SCREENS.rglob("*.kv")) + list(SCREENS.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for m in KEY_RE.finditer(text):
            keys.add(m.group(1) or m.group(2))
        keys.update(VOICE_RE.findall(text))
    return {k for k in keys if not k.endswith("_")}  # prefixes completed at run time


NOTICE_KEYS = {
    "card_expired", "identity_mismatch", "backend_down", "printer_down", "card_invalid",
    "face_unavailable", "liveness_failed", "face_mismatch", "code_expired", "code_replayed",
    "code_invalid", "matter_unavailable", "field_required", "field_invalid_digits",
    "field_invalid_phone", "field_invalid_date", "field_invalid_choice",
    "mail_address_required", "internal_error", "card_no_card", "card_removed_mid_read",
    "card_checksum", "card_removed", "checking_identity", "checking_code", "verifying_face",
    "loading_certificates", "submitting", "printing", "rating", "checking_enterprise",
    "enterprise_identified", "printer.paper_out", "code_unreadable", "submit_failed",
}


def test_every_used_key_is_translated_in_every_language() -> None:
    keys = used_keys() | NOTICE_KEYS
    assert len(keys) > 150
    for lang in i18n.LANGUAGES:
        missing = sorted(k for k in keys if not i18n.has(k, lang))
        assert not missing, f"{lang} lacks {missing}"


def test_catalogues_have_the_same_keys_and_differ() -> None:
    zh_cn, zh_hk, en = (i18n.catalogue(lang) for lang in i18n.LANGUAGES)
    assert set(zh_cn) == set(zh_hk) == set(en)
    assert zh_cn["touch_to_start"] != zh_hk["touch_to_start"] != en["touch_to_start"]
    han = re.compile(r"[\u4e00-\u9fff]")
    assert not [k for k, text in en.items() if han.search(text)], "Chinese in English texts"
    assert not [k for k, text in zh_hk.items() if "简体" in text]


def test_unknown_key_falls_back_to_a_plain_message() -> None:
    for lang in i18n.LANGUAGES:
        text = i18n.tr("no_such_key_xyz", lang)
        assert "no_such_key_xyz" not in text
        assert text == i18n.catalogue(lang)["generic_error"]


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_parameters_are_filled_and_missing_ones_blank(lang: str) -> None:
    assert "42" in i18n.tr("timeout_body", lang, seconds=42)
    assert "{" not in i18n.tr("timeout_body", lang)


def test_compiled_catalogues_load_with_gettext(tmp_path: Path) -> None:
    import gettext
    import shutil

    target = tmp_path / "locale"
    shutil.copytree(i18n.LOCALE_DIR, target)
    old = i18n.LOCALE_DIR
    i18n.LOCALE_DIR = target
    try:
        written = i18n.compile_catalogues()
    finally:
        i18n.LOCALE_DIR = old
    assert len(written) == 3
    en = gettext.translation("kiosk", localedir=str(target), languages=["en"])
    assert en.gettext("touch_to_start") == "Touch to start"


def test_unknown_key_of_a_known_family_keeps_its_alternative() -> None:
    assert i18n.tr("printer.not_finishing", "zh_CN") == i18n.tr("printer_down", "zh_CN")
    assert i18n.tr("card_new_fault", "en") == i18n.tr("card_invalid", "en")
