"""Grading a whole class: parallel, sandboxed, resumable.

:func:`grade` prepares the course's grader once (otter assign or nbgrader generate_assignment,
imports of the grading stack), then keeps up to ``workers`` sandboxed forks busy, one submission
each. The runner is a single-threaded loop (forking copies only the calling thread, so a progress
bar must not run its own thread). Each finished submission is saved at once as a state file; a
re-run with the same submissions and tests skips what is saved, so an interrupted batch resumes.

Output folder::

    grades.csv              student, score, max, one column per question, status, reason: one row per
                            submission and per roster student (``missing``, 0 points, when none)
    feedback/<student>.txt  scores per question, notes, public test details (+ .html for nbgrader)
    logs/<student>.log      what the submission printed while graded (truncated)
    grade.log               one line per event, appended across runs
    .state/<student>.json   the saved result (resume)
    nbgrader/               nbgrader courses: the course gradebook and nbgrader's own export

The grader itself is a backend (:mod:`coursehub.grading.base`) chosen by the course's ``grader:``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import os
import selectors
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from coursehub.errors import CoursehubError
from coursehub.grading import results as res
from coursehub.grading import sandbox
from coursehub.grading.base import DELETED_FILES, ENGINES, GraderBackend, backend_for
from coursehub.grading.submissions import Submission, collect
from coursehub.manifest import Assignment, Course, Manifest

#: Most of a submission's printed output kept in ``logs/`` (a loop printing forever is cut here).
MAX_LOG_BYTES = 256 * 1024
ISOLATION = ("processes", "network", "files")


@dataclass
class BatchReport:
    """What a grading run did."""

    out: Path
    results: list[res.Result]
    graded: int  # graded in this run
    reused: int  # taken from an earlier run's state
    seconds: float
    isolation: list[str] = field(default_factory=list)


class _Log:
    """``grade.log``: appended, one timestamped line per event, written only by the runner."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "a", encoding="utf-8")

    def __call__(self, message: str) -> None:
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.fh.write(f"{stamp} {message}\n")
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _source_of(manifest: Manifest, course: Course, assignment: Assignment, engine: str) -> Path:
    """The assignment's grader source, after checking the course can be graded at all."""
    if course.grader == "none":
        raise CoursehubError(f"course {course.id} has no grader (grader: none in the manifest)")
    if not assignment.source:
        raise CoursehubError(
            f"assignment {assignment.id} of {course.id} has no source: add `source:` (the grader's master notebook) to it"
        )
    source = (Path(manifest.source).parent / assignment.source).resolve()
    if not source.exists():
        raise CoursehubError(f"the source of {course.id}/{assignment.id} ({source}) does not exist")
    if engine not in ENGINES:
        raise CoursehubError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    return source


def default_workers(memory: int) -> int:
    """One worker per core, but no more than the machine's free memory holds at the limit each."""
    import psutil

    by_memory = int(psutil.virtual_memory().available // max(memory, 1))
    return max(1, min(os.cpu_count() or 1, by_memory))


def warm_up(modules: tuple[str, ...]) -> None:
    """Import the grading stack once, so forks start with it loaded."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    # one BLAS thread per process: workers run in parallel already, and forking a thread pool is fragile
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:
            pass  # a missing optional package shows up in the submissions that need it


def grade(
    *,
    manifest: Manifest,
    course_id: str,
    assignment_id: str,
    submissions: Path,
    out: Path,
    workers: int | None = None,
    timeout: float | None = None,
    memory: int | None = None,
    engine: str = "warm",
    on_start: Callable[[int, int], None] | None = None,
    on_result: Callable[[res.Result], None] | None = None,
) -> BatchReport:
    """Grade every submission of one assignment; write grades, feedback and logs under ``out``.

    ``timeout`` (seconds) and ``memory`` (bytes) default to the course's ``grading`` settings;
    ``workers`` to one per core (fewer if memory is short). ``on_start(to_grade, reused)`` and
    ``on_result(result)`` report progress. Must be called from the process's only thread.
    """
    started = time.monotonic()
    course = manifest.course(course_id)
    assignment = course.assignment(assignment_id)
    limits = sandbox.Limits(
        timeout=float(timeout if timeout is not None else course.grading.timeout),
        memory=int(memory if memory is not None else course.grading.memory),
    )
    if limits.timeout <= 0 or limits.memory <= 0:
        raise CoursehubError("--timeout and --memory must be positive")
    workers = workers or default_workers(limits.memory)
    if workers < 1:
        raise CoursehubError("--workers must be at least 1")
    source = _source_of(manifest, course, assignment, engine)
    if not Path(submissions).exists():
        raise CoursehubError(f"submissions {submissions} do not exist")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="coursehub-grade-"))
    log = _Log(out / res.LOG_FILE)
    previous = _interrupt_on_signals()
    try:
        backend = backend_for(course.grader).prepare(
            course=course, assignment=assignment, source=source, work=work, engine=engine
        )
        subs = collect(submissions, notebook_name=backend.notebook_name, workdir=work)
        final: dict[str, res.Result] = {}
        todo: list[tuple[Submission, str]] = []
        for sub in subs:
            if sub.path is None:
                final[sub.student] = _result(sub.student, backend.failed(sub.problem), None, "", backend.fingerprint)
                continue
            digest = _sha256(sub.path)
            saved = res.load_state(out, sub.student)
            if saved and saved.fingerprint == backend.fingerprint and saved.submission_sha256 == digest:
                final[sub.student] = saved
            else:
                todo.append((sub, digest))
        reused = sum(1 for s in subs if s.student in final and s.path is not None)
        log(f"start {course.id}/{assignment.id}: {len(subs)} submissions, {reused} already graded, "
            f"{len(todo)} to grade; workers={workers} timeout={limits.timeout:g}s memory={limits.memory} engine={engine}")
        for student in sorted(final):
            if final[student].status == "failed" and not final[student].submission_sha256:
                _finish(out, final[student], log, scratch=None, feedback="")
        if on_start:
            on_start(len(todo), reused)
        warm_up(backend.warm_modules)
        if threading.active_count() > 1:
            log(f"warning: {threading.active_count()} threads while forking; only the calling thread is copied")
        isolation = _probe(work)
        gaps = [i for i in ISOLATION if i not in isolation]
        if gaps:
            log(f"warning: not isolated on this machine: {', '.join(gaps)} (unshare refused; run as root to isolate)")
        pool = _Pool(backend=backend, limits=limits, workers=workers, work=work, out=out, log=log, final=final,
                     roster=set(course.roster), gaps=gaps, on_result=on_result)
        graded = pool.run(todo)
        for student in course.roster:
            if student not in final:
                final[student] = missing_result(student, backend)
        results = [final[s] for s in sorted(final)]
        res.atomic_write(out / res.GRADES_CSV, res.grades_csv(results))
        backend.finish(out, results, course.roster)
        counts = {status: sum(r.status == status for r in results) for status in ("graded", "failed", "missing")}
        log(f"done {course.id}/{assignment.id}: {graded} graded now, {reused} reused, "
            f"{counts['graded']} graded, {counts['failed']} failed, {counts['missing']} missing")
        return BatchReport(out, results, graded, reused, time.monotonic() - started, isolation)
    except KeyboardInterrupt:
        log("interrupted; finished submissions are saved and a re-run resumes from them")
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        log.close()
        shutil.rmtree(work, ignore_errors=True)


class _Interrupts:
    """Ctrl-C / SIGTERM handling that never fires inside ``fork``.

    An exception raised by a signal handler while ``os.fork`` runs its at-fork hooks is printed
    and dropped by Python, so during a fork the signal is only noted, and raised right after.
    """

    deferring = False
    pending = False

    @classmethod
    def handler(cls, signum, frame):
        if cls.deferring:
            cls.pending = True
            return
        raise KeyboardInterrupt

    @classmethod
    def start(cls, *args, **kwargs) -> sandbox.Running:
        running = None
        cls.deferring = True
        try:
            running = sandbox.start(*args, **kwargs)
        finally:
            cls.deferring = False
        if cls.pending:
            cls.pending = False
            running.kill()
            running.finish()
            raise KeyboardInterrupt
        return running


def _interrupt_on_signals() -> dict:
    """Make Ctrl-C and SIGTERM (a scheduler's stop) interrupt the batch cleanly.

    SIGINT is set explicitly because a shell starts background jobs with it ignored, and a batch
    that cannot be stopped would leave its sandboxes running.
    """
    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        previous[signum] = signal.getsignal(signum)
        signal.signal(signum, _Interrupts.handler)
    return previous


def _probe(work: Path) -> list[str]:
    """Which kinds of isolation the sandbox gets on this machine (runs a no-op job)."""
    scratch = Path(tempfile.mkdtemp(prefix="probe-", dir=work))
    running = _Interrupts.start(lambda: {}, limits=sandbox.Limits(30, 256 * 1024**2), scratch=scratch, log_path=scratch / "log")
    outcome = _wait_one(running)
    shutil.rmtree(scratch, ignore_errors=True)
    return outcome.isolation


def _wait_one(running: sandbox.Running) -> sandbox.Outcome:
    sel = selectors.PollSelector()  # poll: no kernel-side registrations that outlive a closed fd
    for fd in running.fds():
        sel.register(fd, selectors.EVENT_READ)
    while not running.done:
        for key, _ in sel.select(0.2):
            running.read(key.fd)
            if key.fd not in running.open_fds:
                sel.unregister(key.fd)
        running.check_deadline(time.monotonic())
    sel.close()
    return running.finish()


@dataclass
class _Pool:
    """The sandboxes in flight and what a finished one is recorded into."""

    backend: GraderBackend
    limits: sandbox.Limits
    workers: int
    work: Path
    out: Path
    log: _Log
    final: dict[str, res.Result]  # student -> result, filled as submissions finish
    roster: set[str]
    gaps: list[str]  # isolation this machine lacks, noted on results whose outcome does not say
    on_result: Callable[[res.Result], None] | None = None

    def run(self, todo: list[tuple[Submission, str]]) -> int:
        """Grade ``todo`` with at most :attr:`workers` sandboxes at once; return how many finished."""
        sel = selectors.PollSelector()  # poll: no kernel-side registrations that outlive a closed fd
        active: dict[int, tuple[sandbox.Running, Submission, str, Path, Path]] = {}  # guard pid -> job
        queue = list(todo)
        graded = 0
        try:
            while queue or active:
                while queue and len(active) < self.workers:
                    sub, digest = queue.pop(0)
                    running, scratch, notebook = self._start(sub)
                    active[running.pid] = (running, sub, digest, scratch, notebook)
                    for fd in running.fds():
                        sel.register(fd, selectors.EVENT_READ, running)
                for key, _ in sel.select(0.2):
                    running = key.data
                    running.read(key.fd)
                    if key.fd not in running.open_fds:
                        sel.unregister(key.fd)
                now = time.monotonic()
                for pid in list(active):
                    running, sub, digest, scratch, notebook = active[pid]
                    running.check_deadline(now)
                    if not running.done:
                        continue
                    for fd in running.fds():
                        sel.unregister(fd)
                    del active[pid]
                    self._record(sub, digest, scratch, notebook, running.finish())
                    graded += 1
        finally:
            for running, _, _, scratch, _ in active.values():  # interrupted: stop everything we started
                running.kill()
                running.finish()
                shutil.rmtree(scratch, ignore_errors=True)
            sel.close()
        return graded

    def _start(self, sub: Submission) -> tuple[sandbox.Running, Path, Path]:
        scratch = Path(tempfile.mkdtemp(prefix="sub-", dir=self.work))
        notebook = self.backend.stage(scratch, sub.path)
        try:
            running = _Interrupts.start(self.backend.job(sub.student, notebook), limits=self.limits,
                                        scratch=scratch, log_path=scratch / "output.log")
        except KeyboardInterrupt:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        return running, scratch, notebook

    def _record(self, sub: Submission, digest: str, scratch: Path, notebook: Path, outcome: sandbox.Outcome) -> None:
        payload = outcome.payload if outcome.ok else self.backend.failed(outcome.reason)
        if not notebook.is_file():
            # it deleted what it was graded from: an attack on the grader (whatever engine survived it)
            payload = self.backend.failed(DELETED_FILES)
        result = _result(sub.student, payload, outcome, digest, self.backend.fingerprint)
        gaps = [i for i in ISOLATION if i not in outcome.isolation] if outcome.isolation else self.gaps
        result.notes += [f"{i} not isolated" for i in gaps]
        if self.roster and sub.student not in self.roster:
            result.notes.append("not on the course roster")
        self.backend.keep(self.out, sub.student, scratch, payload)
        _finish(self.out, result, self.log, scratch, payload.get("feedback", ""))
        shutil.rmtree(scratch, ignore_errors=True)
        self.final[sub.student] = result
        if self.on_result:
            self.on_result(result)


def missing_result(student: str, backend: GraderBackend) -> res.Result:
    """The row of a roster student who handed nothing in: 0 of the assignment's points."""
    return _result(student, {**backend.failed("no submission"), "status": "missing"}, None, "", backend.fingerprint)


def _result(student: str, payload: dict, outcome: sandbox.Outcome | None, digest: str, fingerprint: str) -> res.Result:
    measured = {"seconds": round(outcome.seconds, 3), "max_rss": outcome.max_rss, "isolation": list(outcome.isolation)} if outcome else {}
    return res.Result.from_payload(student, payload, submission_sha256=digest, fingerprint=fingerprint, **measured)


def _finish(out: Path, result: res.Result, log, scratch: Path | None, feedback: str) -> None:
    """Save everything about one finished submission: feedback, output log, then the state file."""
    fb_dir = out / res.FEEDBACK_DIR
    res.atomic_write(fb_dir / f"{result.student}.txt", res.feedback_text(result, feedback).encode("utf-8"))
    if scratch is not None:
        output = scratch / "output.log"
        if output.is_file() and not output.is_symlink():
            with open(output, "rb") as fh:
                data = fh.read(MAX_LOG_BYTES + 1)
            if len(data) > MAX_LOG_BYTES:
                data = data[:MAX_LOG_BYTES] + b"\n[output truncated]\n"
            res.atomic_write(out / res.LOGS_DIR / f"{result.student}.log", data)
    # the state file last: a crash before it means the submission is graded again, never lost
    res.save_state(out, result)
    what = f"{result.score:g}/{result.max:g}" if result.status == "graded" else f"FAILED ({result.reason})"
    log(f"{result.status} {result.student}: {what} in {result.seconds:.1f}s")
