"""Postal addresses: the official division tree a citizen picks the first lines from."""

from kiosk.address.divisions import (
    Division,
    DivisionError,
    DivisionTree,
    address_line,
    load_tree,
    short_name,
)

__all__ = ["Division", "DivisionError", "DivisionTree", "address_line", "load_tree",
           "short_name"]
