"""The images advice as a chart: students on each standard now, after removing stale pins, and after each step.

Drawn with the cost charts' settings (:mod:`coursehub.cost.charts`), so the same advice gives the
same bytes on every build.
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from coursehub.cost.charts import RC, save
from coursehub.images.advise import stages


def students_on_standard(data: dict, *, fmt: str = "svg") -> bytes:
    """One panel per standard set: bars of its students on it unchanged at each stage, and its total."""
    standards = data["standards"]
    with plt.rc_context(RC):
        fig, axes = plt.subplots(1, max(1, len(standards)), figsize=(4.5 * max(1, len(standards)), 3.6), squeeze=False)
        if not standards:
            axes[0][0].set_title("No course uses a standard set")
            axes[0][0].set_axis_off()
        for ax, advice in zip(axes[0], standards):
            labels, values = zip(*stages(advice))
            bars = ax.bar(range(len(values)), values, color=["#7570b3"] + ["#1b9e77"] * (len(values) - 1))
            ax.bar_label(bars, labels=[str(v) for v in values], padding=2)
            # The dashed line is every student of the standard's courses: the most any proposal can reach.
            ax.axhline(advice["students"], color="#d95f02", linestyle="--")
            ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
            ax.set_ylim(0, max(advice["students"], 1) * 1.15)
            ax.set_ylabel("students on the standard, unchanged")
            ax.set_title(f"standard {advice['standard']} (dashed: all {advice['students']} of its students)")
        return save(fig, fmt)
