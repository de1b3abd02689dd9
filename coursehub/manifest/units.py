"""Sizes and durations as people write them in manifests, normalised in one place.

Sizes follow JupyterHub's ``ByteSpecification`` (``jupyterhub/traitlets.py``): ``K``, ``M``, ``G`` and
``T`` are powers of 1024, so ``1G`` in a coursehub manifest means exactly what ``1G`` means in a
hand-written ``c.Spawner.mem_limit`` or a Zero to JupyterHub ``singleuser.memory.limit``. The
Kubernetes-style ``Ki``/``Mi``/``Gi``/``Ti`` are accepted as the same powers of 1024. Plain numbers
are bytes.
"""

from __future__ import annotations

import math
import re

from coursehub.errors import excerpt

_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(i?)B?\s*$", re.IGNORECASE)

#: 1024T (a pebibyte): more memory than any machine has, so a bigger size is a typo, not a plan.
MAX_SIZE = 1024**5
#: A thousand weeks: longer than any term, any timeout, any lead time.
MAX_DURATION = 1000 * 7 * 86400

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)


def parse_size(value: str | int | float) -> int:
    """Return a size in bytes from ``512M``, ``1.5G``, ``2Gi`` or a byte count."""
    if isinstance(value, bool):
        raise ValueError("a size must be a number of bytes or a string such as 512M, 1.5G or 2Gi")
    if isinstance(value, (int, float)):
        _finite(value, "size")
        if value < 0:
            raise ValueError("a size cannot be negative")
        size = int(value)
    else:
        m = _SIZE_RE.match(str(value))
        if not m:
            raise ValueError(f"{excerpt(value)} is not a size; write it like 512M, 1.5G or 2Gi")
        number, unit, _binary = m.groups()
        size = int(round(float(number) * _SIZE_UNITS[unit.upper()]))
    if size > MAX_SIZE:
        raise ValueError(f"{excerpt(value)} is larger than any machine (at most {format_size(MAX_SIZE)}); check the unit")
    return size


def _finite(value: float, what: str) -> None:
    # YAML's .inf and .nan are floats; int() of them raises an unrelated OverflowError/ValueError
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f".nan (not a number) is not a {what}")
    if isinstance(value, float) and math.isinf(value):
        raise ValueError(f"{'-' if value < 0 else ''}.inf (infinity) is not a {what}; write a finite value")


def format_size(n: int) -> str:
    """The shortest exact spelling of ``n`` bytes that :func:`parse_size` reads back to ``n``."""
    for unit in ("T", "G", "M", "K"):
        factor = _SIZE_UNITS[unit]
        if n and n % factor == 0:
            return f"{n // factor}{unit}"
    return str(n)


def human_size(n: float) -> str:
    """A rounded size for tables (``1.5G``); not for round-tripping."""
    for unit in ("T", "G", "M", "K"):
        factor = _SIZE_UNITS[unit]
        if abs(n) >= factor:
            return f"{n / factor:.3g}{unit}"
    return f"{n:.0f}"


#: Below this a "size" is almost surely a number written without its unit (a server needs far more).
SMALLEST_LIKELY_SIZE = 1024**2


def unitless_size_hint(n: int) -> str | None:
    """What to say about a size that is suspiciously small: a number without a unit is bytes."""
    if 0 <= n < SMALLEST_LIKELY_SIZE:
        return f"{n} is {n} bytes: a size without a unit is bytes; write it with one, like {n}M or {n}G"
    return None


def date_problem(text: str) -> str:
    """Why ``text`` is not a date, naming the part that is wrong (``2026-13-01``: the month)."""
    import calendar
    import datetime as dt

    m = re.fullmatch(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})\s*", text)
    if not m:
        return f"{text!r} is not a date; write it as YYYY-MM-DD"
    year, month, day = (int(g) for g in m.groups())
    if not 1 <= month <= 12:
        return f"{text!r} is not a date: month {month} is not 1 to 12; write it as YYYY-MM-DD"
    last = calendar.monthrange(year, month)[1] if dt.MINYEAR <= year else 31
    if not 1 <= day <= last:
        return f"{text!r} is not a date: day {day} is not 1 to {last} in {calendar.month_name[month]} {year}"
    return f"{text!r} is not a date; write it as YYYY-MM-DD"


def parse_duration(value: str | int | float) -> int:
    """Return whole seconds from ``30m``, ``1h``, ``2d``, ``45s`` or a number of seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration must be seconds or a string such as 30m, 1h or 2d")
    if isinstance(value, (int, float)):
        _finite(value, "duration")
        if value < 0:
            raise ValueError("a duration cannot be negative")
        seconds = int(value)
    else:
        m = _DURATION_RE.match(str(value))
        if not m:
            raise ValueError(f"{excerpt(value)} is not a duration; write it like 45s, 30m, 1h or 2d")
        number, unit = m.groups()
        seconds = int(round(float(number) * _DURATION_UNITS[(unit or "s").lower()]))
    if seconds > MAX_DURATION:
        raise ValueError(f"{excerpt(value)} is longer than {format_duration(MAX_DURATION)}; check the unit")
    return seconds


def format_duration(seconds: int) -> str:
    """The shortest exact spelling of ``seconds`` that :func:`parse_duration` reads back."""
    for unit in ("w", "d", "h", "m"):
        factor = _DURATION_UNITS[unit]
        if seconds and seconds % factor == 0:
            return f"{seconds // factor}{unit}"
    return f"{seconds}s"


def plural(n: int, noun: str) -> str:
    """``n`` and the noun, in the plural unless ``n`` is 1 (``1 event``, ``3 events``; nouns in -s take -es)."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun}{'es' if noun.endswith('s') else 's'}"
