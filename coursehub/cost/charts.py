"""Charts of the cost report, as SVG or PNG bytes that are the same for the same report.

:data:`RC` and :func:`save` are how every coursehub chart is drawn (the images advice too).

matplotlib stamps a date and its version into files and salts SVG element ids randomly; a build must
not change when nothing changed, so those are switched off here (``svg.hashsalt``, ``Date``,
``Software``). The Agg backend needs no display. Dates are drawn as text labels, not date axes, so
the tick choice cannot depend on the locale or the matplotlib version's date locator.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display on build machines

import matplotlib.pyplot as plt  # noqa: E402

#: Matplotlib settings every coursehub chart is drawn with (use with ``plt.rc_context``).
RC = {
    "svg.hashsalt": "coursehub",  # fixed ids instead of random ones
    "svg.fonttype": "path",  # glyphs as paths: the SVG looks the same without the font installed
    "font.family": "DejaVu Sans",  # shipped with matplotlib, so every machine draws the same glyphs
    "font.size": 9,
    "figure.dpi": 100,
    "savefig.dpi": 100,
}
_METADATA = {"svg": {"Date": None, "Creator": None}, "png": {"Software": None}}


def save(fig, fmt: str) -> bytes:
    """The figure as SVG or PNG bytes without dates or versions, and close it."""
    return save_as(fig, (fmt,))[fmt]


def save_as(fig, fmts: tuple[str, ...]) -> dict[str, bytes]:
    """The figure in each format (drawn once, saved as many times), then closed."""
    out = {}
    try:
        for fmt in fmts:
            if fmt not in _METADATA:
                raise ValueError(f"unsupported chart format {fmt!r}; use svg or png")
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, metadata=_METADATA[fmt], bbox_inches="tight")
            out[fmt] = buf.getvalue()
    finally:
        plt.close(fig)
    return out


def render(draw, data: dict, fmts: tuple[str, ...] = ("svg", "png")) -> dict[str, bytes]:
    """``draw(data)``'s figure, drawn once with :data:`RC`, in each format."""
    with plt.rc_context(RC):
        return save_as(draw(data), fmts)


#: A bar chart of more courses than this is unreadable; beyond it only the most expensive are drawn.
MAX_BARS = 40


def cost_per_student(data: dict, *, fmt: str = "svg") -> bytes:
    """Horizontal bars: each course's cost per student per term (the most expensive ``MAX_BARS``)."""
    return render(_cost_per_student, data, (fmt,))[fmt]


def _cost_per_student(data: dict):
    courses = [c for c in data["courses"] if c["cost_per_student_per_term"] is not None]
    title = "Cost per student by course"
    if len(courses) > MAX_BARS:
        title += f" (the {MAX_BARS} most expensive of {len(courses)})"
        keep = sorted(courses, key=lambda c: (-c["cost_per_student_per_term"], c["id"]))[:MAX_BARS]
        courses = [c for c in courses if c in keep]
    fig, ax = plt.subplots(figsize=(7, 0.5 * len(courses) + 1.4))
    labels = [c["id"] for c in courses]
    values = [c["cost_per_student_per_term"] for c in courses]
    bars = ax.barh(labels, values, color=["#d95f02" if c["kind"] == "event" else "#1b9e77" for c in courses])
    ax.bar_label(bars, labels=[f"{v:,.2f}" for v in values], padding=3)
    ax.invert_yaxis()  # first course on top, as in the table
    ax.set_xlabel(f"{data['currency']} per student per term ({data['cost_model']})")
    ax.set_title(title)
    ax.margins(x=0.15)
    return fig


def capacity_by_week(data: dict, *, fmt: str = "svg") -> bytes:
    """Per week at its peak: memory reserved by guarantees, the sum of limits, and what the nodes offer."""
    return render(_capacity_by_week, data, (fmt,))[fmt]


def _capacity_by_week(data: dict):
    weeks = data["weeks"]
    gib = 1024**3
    x = list(range(len(weeks)))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(x, [w["reserved_memory_bytes"] / gib for w in weeks], color="#7570b3", label="reserved (guarantees)")
    ax.step(x, [w["available_memory_bytes"] / gib for w in weeks], where="mid", color="#1b9e77", label="available on nodes")
    ax.step(x, [w["limit_memory_bytes"] / gib for w in weeks], "--", where="mid", color="#d95f02", label="sum of limits")
    step = max(1, len(weeks) // 12)
    ax.set_xticks(x[::step], [w["week_start"] for w in weeks][::step], rotation=45, ha="right")
    ax.set_ylabel("memory at the week's peak (GiB)")
    ax.set_title("Reserved vs available capacity by week")
    ax.legend(loc="upper left")
    ax.set_ylim(bottom=0)
    return fig


def disk_by_week(data: dict, *, fmt: str = "svg") -> bytes:
    """Per week: the most disk the home directories hold (and, on NFS, the share's provisioned size)."""
    return render(_disk_by_week, data, (fmt,))[fmt]


def _disk_by_week(data: dict):
    weeks = data["weeks"]
    storage = data.get("storage") or {}
    gib = 1024**3
    x = list(range(len(weeks)))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(x, [w["disk_bytes"] / gib for w in weeks], color="#66a61e", label="home directories")
    if storage.get("provisioned_bytes") is not None:
        ax.axhline(storage["provisioned_bytes"] / gib, color="#d95f02", linestyle="--", label="NFS share provisioned")
    step = max(1, len(weeks) // 12)
    ax.set_xticks(x[::step], [w["week_start"] for w in weeks][::step], rotation=45, ha="right")
    ax.set_ylabel("disk at the week's most (GiB)")
    retain = storage.get("retain_days")
    ax.set_title("Home-directory disk by week" + (f" (kept {retain} days after each term)" if retain else ""))
    ax.legend(loc="upper left")
    ax.set_ylim(bottom=0)
    return fig


#: The cost family's charts, by file stem (each written as SVG and PNG).
CHARTS = {"cost-per-student": cost_per_student, "capacity-by-week": capacity_by_week, "disk-by-week": disk_by_week}
#: How each chart is drawn, for :func:`render` (one drawing for both formats).
DRAW = {"cost-per-student": _cost_per_student, "capacity-by-week": _capacity_by_week, "disk-by-week": _disk_by_week}
