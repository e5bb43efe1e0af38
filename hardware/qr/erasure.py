"""Reed-Solomon decoding of a sampled QR grid with its least certain codewords as erasures.

zxing-cpp corrects up to half a block's error-correction codewords, and it must guess every
module. A glare spot or the lowest contrast leaves many modules near the threshold; a
decoder told *which* codewords are doubtful (erasures) corrects up to all of them, twice as
many as unknown errors. Here a grid's soft module values (darkness against the
neighbourhood, :func:`hardware.qr.grid.margins`) give

* the format (error level and mask): the one of the 32 whose 15 bits, both copies, match best;
* the codewords, in segno's own placement order (:func:`layout`), unmasked and split into
  the version's blocks;
* for each block, Reed-Solomon decoding (``reedsolo``: GF(256), 0x11d, first root alpha^0, as
  QR codes use) first without erasures, then with more and more of its least certain
  codewords erased, always keeping :data:`SPARE` check symbols to catch a wrong correction;

and the corrected codewords are drawn back into a clean symbol, which zxing-cpp parses (it
finds no error left). Pure functions over NumPy arrays; no I/O.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

import numpy as np
import numpy.typing as npt
import reedsolo
import segno
from segno import consts
from segno import encoder as _encoder

from hardware.qr import grid

SPARE = 4  # check symbols left unerased in a block: a wrong correction is then caught
segno_encoder: Any = _encoder  # its placement, format and mask functions: the standard's
_ECC: Any = consts.ECC
_LEVELS = ("M", "L", "H", "Q")  # format bits 00, 01, 10, 11 (ISO/IEC 18004 table 12)


@dataclass(frozen=True)
class Layout:
    """Where a version's bits go: the data modules in placement order (rows, cols), the
    format modules and each format's bits there (+1 dark, -1 light), and the modules every
    symbol of the version has (finders, timing, alignment, version information: ``fixed``
    says which, ``base`` their darkness)."""

    rows: npt.NDArray[np.intp]
    cols: npt.NDArray[np.intp]
    format_rows: npt.NDArray[np.intp]
    format_cols: npt.NDArray[np.intp]
    formats: dict[tuple[str, int], npt.NDArray[np.float32]]
    fixed: npt.NDArray[np.bool_]
    base: npt.NDArray[np.bool_]


@functools.lru_cache(maxsize=20)
def layout(version: int) -> Layout:
    """The placement of ``version``, from segno's own encoder (its ``add_codewords`` and
    ``add_format_info``), so it is the standard's."""
    n = grid.size(version)
    qr = segno.make("0", version=version, error="L", micro=False, boost_error=False, mask=0)
    placed = [list(row) for row in segno_encoder.make_matrix(n, n)]  # as segno's _encode
    segno_encoder.add_finder_patterns(placed, n, n)
    segno_encoder.add_alignment_patterns(placed, n, n)
    data = np.array([[v == 0x2 for v in row] for row in placed])
    count = int(data.sum())
    segno_encoder.add_codewords(placed, list(range(3, 3 + count)), version)
    rows, cols = np.nonzero(data)
    sort = np.argsort(np.array(placed)[rows, cols])  # each data cell holds its bit's number
    probe = [[-1] * n for _ in range(n)]  # the cells add_format_info writes
    segno_encoder.add_format_info(probe, version, consts.ERROR_MAPPING["L"], 0)
    fmt = np.array(probe) >= 0
    fmt[n - 8, 8] = False  # the dark module: fixed, not format
    fr, fc = np.nonzero(fmt)
    formats = {}
    for level in _LEVELS:
        for mask in range(8):
            written = [[0] * n for _ in range(n)]
            segno_encoder.add_format_info(written, version, consts.ERROR_MAPPING[level], mask)
            bits = np.array([written[r][c] for r, c in zip(fr, fc, strict=True)], np.float32)
            formats[(level, mask)] = 2 * bits - 1
    base = np.array([[bool(v) for v in row] for row in qr.matrix], bool)
    return Layout(rows[sort], cols[sort], fr, fc, formats, ~(data | fmt), base)


@functools.lru_cache(maxsize=64)
def _mask(version: int, mask: int) -> npt.NDArray[np.bool_]:
    n = grid.size(version)
    fn = segno_encoder.get_data_mask_functions(False)[mask]
    return np.array([[bool(fn(i, j)) for j in range(n)] for i in range(n)])


def _blocks(version: int, level: str) -> list[tuple[int, int]]:
    """(data codewords, total codewords) of each block, in order."""
    out = []
    for ec in _ECC[version][consts.ERROR_MAPPING[level]]:
        out += [(ec.num_data, ec.num_total)] * ec.num_blocks
    return out


def _interleaved(blocks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(block, position in block) of each codeword of the final message, in order."""
    data = [[(b, i) for i in range(d)] for b, (d, _t) in enumerate(blocks)]
    ec = [[(b, d + i) for i in range(t - d)] for b, (d, t) in enumerate(blocks)]
    order = [x for group in zip_longest(*data) for x in group if x is not None]
    return order + [x for group in zip_longest(*ec) for x in group if x is not None]


def best_format(margin: npt.NDArray[np.float32], version: int) -> tuple[str, int]:
    """The (error level, mask) whose format bits match ``margin`` (darkness, n x n) best."""
    lay = layout(version)
    seen = margin[lay.format_rows, lay.format_cols]
    return max(lay.formats, key=lambda k: float(np.dot(np.sign(seen), lay.formats[k])))


def corrected(margin: npt.NDArray[np.float32], version: int, level: str, mask: int
              ) -> npt.NDArray[np.bool_] | None:
    """The symbol's dark modules (n x n) with every block's codewords corrected, erasing
    the least certain (small ``|margin|``) as needed; None when a block does not decode."""
    lay = layout(version)
    blocks = _blocks(version, level)
    order = _interleaved(blocks)
    flip = _mask(version, mask)[lay.rows, lay.cols]
    soft = margin[lay.rows, lay.cols]
    bits = (soft > 0) ^ flip
    total = len(order)
    bytes_ = np.packbits(bits[:total * 8].reshape(total, 8), axis=1)[:, 0]
    certainty = np.abs(soft[:total * 8]).reshape(total, 8).min(axis=1)
    codewords: list[list[int]] = [[0] * t for _d, t in blocks]
    sure: list[list[float]] = [[0.0] * t for _d, t in blocks]
    for k, (b, i) in enumerate(order):
        codewords[b][i] = int(bytes_[k])
        sure[b][i] = float(certainty[k])
    fixed = []
    for (d, t), word, conf in zip(blocks, codewords, sure, strict=True):
        block = _decode_block(word, conf, t - d)
        if block is None:
            return None
        fixed.append(block)
    stream = np.array([fixed[b][i] for b, i in order], np.uint8)
    out_bits = np.zeros(len(lay.rows), bool)
    out_bits[:total * 8] = np.unpackbits(stream)
    dark = np.zeros_like(margin, dtype=bool)
    dark[lay.rows, lay.cols] = out_bits ^ flip
    return dark


def clean_symbol(margin: npt.NDArray[np.float32], version: int
                 ) -> npt.NDArray[np.bool_] | None:
    """The symbol's dark modules with its format read, its codewords corrected
    (:func:`corrected`) and everything fixed drawn as it is; None when it does not decode."""
    level, mask = best_format(margin, version)
    dark = corrected(margin, version, level, mask)
    if dark is None:
        return None
    lay = layout(version)
    dark[lay.fixed] = lay.base[lay.fixed]
    dark[lay.format_rows, lay.format_cols] = lay.formats[(level, mask)] > 0
    return dark


def _decode_block(word: list[int], sure: list[float], nsym: int) -> list[int] | None:
    codec = _codec(nsym)
    ranked = [int(k) for k in np.argsort(sure)]
    for erased in _erasure_counts(nsym):
        try:
            _msg, full, _where = codec.decode(bytearray(word), erase_pos=ranked[:erased]
                                              or None)
        except reedsolo.ReedSolomonError:
            continue
        return list(full)
    return None


def _erasure_counts(nsym: int) -> Iterator[int]:
    """0 (errors only), then ever more erasures, up to all but :data:`SPARE` check
    symbols."""
    yield 0
    top, last = nsym - SPARE, 0
    for share in (0.25, 0.5, 0.75, 1.0):
        k = int(top * share)
        if k > last:
            yield k
            last = k


@functools.lru_cache(maxsize=32)
def _codec(nsym: int) -> Any:
    return reedsolo.RSCodec(nsym, nsize=255, fcr=0, prim=0x11D, generator=2)
