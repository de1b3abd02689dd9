from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coursehub.manifest.units import format_duration, format_size, parse_duration, parse_size


@pytest.mark.parametrize(
    "text, expected",
    [
        ("512M", 512 * 1024**2),
        ("1G", 1024**3),
        ("1.5G", 1536 * 1024**2),
        ("2Gi", 2 * 1024**3),
        ("512Mi", 512 * 1024**2),
        ("100K", 102400),
        ("1g", 1024**3),
        ("4GB", 4 * 1024**3),
        (1048576, 1048576),
        ("1024", 1024),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


def test_sizes_mean_what_jupyterhub_means():
    # JupyterHub's own ByteSpecification is the reference: 1G in our manifest == 1G in c.Spawner.mem_limit
    from jupyterhub.traitlets import ByteSpecification

    spec = ByteSpecification()
    for text in ("512M", "1G", "1.5G", "2T", "100K"):
        assert parse_size(text) == spec.validate(None, text)


@pytest.mark.parametrize("bad", ["lots", "-1G", "1X", "", "G", True])
def test_parse_size_rejects(bad):
    with pytest.raises(ValueError):
        parse_size(bad)


@pytest.mark.parametrize("text, expected", [("30m", 1800), ("1h", 3600), ("2d", 172800), ("45s", 45), ("1w", 604800), ("90", 90), (120, 120), ("1.5h", 5400)])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("bad", ["soon", "1y", "-5m", "m"])
def test_parse_duration_rejects(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


@given(st.integers(min_value=0, max_value=2**50))
def test_size_round_trip(n):
    assert parse_size(format_size(n)) == n


@given(st.integers(min_value=0, max_value=1000 * 7 * 86400))
def test_duration_round_trip(n):
    assert parse_duration(format_duration(n)) == n
