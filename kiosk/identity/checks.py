"""Check characters of identifiers (pure, table-driven), for the platform and the card reader.

- GB 11643-1999 citizen ID number: 17 digits + check digit (``X`` for 10); the first two
  digits a province code (GB/T 2260; 81/82/83 for the residence permits of Hong Kong, Macao
  and Taiwan residents), digits 7-14 a real birth date between 1900 and today.
  The check digit and the birth date come from python-stdnum's ``stdnum.cn.ric``; its
  ``validate`` is not used as a whole because its birth-place check looks the six-digit
  region up in a table of counties valid *in the birth year*, which refuses real numbers
  (a person born in 1958 registered in Nanhai district, a district since 2002: every demo
  citizen) and the 81/82/83 residence-permit prefixes.
- GB 32100-2015 unified social credit code (USCC): 17 characters + check character.
- GB/T 36901-2018 e-certificate identifier: ISO/IEC 7064 MOD 37,36 check character over
  type code + issuer code + serial + version (root OID excluded).
"""

from __future__ import annotations

import datetime as dt
import re

from stdnum.cn import ric
from stdnum.exceptions import ValidationError as StdnumError

_ID_RE = re.compile(r"\d{17}[\dX]", re.ASCII)
PROVINCE_CODES = frozenset({
    "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37",
    "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64",
    "65", "71", "81", "82", "83"})
EARLIEST_BIRTH = dt.date(1900, 1, 1)
_CHINA = dt.timezone(dt.timedelta(hours=8))

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(rf"^[{USCC_ALPHABET}]{{18}}$")

MOD3736_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CERT_ROOT = "1.2.156.3005.2"
_CERT_RE = re.compile(
    r"^1\.2\.156\.3005\.2\.([0-9A-Z]+)\.([0-9A-Z]{18})\.([0-9A-Z]+)\.(\d{3})\.([0-9A-Z])$")


class CheckError(ValueError):
    """An identifier is malformed (``kind`` = ``malformed``) or its check fails
    (``kind`` = ``bad_check_digit``)."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


def id_check_digit(first17: str) -> str:
    """GB 11643 check digit of the first 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise CheckError("ID number body must be 17 digits", "malformed")
    return ric.calc_check_digit(first17 + "0")  # stdnum ignores the last character


def id_birth_date(value: str) -> dt.date:
    """The birth date in digits 7-14 of an ID number (:class:`CheckError` if not a date)."""
    try:
        return ric.get_birth_date(value)
    except (StdnumError, ValueError) as exc:
        raise CheckError("ID number birth date is not a date", "bad_birth_date") from exc


def validate_id_number(value: str, *, today: dt.date | None = None) -> str:
    """Return the normalised ID number (upper-case X) or raise :class:`CheckError` with
    ``kind`` malformed, bad_check_digit, bad_region or bad_birth_date. ``today`` (default:
    the date in China now) bounds the birth date."""
    value = value.strip().upper()
    if not _ID_RE.fullmatch(value):
        raise CheckError("ID number must be 17 digits and a check character", "malformed")
    if id_check_digit(value[:17]) != value[17]:
        raise CheckError("ID number check digit does not match", "bad_check_digit")
    if value[:2] not in PROVINCE_CODES:
        raise CheckError("ID number region is not a province", "bad_region")
    birth = id_birth_date(value)
    today = today or dt.datetime.now(_CHINA).date()
    if not EARLIEST_BIRTH <= birth <= today:
        raise CheckError("ID number birth date out of range", "bad_birth_date")
    return value


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character of the first 17 characters."""
    if len(first17) != 17 or any(c not in USCC_ALPHABET for c in first17):
        raise CheckError("credit code body must be 17 characters of the USCC alphabet",
                         "malformed")
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str) -> str:
    """Return the normalised credit code or raise :class:`CheckError`."""
    value = value.strip().upper()
    if not _USCC_RE.match(value):
        raise CheckError("credit code must be 18 characters of the USCC alphabet", "malformed")
    if uscc_check_char(value[:17]) != value[17]:
        raise CheckError("credit code check character does not match", "bad_check_digit")
    return value


def mod3736_check_char(data: str) -> str:
    """ISO/IEC 7064 MOD 37,36 (hybrid system) check character over 0-9A-Z."""
    m = 36
    p = m
    for ch in data.upper():
        idx = MOD3736_ALPHABET.find(ch)
        if idx < 0:
            raise CheckError(f"character {ch!r} outside 0-9A-Z", "malformed")
        s = (p % (m + 1)) + idx
        s = s % m or m
        p = s * 2
    p %= m + 1
    return MOD3736_ALPHABET[(m + 1 - p) % m]


def certificate_identifier(type_code: str, issuer_code: str, serial: str,
                           version: str = "001") -> str:
    """Build a GB/T 36901 identifier with its check character."""
    check = mod3736_check_char(type_code + issuer_code + serial + version)
    return f"{CERT_ROOT}.{type_code}.{issuer_code}.{serial}.{version}.{check}"


def validate_certificate_identifier(value: str) -> str:
    """Return the identifier or raise :class:`CheckError` (malformed or bad check char)."""
    value = value.strip().upper()
    m = _CERT_RE.match(value)
    if not m:
        raise CheckError("not a GB/T 36901 certificate identifier", "malformed")
    type_code, issuer, serial, version, check = m.groups()
    if mod3736_check_char(type_code + issuer + serial + version) != check:
        raise CheckError("certificate identifier check character does not match",
                         "bad_check_digit")
    return value
