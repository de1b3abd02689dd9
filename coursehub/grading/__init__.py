"""Auto-grading: otter-grader and nbgrader courses behind one ``coursehub grade``.

* :mod:`~coursehub.grading.artifacts` -- the ``graders/`` build family (student versions,
  normalised autograder zips, ``nbgrader_config.json``).
* :mod:`~coursehub.grading.otter`, :mod:`~coursehub.grading.nbgrader` -- each grader's side.
* :mod:`~coursehub.grading.sandbox` -- containing untrusted student code.
* :mod:`~coursehub.grading.submissions` -- a folder or an LMS zip of submissions.
* :mod:`~coursehub.grading.runner` -- the parallel, resumable batch; :mod:`~coursehub.grading.results`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coursehub.build import BuildContext


def generate(ctx: BuildContext) -> None:
    """Build generator for the ``graders`` family (see :mod:`coursehub.grading.artifacts`)."""
    from coursehub.grading.artifacts import generate as _generate

    _generate(ctx)


def inputs(manifest) -> bytes:
    """The ``graders`` family's inputs beyond the manifest (for :mod:`coursehub.buildstate`)."""
    from coursehub.grading.artifacts import inputs as _inputs

    return _inputs(manifest)
