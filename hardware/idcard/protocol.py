"""The SAM serial protocol of second-generation ID-card readers (GA/T 467), pure and table-driven.

Frames: ``AA AA AA 96 69 | LEN (2, big-endian, bytes after it incl. CHK) | payload | CHK``;
the payload is ``CMD PARA DATA`` to the SAM and ``SW1 SW2 SW3 DATA`` from it, and CHK is the
XOR of the length bytes and the payload. Text blocks are 256 bytes of UCS-2LE.

The protocol only turns bytes into fields: whether an ID number is valid (GB 11643 check
digit, region, birth date) is a business rule of the kiosk core (``kiosk.identity``).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from datetime import date

from hardware.idcard.card import LONG_TERM, IdCardData

PREAMBLE = b"\xaa\xaa\xaa\x96\x69"
HEADER_LEN = len(PREAMBLE) + 2
MAX_FRAME_LEN = 0x0A00  # the largest response (read with fingerprint) is 0x090C
TEXT_LEN = 256
PHOTO_LEN = 1024
FINGERPRINT_LEN = 1024


class ProtocolError(Exception):
    """A malformed frame or card data block; ``detail`` is a short machine reason."""

    def __init__(self, message: str, *, detail: str = "protocol") -> None:
        super().__init__(message)
        self.detail = detail


# -- commands ---------------------------------------------------------------------------------
class Command(enum.Enum):
    """Commands to the SAM: value is (CMD, PARA)."""

    RESET = (0x10, 0xFF)
    SAM_STATUS = (0x11, 0xFF)
    SAM_ID = (0x12, 0xFF)
    FIND = (0x20, 0x01)
    SELECT = (0x20, 0x02)
    READ = (0x30, 0x01)
    READ_NEW_ADDRESS = (0x30, 0x03)
    READ_FINGERPRINT = (0x30, 0x10)
    BAUD_115200 = (0x60, 0x00)
    BAUD_57600 = (0x60, 0x01)
    BAUD_38400 = (0x60, 0x02)
    BAUD_19200 = (0x60, 0x03)
    BAUD_9600 = (0x60, 0x04)


COMMANDS_BY_CODE = {c.value: c for c in Command}
BAUD_COMMANDS = {
    115200: Command.BAUD_115200, 57600: Command.BAUD_57600, 38400: Command.BAUD_38400,
    19200: Command.BAUD_19200, 9600: Command.BAUD_9600,
}
BAUD_RATES = tuple(sorted(BAUD_COMMANDS))


def checksum(body: bytes) -> int:
    """XOR of every byte of ``body`` (length bytes + payload)."""
    out = 0
    for b in body:
        out ^= b
    return out


def build_frame(payload: bytes) -> bytes:
    """Wrap ``payload`` in preamble, length and checksum."""
    body = struct.pack(">H", len(payload) + 1) + payload
    return PREAMBLE + body + bytes([checksum(body)])


def build_command(command: Command, data: bytes = b"") -> bytes:
    """A command frame, e.g. find = ``AA AA AA 96 69 00 03 20 01 22``."""
    cmd, para = command.value
    return build_frame(bytes([cmd, para]) + data)


def build_response(sw3: int, data: bytes = b"", sw1: int = 0, sw2: int = 0) -> bytes:
    """A response frame (the simulator's side)."""
    return build_frame(bytes([sw1, sw2, sw3]) + data)


# -- status words -----------------------------------------------------------------------------
class Outcome(enum.StrEnum):
    """What a SW3 status means to the driver."""

    OK = "ok"
    NO_CARD = "no_card"  # nothing (new) in the field
    NO_CONTENT = "no_content"
    CHECKSUM = "checksum"  # the SAM saw a bad frame from us: resend
    PROTOCOL = "protocol"  # the SAM did not understand us
    CARD_ERROR = "sam_error"  # card/SAM authentication or read failed: place card again
    SAM_FAULT = "sam_fault"  # the SAM itself is broken or unauthorised
    UNKNOWN_CARD = "unknown_card"


@dataclass(frozen=True)
class StatusWord:
    """One SW3 value with its meaning."""

    sw3: int
    outcome: Outcome
    text: str

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


SW3_TABLE: dict[int, StatusWord] = {s.sw3: s for s in (
    StatusWord(0x90, Outcome.OK, "operation succeeded"),
    StatusWord(0x9F, Outcome.OK, "card found"),
    StatusWord(0x91, Outcome.NO_CONTENT, "no content for this item"),
    StatusWord(0x10, Outcome.CHECKSUM, "SAM received a frame with a bad checksum"),
    StatusWord(0x11, Outcome.PROTOCOL, "SAM received a frame with a bad length"),
    StatusWord(0x21, Outcome.PROTOCOL, "SAM received an unknown command"),
    StatusWord(0x23, Outcome.SAM_FAULT, "operation not authorised"),
    StatusWord(0x24, Outcome.PROTOCOL, "unrecognised command"),
    StatusWord(0x31, Outcome.CARD_ERROR, "card failed to authenticate the SAM"),
    StatusWord(0x32, Outcome.CARD_ERROR, "SAM failed to authenticate the card"),
    StatusWord(0x33, Outcome.CARD_ERROR, "information verification error"),
    StatusWord(0x40, Outcome.UNKNOWN_CARD, "unknown card type"),
    StatusWord(0x41, Outcome.CARD_ERROR, "reading the card failed"),
    StatusWord(0x47, Outcome.CARD_ERROR, "getting a random number failed"),
    StatusWord(0x60, Outcome.SAM_FAULT, "SAM self-test failed"),
    StatusWord(0x66, Outcome.SAM_FAULT, "SAM not authorised"),
    StatusWord(0x80, Outcome.NO_CARD, "no card found"),
    StatusWord(0x81, Outcome.NO_CARD, "card selection failed"),
)}


def status_word(sw3: int) -> StatusWord:
    """The meaning of ``sw3``; values outside the table are protocol errors."""
    known = SW3_TABLE.get(sw3)
    return known or StatusWord(sw3, Outcome.PROTOCOL, f"unknown status 0x{sw3:02X}")


@dataclass(frozen=True)
class Response:
    """A parsed response frame."""

    sw1: int
    sw2: int
    sw3: int
    data: bytes

    @property
    def status(self) -> StatusWord:
        return status_word(self.sw3)


def parse_response_payload(payload: bytes) -> Response:
    if len(payload) < 3:
        raise ProtocolError("response shorter than its status word", detail="length")
    return Response(payload[0], payload[1], payload[2], bytes(payload[3:]))


def parse_command_payload(payload: bytes) -> tuple[Command | None, int, int, bytes]:
    """(command or None if unknown, CMD, PARA, data) of a frame sent to the SAM."""
    if len(payload) < 2:
        raise ProtocolError("command shorter than CMD PARA", detail="length")
    return COMMANDS_BY_CODE.get((payload[0], payload[1])), payload[0], payload[1], payload[2:]


def parse_frame(frame: bytes) -> bytes:
    """The payload of exactly one complete frame; raises :class:`ProtocolError`."""
    if not frame.startswith(PREAMBLE):
        raise ProtocolError("frame does not start with the preamble", detail="preamble")
    if len(frame) < HEADER_LEN + 1:
        raise ProtocolError("frame truncated", detail="partial")
    (length,) = struct.unpack(">H", frame[5:7])
    if length < 2 or length > MAX_FRAME_LEN:
        raise ProtocolError(f"frame length {length} out of range", detail="length")
    if len(frame) != HEADER_LEN + length:
        raise ProtocolError("frame length does not match its header", detail="partial")
    body = frame[5:-1]
    if checksum(body) != frame[-1]:
        raise ProtocolError("frame checksum mismatch", detail="checksum")
    return bytes(frame[HEADER_LEN:-1])


def parse_response(frame: bytes) -> Response:
    return parse_response_payload(parse_frame(frame))


class FrameDecoder:
    """Incremental frame finder: skips garbage before a preamble, checks length and checksum.

    Feed bytes; :meth:`next_payload` returns one payload, ``None`` when more bytes are
    needed (see :meth:`needed`), or raises :class:`ProtocolError` for a frame with a bad
    checksum (the frame is consumed, so decoding can go on).
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.skipped = 0  # garbage bytes dropped while looking for a preamble

    def feed(self, data: bytes) -> None:
        self._buf += data

    def clear(self) -> None:
        self._buf.clear()

    def _sync(self) -> bool:
        """Drop bytes before the first preamble; True when a preamble heads the buffer."""
        at = self._buf.find(PREAMBLE)
        if at >= 0:
            self.skipped += at
            del self._buf[:at]
            return True
        keep = 0
        for k in range(min(len(PREAMBLE) - 1, len(self._buf)), 0, -1):
            if self._buf.endswith(PREAMBLE[:k]):
                keep = k
                break
        drop = len(self._buf) - keep
        self.skipped += drop
        del self._buf[:drop]
        return False

    def needed(self) -> int:
        """How many more bytes the next step needs at least (never reads past a frame)."""
        if not self._sync():
            return len(PREAMBLE) - len(self._buf)
        if len(self._buf) < HEADER_LEN:
            return HEADER_LEN - len(self._buf)
        length = int.from_bytes(self._buf[5:7], "big")
        return max(1, HEADER_LEN + length - len(self._buf))

    @property
    def in_frame(self) -> bool:
        """True when a preamble has been seen and its frame is not complete yet."""
        return self._buf.startswith(PREAMBLE)

    def next_payload(self) -> bytes | None:
        while True:
            if not self._sync() or len(self._buf) < HEADER_LEN:
                return None
            (length,) = struct.unpack(">H", self._buf[5:7])
            if length < 2 or length > MAX_FRAME_LEN:
                # a false preamble inside garbage: skip one byte and look again
                self.skipped += 1
                del self._buf[:1]
                continue
            end = HEADER_LEN + length
            if len(self._buf) < end:
                return None
            frame = bytes(self._buf[:end])
            del self._buf[:end]
            return parse_frame(frame)


# -- SAM id -----------------------------------------------------------------------------------
def parse_sam_id(data: bytes) -> str:
    """The printed SAM id ``NN.NN-YYYYMMDD-NNNNNNNNNN-NNNNNNNNNN`` from its 16 data bytes."""
    if len(data) != 16:
        raise ProtocolError(f"SAM id is {len(data)} bytes, expected 16", detail="length")
    a, b, c, d, e = struct.unpack("<HHIII", data)
    return f"{a:02d}.{b:02d}-{c:08d}-{d:010d}-{e:010d}"


def build_sam_id(sam_id: str) -> bytes:
    try:
        ab, c, d, e = sam_id.split("-")
        a, b = ab.split(".")
        return struct.pack("<HHIII", int(a), int(b), int(c), int(d), int(e))
    except (ValueError, struct.error) as exc:
        raise ProtocolError(f"bad SAM id {sam_id!r}", detail="invalid_data") from exc


# -- read response ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CardBlocks:
    """The raw blocks of a read response."""

    text: bytes
    photo: bytes
    fingerprint: bytes = b""


def parse_read_data(data: bytes, *, with_fingerprint: bool = False) -> CardBlocks:
    """Split read data (after SW) into text, WLT photo and optional fingerprint."""
    head = 6 if with_fingerprint else 4
    if len(data) < head:
        raise ProtocolError("read response without block lengths", detail="partial")
    text_len, photo_len = struct.unpack(">HH", data[:4])
    fp_len = struct.unpack(">H", data[4:6])[0] if with_fingerprint else 0
    if (text_len != TEXT_LEN or photo_len not in (0, PHOTO_LEN)
            or fp_len not in (0, FINGERPRINT_LEN)):
        raise ProtocolError("unexpected block lengths in read response", detail="length")
    if len(data) != head + text_len + photo_len + fp_len:
        raise ProtocolError("read response length does not match its blocks", detail="partial")
    t0 = head
    p0 = t0 + text_len
    f0 = p0 + photo_len
    return CardBlocks(bytes(data[t0:p0]), bytes(data[p0:f0]), bytes(data[f0:f0 + fp_len]))


def build_read_data(text: bytes, photo: bytes) -> bytes:
    if len(text) != TEXT_LEN or len(photo) != PHOTO_LEN:
        raise ProtocolError("text must be 256 bytes and photo 1024", detail="length")
    return struct.pack(">HH", TEXT_LEN, PHOTO_LEN) + text + photo


# -- GB/T 3304 nations ------------------------------------------------------------------------
NATIONS: dict[str, str] = dict(zip(
    [f"{i:02d}" for i in range(1, 57)],
    ["汉", "蒙古", "回", "藏", "维吾尔", "苗", "彝", "壮", "布依", "朝鲜", "满", "侗", "瑶", "白",
     "土家", "哈尼", "哈萨克", "傣", "黎", "傈僳", "佤", "畲", "高山", "拉祜", "水", "东乡", "纳西",
     "景颇", "柯尔克孜", "土", "达斡尔", "仫佬", "羌", "布朗", "撒拉", "毛南", "仡佬", "锡伯",
     "阿昌", "普米", "塔吉克", "怒", "乌孜别克", "俄罗斯", "鄂温克", "德昂", "保安", "裕固", "京",
     "塔塔尔", "独龙", "鄂伦春", "赫哲", "门巴", "珞巴", "基诺"],
    strict=True,
)) | {"97": "其他", "98": "外国血统中国籍人士"}
NATION_CODES = {name: code for code, name in NATIONS.items()}
SEXES = {"1": "男", "2": "女"}
SEX_CODES = {v: k for k, v in SEXES.items()}


# -- text blocks ------------------------------------------------------------------------------
# field -> (start, end) byte offsets in the 256-byte UCS-2LE block
RESIDENT_LAYOUT: dict[str, tuple[int, int]] = {
    "name": (0, 30), "sex": (30, 32), "nation": (32, 36), "birth_date": (36, 52),
    "address": (52, 122), "id_number": (122, 158), "issuer": (158, 188),
    "valid_from": (188, 204), "valid_to": (204, 220),
}
PERMIT_LAYOUT: dict[str, tuple[int, int]] = RESIDENT_LAYOUT | {
    "pass_number": (220, 238), "issue_count": (238, 242),
}
FOREIGN_LAYOUT: dict[str, tuple[int, int]] = {
    "en_name": (0, 120), "sex": (120, 122), "id_number": (122, 152), "nationality": (152, 158),
    "name": (158, 188), "valid_from": (188, 204), "valid_to": (204, 220),
    "birth_date": (220, 236), "card_version": (236, 240), "authority_code": (240, 248),
}
TYPE_FLAG = (248, 250)
CARD_TYPE_FLAGS = {" ": "resident", "J": "hk_mo_tw", "I": "foreign_permanent"}
FLAG_FOR_TYPE = {v: k for k, v in CARD_TYPE_FLAGS.items()}
LAYOUTS = {"resident": RESIDENT_LAYOUT, "hk_mo_tw": PERMIT_LAYOUT,
           "foreign_permanent": FOREIGN_LAYOUT}


def _field(text: bytes, span: tuple[int, int]) -> str:
    try:
        value = text[span[0]:span[1]].decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise ProtocolError("text block is not valid UCS-2", detail="invalid_text") from exc
    return value.replace("\x00", " ").strip()


def _date(value: str, what: str) -> date:
    if len(value) != 8 or not value.isascii() or not value.isdigit():
        raise ProtocolError(f"{what} is not a YYYYMMDD date", detail="invalid_text")
    try:
        return date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError as exc:
        raise ProtocolError(f"{what} is not a valid date", detail="invalid_text") from exc


def card_type_of(text: bytes) -> str:
    if len(text) != TEXT_LEN:
        raise ProtocolError("text block must be 256 bytes", detail="length")
    flag = _field(text, TYPE_FLAG) or " "
    card_type = CARD_TYPE_FLAGS.get(flag)
    if card_type is None:
        raise ProtocolError(f"unsupported card type flag {flag!r}", detail="unknown_card")
    return card_type


def parse_text(text: bytes, photo: bytes = b"") -> IdCardData:
    """Decode a 256-byte text block (resident, 'J' or 'I' card) into :class:`IdCardData`."""
    card_type = card_type_of(text)
    raw = {key: _field(text, span) for key, span in LAYOUTS[card_type].items()}
    sex = SEXES.get(raw["sex"])
    if sex is None:
        raise ProtocolError("unknown sex code", detail="invalid_text")
    nation: str | None = None
    if card_type == "resident":
        nation = NATIONS.get(raw["nation"])
        if nation is None:
            raise ProtocolError("unknown GB/T 3304 nation code", detail="invalid_text")
    valid_to_raw = raw["valid_to"]
    valid_to = None if valid_to_raw == LONG_TERM else _date(valid_to_raw, "valid_to")
    number = raw["id_number"]
    foreign = card_type == "foreign_permanent"
    name = (raw["name"] or raw["en_name"]) if foreign else raw["name"]
    if not name or not number:
        raise ProtocolError("card text without name or number", detail="invalid_text")
    return IdCardData(
        card_type=card_type, name=name, sex=sex, nation=nation,
        birth_date=_date(raw["birth_date"], "birth_date"), address=raw.get("address", ""),
        id_number=number, issuer=raw.get("issuer", ""),
        valid_from=_date(raw["valid_from"], "valid_from"), valid_to=valid_to,
        photo=bytearray(photo),
        pass_number=raw.get("pass_number") or None, issue_count=raw.get("issue_count") or None,
        en_name=raw.get("en_name") or None, nationality=raw.get("nationality") or None,
        card_version=raw.get("card_version") or None,
        authority_code=raw.get("authority_code") or None,
    )


def encode_text(card: IdCardData) -> bytes:
    """The 256-byte text block for ``card`` (used by the simulator; inverse of parse_text)."""
    layout = LAYOUTS.get(card.card_type)
    if layout is None:
        raise ProtocolError(f"unknown card type {card.card_type!r}", detail="unknown_card")
    values: dict[str, str] = {
        "name": card.name, "sex": SEX_CODES.get(card.sex, ""),
        "nation": NATION_CODES.get(card.nation or "", ""),
        "birth_date": card.birth_date.strftime("%Y%m%d"), "address": card.address,
        "id_number": card.id_number, "issuer": card.issuer,
        "valid_from": card.valid_from.strftime("%Y%m%d"),
        "valid_to": card.valid_to.strftime("%Y%m%d") if card.valid_to else LONG_TERM,
        "pass_number": card.pass_number or "", "issue_count": card.issue_count or "",
        "en_name": card.en_name or "", "nationality": card.nationality or "",
        "card_version": card.card_version or "", "authority_code": card.authority_code or "",
    }
    out = bytearray(" ".encode("utf-16-le") * (TEXT_LEN // 2))
    spans = dict(layout)
    spans["type_flag"] = TYPE_FLAG
    values["type_flag"] = FLAG_FOR_TYPE[card.card_type]
    for key, (start, end) in spans.items():
        raw = values[key].encode("utf-16-le")
        if len(raw) > end - start:
            raise ProtocolError(f"{key} does not fit its field", detail="length")
        out[start:start + len(raw)] = raw
    return bytes(out)
