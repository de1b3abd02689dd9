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
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
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
    segments = _segments(url)
    version = _enc.find_version(segments, _ERROR, eci=False, micro=None)
    if version < 1 or len(segments) != 1:
        return segno.make(url, error="m")
    error = _enc.boost_error_level(version, _ERROR, segments, False)
    buff = _enc.Buffer()
    for segment in segments:
        _enc.write_segment(buff, segment, None, _enc.version_range(version), False)
    capacity = consts.SYMBOL_CAPACITY[version][error]
    _enc.write_terminator(buff, capacity, None, len(buff))
    _enc.write_padding_bits(buff, version, len(buff))
    _enc.write_pad_codewords(buff, version, capacity, len(buff))
    bits = _final_message(version, error, np.packbits(np.frombuffer(buff.getbits(), dtype=np.uint8)))
    template, region, order, masks = _layout(version)
    placed = template.copy()
    placed.flat[order] = bits
    # the eight candidates at once, one bit each (see "penalty scores" below)
    full = placed * np.uint8(0xFF)
    lanes = np.where(region, full ^ _mask_lanes(version), full)
    mask = int(np.argmin(_penalties(lanes, len(placed))))  # the first of equal scores, as segno's strict `<`
    chosen = np.where(region, placed ^ masks[mask], placed)
    matrix = tuple(bytearray(row.tobytes()) for row in chosen)
    _enc.add_format_info(matrix, version, error, mask)
    _enc.add_version_info(matrix, version)
    return segno.QRCode(_enc.Code(matrix, version, error, mask, segments))


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


#: Below this many codes a process pool costs more than it saves.
POOL_MIN = 200


def svgs(wanted: list[tuple[str, str]]) -> list[bytes]:
    """The SVG of each ``(url, title)``, in order; a large batch is encoded on every core."""
    workers = min(os.cpu_count() or 1, 8)
    if len(wanted) < POOL_MIN or workers < 2 or "fork" not in mp.get_all_start_methods():
        return [svg(url, title=title) for url, title in wanted]
    chunk = -(-len(wanted) // (workers * 4))
    # fork: the workers start with numpy and segno already imported and the layouts already cached
    with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork")) as pool:
        return [code for part in pool.map(_svg_chunk, [wanted[i:i + chunk] for i in range(0, len(wanted), chunk)]) for code in part]


def _svg_chunk(wanted: list[tuple[str, str]]) -> list[bytes]:
    return [svg(url, title=title) for url, title in wanted]


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


def _final_message(version: int, error: int, codewords: np.ndarray) -> np.ndarray:
    """The interleaved data and error correction bits, then the remainder bits (segno's make_final_message)."""
    blocks, ecc, start = [], [], 0
    for info in consts.ECC[version][error]:
        n_ecc = info.num_total - info.num_data
        group = codewords[start:start + info.num_blocks * info.num_data].reshape(info.num_blocks, info.num_data)
        start += info.num_blocks * info.num_data
        # float32 products use BLAS and stay exact: a sum of at most a few thousand 0/1 terms
        ecc_bits = (np.unpackbits(group, axis=1).astype(np.float32) @ _ecc_map(info.num_data, n_ecc)).astype(np.int32) & 1
        blocks += list(group.astype(np.int16))
        ecc.append(np.packbits(ecc_bits.astype(np.uint8), axis=1))
    # data codewords column by column across the blocks (later blocks may be one longer), then the ecc
    table = np.full((len(blocks), max(len(b) for b in blocks)), -1, dtype=np.int16)
    for row, block in zip(table, blocks):
        row[:len(block)] = block
    column_wise = table.T.ravel()
    data = column_wise[column_wise >= 0].astype(np.uint8)
    message = np.unpackbits(np.concatenate([data, np.concatenate(ecc).T.ravel()]))
    return np.concatenate([message, np.zeros(_remainder(version), dtype=np.uint8)])


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
    """The GF(2) matrix taking a block's data bits to its error correction bits."""
    gen, log, exp = consts.GEN_POLY[num_ecc], consts.GALIOS_LOG, consts.GALIOS_EXP
    rows = []
    for bit in range(num_data * 8):
        block = bytearray(num_data + num_ecc)
        block[bit // 8] = 0x80 >> (bit % 8)
        for k in range(num_data):  # segno's synthetic division, on one unit vector
            coef = block[k]
            if coef:
                for n in range(num_ecc):
                    block[k + n + 1] ^= exp[log[coef] + gen[n]]
        rows.append(np.unpackbits(np.frombuffer(bytes(block[num_data:]), dtype=np.uint8)))
    return np.array(rows, dtype=np.float32)


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


# --- penalty scores (segno's mask_scores, for eight candidates at once) -----------------------------------
#
# The eight candidates are scored together, one bit each: bit 7 - k of every byte is candidate k's module
# there (np.packbits over the candidates), so each numpy operation below handles all eight at once on an
# eighth of the data, and a lane's total is a count of one bit position (:func:`_lane_counts`).


def _penalties(lanes: np.ndarray, size: int) -> list[int]:
    """Each candidate's penalty N1 + N2 + N3 + N4, with the rules of :func:`segno.encoder.mask_scores`.

    ``lanes`` holds the eight ``size`` x ``size`` candidates, candidate k in bit 7 - k."""
    count = 8
    lines = np.concatenate([lanes, lanes.T])  # rows, then columns: (2n, n)
    n1 = _runs_penalty(lines)
    a = lanes[1:, 1:]
    same = ~(a ^ lanes[:-1, 1:]) & ~(a ^ lanes[1:, :-1]) & ~(a ^ lanes[:-1, :-1])
    n2 = 3 * _lane_counts(same)
    n3 = _finder_like_penalty(lines)
    dark = _lane_counts(lanes)
    scores = []
    for k in range(count):
        percent = float(int(dark[k])) / (size**2)
        n4 = 10 * int(abs(percent * 100 - 50) / 5)
        scores.append(int(n1[k]) + int(n2[k]) + int(n3[k]) + n4)
    return scores


#: Row b: the bits of the byte b, most significant first (candidate 0 first).
_BITS = np.unpackbits(np.arange(256, dtype=np.uint8).reshape(-1, 1), axis=1).astype(np.int64)


def _lane_counts(x: np.ndarray) -> np.ndarray:
    """How many bytes of ``x`` have each lane's bit set: (8,), candidate 0 first."""
    return np.bincount(x.ravel(), minlength=256) @ _BITS


def _runs_penalty(lines: np.ndarray) -> np.ndarray:
    """N1: a run of L >= 5 modules of one colour in a row or column scores L - 2.

    A run of L >= 5 holds L - 4 windows of five equal modules, and the first of them is where the run
    reaches five: L - 2 = (L - 4) + 2 x (runs reaching five).
    """
    eq = ~(lines[:, 1:] ^ lines[:, :-1])
    five = eq[:, :-3] & eq[:, 1:-2] & eq[:, 2:-1] & eq[:, 3:]
    first = _lane_counts(five[:, 0]) + _lane_counts(five[:, 1:] & ~five[:, :-1])
    return _lane_counts(five) + 2 * first


def _finder_like_penalty(lines: np.ndarray) -> np.ndarray:
    """N3: 40 for each 1:1:3:1:1 pattern with four light modules on one side, found as segno finds them."""
    nlines, size = lines.shape
    n = size - 6  # where a pattern can start
    t = [lines[:, i:n + i] for i in range(7)]
    found = t[0] & ~t[1] & t[2] & t[3] & t[4] & ~t[5] & t[6]  # dark, light, dark x3, light, dark
    # light margins: four light modules before or after; outside the symbol counts as light, as
    # segno's shortened slices at the edges do
    padded = np.zeros((nlines, size + 8), dtype=np.uint8)
    padded[:, 4:-4] = lines
    dark4 = padded[:, :-3] | padded[:, 1:-2] | padded[:, 2:-1] | padded[:, 3:]  # modules k-4..k-1
    counts = found & (~dark4[:, :n] | ~dark4[:, 11:11 + n])
    result = 40 * _lane_counts(counts)
    # segno searches on from idx + 7 after a match that counts (so skips one 4 or 6 further on) and from
    # idx + 4 after one that does not: only lines with two matches that close need that walk
    close = np.bitwise_or.reduce(found[:, :-4] & found[:, 4:], axis=1) | np.bitwise_or.reduce(found[:, :-6] & found[:, 6:], axis=1)
    ls = np.nonzero(close)[0]
    if len(ls):
        walked = [0] * 8  # what segno's walk counts minus what `result` counted, per candidate
        f, c = found[ls], counts[ls]
        rows, positions = np.nonzero(f)
        starts: dict[tuple[int, int], int] = {}
        closes = close[ls].tolist()
        for row, i, fbits, cbits in zip(rows.tolist(), positions.tolist(), f[rows, positions].tolist(), c[rows, positions].tolist()):
            todo = fbits & closes[row]  # the candidates whose line needs the walk
            while todo:
                bit = todo & -todo
                todo ^= bit
                k = 8 - bit.bit_length()
                counted = 1 if cbits & bit else 0
                walked[k] -= counted
                if i >= starts.get((row, k), 0):
                    starts[row, k] = i + (7 if counted else 4)
                    walked[k] += counted
        result += 40 * np.array(walked, dtype=np.int64)
    return result
