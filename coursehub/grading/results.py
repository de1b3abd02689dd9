"""Grading results: one per student, saved as a state file, gathered into the grades CSV.

Everything here is written by the trusted runner only. A state file is written atomically (a
temporary file renamed over the target) the moment a submission is finished, so an interrupted
batch can resume without regrading it; it records what was graded (the submission's hash and the
autograder's fingerprint) so a changed submission or changed tests are graded again.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from coursehub import emit

STATE_DIR = ".state"
GRADES_CSV = "grades.csv"
FEEDBACK_DIR = "feedback"
LOGS_DIR = "logs"
LOG_FILE = "grade.log"


@dataclass
class Result:
    """The outcome of grading one student's submission."""

    student: str
    status: str  # graded | failed | missing
    score: float
    max: float
    questions: dict[str, list[float]] = field(default_factory=dict)  # name -> [score, possible]
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    max_rss: int = 0
    isolation: list[str] = field(default_factory=list)
    submission_sha256: str = ""
    fingerprint: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    @classmethod
    def from_payload(cls, student: str, payload: dict[str, Any], **measured: Any) -> Result:
        """A result from a job's payload (see :mod:`coursehub.grading.base`), types checked, plus what the
        runner measured (``seconds``, ``max_rss``, ``isolation``, ``submission_sha256``, ``fingerprint``)."""
        return cls(
            student=student,
            status=str(payload.get("status", "failed")),
            score=float(payload.get("score", 0.0)),
            max=float(payload.get("max", 0.0)),
            questions={k: [float(v[0]), float(v[1])] for k, v in payload.get("questions", {}).items()},
            reason=str(payload.get("reason", "")),
            notes=[str(n) for n in payload.get("notes", [])],
            **measured,
        )


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def state_path(out: Path, student: str) -> Path:
    return out / STATE_DIR / f"{student}.json"


def save_state(out: Path, result: Result) -> None:
    atomic_write(state_path(out, result.student), emit.to_json(asdict(result)))


def load_state(out: Path, student: str) -> Result | None:
    try:
        return Result.from_dict(json.loads(state_path(out, student).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None  # missing or damaged: grade again


def question_order(results: list[Result]) -> list[str]:
    names: list[str] = []
    for r in results:
        for q in r.questions:
            if q not in names:
                names.append(q)
    return names


def grades_csv(results: list[Result]) -> bytes:
    """The gradebook export: student, score, max, one column per question, status and reason."""
    questions = question_order(results)
    header = ["student", "score", "max", *questions, "status", "reason"]
    rows = []
    for r in sorted(results, key=lambda r: r.student):
        rows.append(
            [r.student, _num(r.score), _num(r.max), *(_num(r.questions.get(q, [0, 0])[0]) for q in questions),
             r.status, r.reason]
        )
    return emit.to_csv(header, rows)


def _num(value: float) -> str:
    return f"{value:g}"


def feedback_text(result: Result, details: str = "") -> str:
    """A plain-text feedback file for one student."""
    lines = [f"Student: {result.student}", f"Score: {_num(result.score)} / {_num(result.max)}"]
    if result.status != "graded":
        lines.append(f"Not graded automatically: {result.reason}")
    if result.questions:
        lines.append("")
        lines.append("Questions:")
        for name, (score, possible) in result.questions.items():
            lines.append(f"  {name}: {_num(score)} / {_num(possible)}")
    if result.notes:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  - {n}" for n in result.notes)
    if details:
        lines += ["", "Test details:", details]
    return "\n".join(lines) + "\n"
