"""The attract screen's notices, shortcuts and device hints come from configuration
(issue 17); the config keys have defaults and refuse what an operator should not send."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from kiosk.backend.platform.catalogue import MATTERS
from kiosk.config.loader import load_config
from kiosk.config.schema import AttractConfig, KioskConfig
from screens.attract_content import device_places, notices, shortcuts

TODAY = dt.date(2026, 5, 1)


def test_defaults_ship_a_notice_in_three_languages_and_real_shortcuts() -> None:
    cfg = load_config(profile="simulation", environ={})
    texts = {lang: notices(cfg.attract, lang, TODAY) for lang in ("zh_CN", "zh_HK", "en")}
    assert all(len(t) == 1 for t in texts.values())
    assert len({t[0] for t in texts.values()}) == 3
    catalogue = [spec.matter for spec in MATTERS]
    found = shortcuts(catalogue, cfg.attract.top_matters)
    assert [m.id for m in found] == cfg.attract.top_matters
    assert len(found) >= 3


def test_expired_notices_are_not_shown_and_missing_languages_fall_back() -> None:
    attract = AttractConfig.model_validate({"notices": [
        {"zh_CN": "五一期间照常开放", "until": "2026-05-05"},
        {"zh_CN": "已过期的通知", "en": "Old", "until": "2026-04-30"},
    ]})
    assert notices(attract, "en", TODAY) == ["五一期间照常开放"]
    assert notices(attract, "zh_CN", dt.date(2026, 5, 6)) == []


def test_unknown_shortcuts_are_left_out_in_configured_order() -> None:
    catalogue = [spec.matter for spec in MATTERS]
    found = shortcuts(catalogue, ["housing-fund-print", "no-such-matter", "sb-record-print"])
    assert [m.id for m in found] == ["housing-fund-print", "sb-record-print"]


def test_device_places_never_overlap() -> None:
    assert device_places("below_right", "below_left") == (0.8, 0.2)
    for place in ("below_left", "below_center", "below_right"):
        reader, scanner = device_places(place, place)
        assert abs(reader - scanner) >= 0.2 and 0 < min(reader, scanner) < max(reader, scanner) < 1


@pytest.mark.parametrize(("attract", "key_path"), [
    ({"notices": [{"en": "no Chinese text"}]}, "attract.notices.0.zh_CN"),
    ({"notices": [{"zh_CN": "响铃\x07字符"}]}, "attract.notices.0.zh_CN"),
    ({"notices": [{"zh_CN": "过长" * 101}]}, "attract.notices.0.zh_CN"),
    ({"notices": [{"zh_CN": "好", "until": "tomorrow"}]}, "attract.notices.0.until"),
    ({"top_matters": ["Bad Id!"]}, "attract.top_matters"),
    ({"card_reader": "on_the_roof"}, "attract.card_reader"),
    ({"colour": "red"}, "attract.colour"),
])
def test_bad_attract_settings_name_their_key(attract: dict[str, object],
                                             key_path: str) -> None:
    with pytest.raises(ValidationError) as err:
        KioskConfig.model_validate({"attract": attract})
    paths = {".".join(str(p) for p in e["loc"]) for e in err.value.errors()}
    assert key_path in paths, paths
