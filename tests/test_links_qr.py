"""QR codes of links (coursehub.links.qr): the same codes and bytes as segno, and they scan back to the link.

The fast encoder replaces segno's mask search and SVG writer; these tests hold it to segno's own output on
many URLs (every QR version a link can need, both branches of the mask-penalty search) and read codes back
with a real decoder (zxing-cpp).
"""

from __future__ import annotations

import io
import random
import re

import numpy as np
import pytest
import segno
import zxingcpp

from coursehub.links import qr

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789-_.%/?=&ABCXYZ"


def urls(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        length = rng.choice([10, 40, 90, 180, 300, 600, 1500])
        out.append("https://hub.example.edu/" + "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(1, length))))
    return out


def segno_svg(url: str, title: str = "") -> bytes:
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", scale=4, border=4, xmldecl=False, title=title or None)
    return buf.getvalue()


def matrix_of_svg(svg: bytes) -> np.ndarray:
    """The dark modules an SVG written by qr.svg draws (its path is rows of horizontal runs)."""
    side = int(re.search(rb'width="(\d+)"', svg).group(1)) // 4
    grid = np.zeros((side, side), dtype=np.uint8)
    x = y = 0.0
    for move, dx, dy, run in re.findall(rb"([Mm])(-?\d+) (-?[\d.]+)h(\d+)", svg):
        x, y = (int(dx), float(dy)) if move == b"M" else (x + int(dx), y + float(dy))
        grid[int(y), int(x):int(x) + int(run)] = 1
        x += int(run)
    return grid


def scan(dark: np.ndarray) -> str:
    """Read a module matrix (quiet zone included) with zxing-cpp, as a scanner would read the printed code."""
    image = np.kron(np.where(dark == 1, 0, 255).astype(np.uint8), np.ones((4, 4), dtype=np.uint8))
    result = zxingcpp.read_barcode(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert result is not None and result.valid, "the code does not scan"
    return result.text


def test_codes_are_segnos_codes():
    seen_versions, seen_masks = set(), set()
    for url in urls(1, 400):
        mine, theirs = qr.make(url), segno.make(url, error="m")
        assert (mine.matrix, mine.version, mine.error, mine.mask) == (theirs.matrix, theirs.version, theirs.error, theirs.mask), url
        seen_versions.add(mine.version)
        seen_masks.add(mine.mask)
    # the sample must cover versions with version information (>= 7) and more than one mask choice
    assert max(seen_versions) >= 20 and min(seen_versions) <= 3 and len(seen_masks) >= 6


@pytest.mark.parametrize("title", ["", "Lab 1: Tables", "A <b> & \"quoted\" 'title' é"])
def test_svg_is_byte_for_byte_segnos(title):
    for url in urls(2, 40):
        assert qr.svg(url, title=title) == segno_svg(url, title)


def test_text_outside_the_fast_path_is_left_to_segno():
    # non-Latin text (UTF-8 bytes, maybe kanji mode) and a short string that fits a Micro QR code
    for text in ["https://hub.example.edu/?q=データ科学", "hi"]:
        assert qr.make(text).matrix == segno.make(text, error="m").matrix


@pytest.mark.parametrize("url", urls(3, 6) + ["https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Forg%2Frepo&urlpath=lab%2Ftree%2Frepo%2Flab01.ipynb&branch=main"])
def test_svg_scans_back_to_the_url(url):
    assert scan(matrix_of_svg(qr.svg(url))) == url


def test_png_scans_back_to_the_url(tmp_path):
    from PIL import Image

    url = urls(4, 1)[0]
    target = tmp_path / "code.png"
    qr.write(url, target)
    image = np.array(Image.open(target).convert("L"))
    result = zxingcpp.read_barcode(image, formats=zxingcpp.BarcodeFormat.QRCode)
    assert result is not None and result.text == url


def test_a_batch_of_mixed_versions_gives_each_urls_own_code_in_order(monkeypatch):
    # codes of one version are encoded as one stack: small stacks here, so a version spans several
    monkeypatch.setattr(qr, "STACK", 7)
    batch = urls(5, 120) + ["https://hub.example.edu/?q=データ科学", "hi"]  # two outside the fast path
    for url, mine in zip(batch, qr.codes(batch), strict=True):
        theirs = segno.make(url, error="m")
        assert (mine.matrix, mine.version, mine.error, mine.mask) == (theirs.matrix, theirs.version, theirs.error, theirs.mask), url
    wanted = [(url, f"title {i}") for i, url in enumerate(batch[:12])]
    assert qr.svgs(wanted) == [segno_svg(url, title) for url, title in wanted]
