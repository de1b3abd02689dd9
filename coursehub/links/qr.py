"""QR codes of links: exactly the codes ``segno.make(url, error="m")`` makes, an order of magnitude faster.

segno spends ~80% of a code choosing the data mask: it applies all eight masks and scores each one
module by module in pure Python (19 ms a code; 40 s for a 1,000-course university). This module keeps
segno for what it does cheaply and exactly -- picking the encoding mode, the version, the boosted error
level and the data bit stream -- and does the rest with numpy on whole matrices: the error correction
as a GF(2)-linear map (Reed-Solomon over GF(256) is linear over GF(2)), the codeword placement as a
precomputed index per version, and the eight masks and their penalty scores at once, scored with the
same rules, ties and quirks as :func:`segno.encoder.mask_scores`. The result is a :class:`segno.QRCode`
with the same matrix, version, error level and mask as segno's own, so its SVG and PNG writers give the
same bytes; ``tests/test_links_qr.py`` checks that against segno on thousands of URLs and decodes
codes back with a real reader.

Anything outside the fast path (a Micro QR code, content segno splits into several segments) is
handed to segno unchanged.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape as xml_escape

import numpy as np
import segno
from segno import consts
from segno import encoder as _enc

_ERROR = consts.ERROR_LEVEL_M
_SCALE, _BORDER = 4, 4  # of the SVG: 4 px a module, the standard quiet zone of 4 modules


def make(url: str) -> segno.QRCode:
    """The QR code of ``url`` (error level M, boosted as segno does); identical to ``segno.make(url, error="m")``."""
    return codes([url])[0]


#: Codes placed, masked and scored as one numpy stack (bounds the stack's memory: ~20 MB at version 20).
STACK = 256


def codes(urls: list[str]) -> list[segno.QRCode]:
    """The QR code of each URL, in order; each is the code :func:`make` gives.

    Codes of one version and error level are encoded together: their error correction, placement and
    the scoring of their eight mask candidates are each a few numpy operations on the whole stack, so
    a university's thousands of links (nearly all one version) cost little more than numpy's work.
    """
    out: list[segno.QRCode | None] = [None] * len(urls)
    groups: dict[tuple[int, int], list[tuple[int, object, np.ndarray]]] = {}
    for index, url in enumerate(urls):
        prepared = _prepare(url)
        if prepared is None:
            out[index] = segno.make(url, error="m")
            continue
        version, error, segments, codewords = prepared
        groups.setdefault((version, error), []).append((index, segments, codewords))
    for (version, error), members in groups.items():
        for first in range(0, len(members), STACK):
            stack = members[first:first + STACK]
            for (index, segments, _), code in zip(stack, _encode(version, error, stack)):
                out[index] = segno.QRCode(_enc.Code(code[0], version, error, code[1], segments))
    return out  # type: ignore[return-value]


def _prepare(url: str):
    """(version, error level, segments, data codewords) as segno computes them, or None outside the fast path."""
    segments = _segments(url)
    version = _enc.find_version(segments, _ERROR, eci=False, micro=None)
    if version < 1 or len(segments) != 1:
        return None
    error = _enc.boost_error_level(version, _ERROR, segments, False)
    buff = _enc.Buffer()
    for segment in segments:
        _enc.write_segment(buff, segment, None, _enc.version_range(version), False)
    capacity = consts.SYMBOL_CAPACITY[version][error]
    _enc.write_terminator(buff, capacity, None, len(buff))
    _enc.write_padding_bits(buff, version, len(buff))
    _enc.write_pad_codewords(buff, version, capacity, len(buff))
    codewords = np.packbits(np.frombuffer(buff.getbits(), dtype=np.uint8))
    # segno's stream can run a codeword past the data capacity; its error correction never reads that far
    return version, error, segments, codewords[:sum(info.num_blocks * info.num_data for info in consts.ECC[version][error])]


def _encode(version: int, error: int, stack: list) -> list[tuple[tuple[bytearray, ...], int]]:
    """Each code's finished matrix (format and version information added) and its mask."""
    bits = _final_messages(version, error, np.stack([words for _, _, words in stack]))
    template, region, order, masks = _layout(version)
    count, size = len(stack), len(template)
    placed = np.broadcast_to(template, (count, size, size)).copy()
    placed.reshape(count, -1)[:, order] = bits
    # the eight candidates at once, one bit each (see "penalty scores" below)
    full = placed * np.uint8(0xFF)
    lanes = np.where(region, full ^ _mask_lanes(version), full)
    chosen_masks = np.argmin(_penalties(lanes, size), axis=1)  # the first of equal scores, as segno's strict `<`
    chosen = np.where(region, placed ^ masks[chosen_masks], placed)
    out = []
    for symbol, mask in zip(chosen, chosen_masks.tolist()):
        matrix = tuple(bytearray(row.tobytes()) for row in symbol)
        _enc.add_format_info(matrix, version, error, mask)
        _enc.add_version_info(matrix, version)
        out.append((matrix, mask))
    return out


def _segments(url: str):
    """segno's single segment for ``url`` (prepare_data), with a byte-mode segment's bits unpacked by numpy."""
    data, length, encoding = _enc.data_to_bytes(url, None)
    if _enc.find_mode(data) != consts.MODE_BYTE:
        return _enc.prepare_data(url, None, None)
    segments = _enc.Segments()
    bits = bytearray(np.unpackbits(np.frombuffer(data, dtype=np.uint8)).tobytes())
    segments.add_segment(_enc._Segment(bits, length, consts.MODE_BYTE, encoding))
    return segments


def svg(url: str, *, title: str = "") -> bytes:
    """A QR code of ``url`` as SVG; the same URL always gives the same bytes."""
    return svg_of(make(url), title=title)


def svgs(wanted: list[tuple[str, str]]) -> list[bytes]:
    """The SVG of each ``(url, title)``, in order (encoded together: :func:`codes`)."""
    return [svg_of(code, title=title) for code, (_, title) in zip(codes([url for url, _ in wanted]), wanted)]


def svg_of(code: segno.QRCode, *, title: str = "") -> bytes:
    """``code`` as SVG, byte for byte what ``code.save(kind="svg", scale=4, border=4, xmldecl=False, title=...)``
    writes (the same path of dark runs, row by row, in relative moves), without segno's per-module loop."""
    size = len(code.matrix)
    padded = np.zeros((size, size + 2), dtype=np.int8)
    padded[:, 1:-1] = np.frombuffer(b"".join(code.matrix), dtype=np.uint8).reshape(size, size)
    edges = np.diff(padded, axis=1)
    rows, x1 = np.nonzero(edges == 1)  # where each dark run starts and ends, row by row
    x2 = np.nonzero(edges == -1)[1]
    width = x2 - x1
    # each later run is a move from the previous run's end, `m<dx> <dy>h<width>`, written from one key
    keys = ((x1[1:] - x2[:-1] + 512) << 20) | ((rows[1:] - rows[:-1]) << 10) | width[1:]
    path = f"M{int(x1[0]) + _BORDER} {int(rows[0]) + _BORDER + 0.5}h{int(width[0])}"
    path += "".join(map(_MOVES.__getitem__, keys.tolist()))
    side = (size + 2 * _BORDER) * _SCALE
    head = f'<svg xmlns="http://www.w3.org/2000/svg" width="{side}" height="{side}" class="segno">'
    if title:
        head += f"<title>{xml_escape(title)}</title>"
    body = f'<path transform="scale({_SCALE})" class="qrline" stroke="#000" d="{path}"/></svg>\n'
    return (head + body).encode("utf-8")


class _Moves(dict):
    """The path text of a relative move by its key (dx + 512, dy, width in 20/10/10 bits), made once."""

    def __missing__(self, key: int) -> str:
        dx, rest = divmod(key, 1 << 20)
        dy, width = divmod(rest, 1 << 10)
        text = self[key] = f"m{dx - 512} {dy}h{width}"
        return text


_MOVES = _Moves()  # a few thousand distinct moves: symbols are at most 177 modules wide


def png_of(code: segno.QRCode) -> bytes:
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()


def write(url: str, target: Path) -> None:
    """Write a QR code of ``url`` to ``target`` (.svg or .png, chosen by the suffix)."""
    code = make(url)
    content = svg_of(code) if target.suffix.lower() == ".svg" else png_of(code)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(content)
    tmp.replace(target)  # never leave half a file behind


# --- error correction and interleaving ---------------------------------------------------------------


def _final_messages(version: int, error: int, codewords: np.ndarray) -> np.ndarray:
    """Each code's interleaved data and error correction bits, then the remainder bits (segno's
    make_final_message): ``codewords`` is (codes, data codewords), the result (codes, bits)."""
    count = len(codewords)
    blocks, ecc, start = [], [], 0
    for info in consts.ECC[version][error]:
        n_ecc = info.num_total - info.num_data
        group = codewords[:, start:start + info.num_blocks * info.num_data].reshape(count * info.num_blocks, info.num_data)
        start += info.num_blocks * info.num_data
        # float32 products use BLAS and stay exact: a sum of at most a few thousand 0/1 terms
        ecc_bits = (np.unpackbits(group, axis=1).astype(np.float32) @ _ecc_map(info.num_data, n_ecc)).astype(np.int32) & 1
        blocks.append(group.reshape(count, info.num_blocks, info.num_data))
        ecc.append(np.packbits(ecc_bits.astype(np.uint8), axis=1).reshape(count, info.num_blocks, n_ecc))
    # data codewords column by column across the blocks (later blocks may be one longer), then the ecc
    longest = max(block.shape[2] for block in blocks)
    table = np.zeros((count, sum(block.shape[1] for block in blocks), longest), dtype=np.uint8)
    filled = np.zeros(table.shape[1:], dtype=bool)
    row = 0
    for block in blocks:
        table[:, row:row + block.shape[1], :block.shape[2]] = block
        filled[row:row + block.shape[1], :block.shape[2]] = True
        row += block.shape[1]
    data = table.transpose(0, 2, 1).reshape(count, -1)[:, filled.T.ravel()]
    interleaved_ecc = np.concatenate(ecc, axis=1).transpose(0, 2, 1).reshape(count, -1)
    message = np.unpackbits(np.concatenate([data, interleaved_ecc], axis=1), axis=1)
    return np.concatenate([message, np.zeros((count, _remainder(version)), dtype=np.uint8)], axis=1)


def _remainder(version: int) -> int:
    if 2 <= version <= 6:
        return 7
    if 14 <= version <= 20 or 28 <= version <= 34:
        return 3
    if 21 <= version <= 27:
        return 4
    return 0


@lru_cache(maxsize=None)
def _ecc_map(num_data: int, num_ecc: int) -> np.ndarray:
    """The GF(2) matrix taking a block's data bits to its error correction bits.

    Reed-Solomon is linear over GF(256): a data byte ``v`` at position ``k`` contributes ``v`` times the
    remainder of a lone 1 there, and that remainder (x^(ne + nd - 1 - k) mod the generator) is the
    next position's times x: one step of segno's synthetic division each.
    """
    gen, log, exp = consts.GEN_POLY[num_ecc], consts.GALIOS_LOG, consts.GALIOS_EXP
    remainder = [exp[e] for e in gen]  # of a 1 at the last data position
    remainders = [remainder]
    for _ in range(num_data - 1):
        lead, shifted = remainder[0], remainder[1:] + [0]
        remainder = [s ^ exp[log[lead] + e] for s, e in zip(shifted, gen)] if lead else shifted
        remainders.append(remainder)
    unit = np.array(remainders[::-1], dtype=np.int64)  # (num_data, num_ecc), position 0 first
    logs, exps = np.array(log, dtype=np.int64), np.array(exp, dtype=np.int64)
    # each data bit, most significant first: the byte 0x80 >> b at its position, times the remainder
    scaled = np.stack([np.where(unit != 0, exps[log[0x80 >> b] + logs[unit]], 0) for b in range(8)], axis=1)
    return np.unpackbits(scaled.reshape(num_data * 8, num_ecc).astype(np.uint8), axis=1).astype(np.float32)


# --- the symbol's layout, per version ----------------------------------------------------------------


@lru_cache(maxsize=None)
def _layout(version: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(function patterns with the data modules at 0, the data region, the placement order, the 8 masks)."""
    size = _enc.calc_matrix_size(version)
    matrix = _enc.make_matrix(size, size)
    _enc.add_finder_patterns(matrix, size, size)
    _enc.add_alignment_patterns(matrix, size, size)
    grid = np.array([list(row) for row in matrix], dtype=np.uint8)
    region = grid == 0x2
    region[-8, 8] = False  # the dark module (segno's is_encoding_region)
    order = []
    for right in range(size - 1, 0, -2):  # segno's add_codewords, recording positions instead
        if right <= 6:
            right -= 1
        for vertical in range(size):
            for z in range(2):
                j = right - z
                upwards = ((right & 2) == 0) ^ (j < 6)
                i = (size - 1 - vertical) if upwards else vertical
                if grid[i, j] == 0x2:
                    order.append(i * size + j)
                    grid[i, j] = 0
    i, j = np.indices((size, size))
    masks = np.array(
        [[[bool(fn(a, b)) for a, b in zip(ri, rj)] for ri, rj in zip(i, j)] for fn in _enc.get_data_mask_functions(False)],
        dtype=np.uint8,
    )
    return grid, region, np.array(order), masks


@lru_cache(maxsize=None)
def _mask_lanes(version: int) -> np.ndarray:
    """The eight masks of ``version`` packed one bit each, mask 0 in the most significant bit."""
    return np.packbits(_layout(version)[3], axis=0)[0]


# --- penalty scores (segno's mask_scores, for eight candidates of a stack of codes at once) -------------
#
# The eight candidates are scored together, one bit each: bit 7 - k of every byte is candidate k's module
# there (np.packbits over the candidates), so each numpy operation below handles all eight at once on an
# eighth of the data, and a lane's total is a count of one bit position (:func:`_lane_counts`). Every
# array has the codes of the stack as its first axis.


def _penalties(lanes: np.ndarray, size: int) -> np.ndarray:
    """Each code's and candidate's penalty N1 + N2 + N3 + N4, with the rules of :func:`segno.encoder.mask_scores`.

    ``lanes`` holds (codes, ``size``, ``size``), candidate k in bit 7 - k; the result is (codes, 8)."""
    lines = np.concatenate([lanes, lanes.transpose(0, 2, 1)], axis=1)  # rows, then columns: (codes, 2n, n)
    n1 = _runs_penalty(lines)
    a = lanes[:, 1:, 1:]
    same = ~(a ^ lanes[:, :-1, 1:]) & ~(a ^ lanes[:, 1:, :-1]) & ~(a ^ lanes[:, :-1, :-1])
    n2 = 3 * _lane_counts(same)
    n3 = _finder_like_penalty(lines)
    # N4 in the same float64 steps as segno's `abs(percent * 100 - 50) / 5`, truncated as int() does
    percent = _lane_counts(lanes).astype(np.float64) / (size**2)
    n4 = 10 * (np.abs(percent * 100 - 50) / 5).astype(np.int64)
    return n1 + n2 + n3 + n4


_EVERY_BYTE = np.uint64(0x0101010101010101)


def _lane_counts(x: np.ndarray) -> np.ndarray:
    """Per code, how many bytes of ``x`` have each lane's bit set: (codes, 8), candidate 0 first.

    Eight bytes are counted at once: shifted lane k of a 64-bit word is a popcount of one bit a byte."""
    count = len(x)
    flat = x.reshape(count, -1)
    width = flat.shape[1]
    words = np.zeros((count, -(-width // 8) * 8), dtype=np.uint8)  # zero bytes count nothing
    words[:, :width] = flat
    words = words.view(np.uint64)
    return np.stack(
        [np.bitwise_count((words >> np.uint64(7 - k)) & _EVERY_BYTE).sum(axis=1, dtype=np.int64) for k in range(8)],
        axis=1,
    )


def _runs_penalty(lines: np.ndarray) -> np.ndarray:
    """N1: a run of L >= 5 modules of one colour in a row or column scores L - 2.

    A run of L >= 5 holds L - 4 windows of five equal modules, and the first of them is where the run
    reaches five: L - 2 = (L - 4) + 2 x (runs reaching five).
    """
    eq = ~(lines[..., 1:] ^ lines[..., :-1])
    five = eq[..., :-3] & eq[..., 1:-2] & eq[..., 2:-1] & eq[..., 3:]
    first = _lane_counts(five[..., 0]) + _lane_counts(five[..., 1:] & ~five[..., :-1])
    return _lane_counts(five) + 2 * first


def _finder_like_penalty(lines: np.ndarray) -> np.ndarray:
    """N3: 40 for each 1:1:3:1:1 pattern with four light modules on one side, found as segno finds them."""
    count, nlines, size = lines.shape
    n = size - 6  # where a pattern can start
    t = [lines[..., i:n + i] for i in range(7)]
    found = t[0] & ~t[1] & t[2] & t[3] & t[4] & ~t[5] & t[6]  # dark, light, dark x3, light, dark
    # light margins: four light modules before or after; outside the symbol counts as light, as
    # segno's shortened slices at the edges do
    padded = np.zeros((count, nlines, size + 8), dtype=np.uint8)
    padded[..., 4:-4] = lines
    dark4 = padded[..., :-3] | padded[..., 1:-2] | padded[..., 2:-1] | padded[..., 3:]  # modules k-4..k-1
    counts = found & (~dark4[..., :n] | ~dark4[..., 11:11 + n])
    # segno searches on from idx + 7 after a match that counts and from idx + 4 after one that does not.
    # Two patterns can only be 4 or 6 modules apart (any closer and they contradict each other), so a
    # match is skipped exactly when one 4 or 6 before it was looked at and counted: position by position,
    # every line, code and candidate at once, where any two counted matches are that close (dropping a
    # match only ever brings back one that was close to it).
    close = counts[..., 4:] & counts[..., :-4]
    close[..., 2:] |= counts[..., 6:] & counts[..., :-6]
    positions = np.nonzero(np.bitwise_or.reduce(close.reshape(-1, n - 4), axis=0))[0] + 4
    if len(positions):
        scored = np.ascontiguousarray(counts.transpose(2, 0, 1))  # (position, code, line)
        for i in positions.tolist():
            scored[i] &= ~(scored[i - 4] | scored[i - 6]) if i >= 6 else ~scored[i - 4]
        counts = scored.transpose(1, 0, 2)
    return 40 * _lane_counts(counts)
