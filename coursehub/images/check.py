"""``coursehub images check``: run a course's notebooks in its image's Python packages, before term.

For the course's image, an isolated virtual environment is made with exactly the image's locked
Python packages (``python -m venv``, no system site-packages, then ``pip install -r`` the generated
``requirements.txt``). It is cached by the lock's digest under ``~/.cache/coursehub/envs`` (or
``$COURSEHUB_CACHE_DIR/envs``), so a rerun starts at once. A kernel spec pointing at the
environment's Python is written inside it, and every notebook of the course's ``content.local``
folder is executed with nbclient, in its own folder of a temporary copy of the content (notebooks
write files as they run, e.g. otter's export zips), one after the other.

A notebook passes when no cell fails. What does **not** count as a failure, because notebooks handed
to students are meant to be incomplete:

- a cell tagged ``raises-exception`` (the Jupyter convention nbclient honours) may raise;
- a cell that raises ``NotImplementedError`` and contains ``raise NotImplementedError`` is an
  unanswered question (nbgrader's placeholder);
- an error caused by an otter-style ``...`` placeholder (Python names it ``ellipsis``, e.g.
  ``'ellipsis' object has no attribute 'column'``) is an unanswered question too;
- cells tagged ``skip-execution`` are not run at all (nbclient's convention), for cells that download
  large data or need credentials.

A missing module (``ModuleNotFoundError``) always counts as a failure, wherever it happens: finding
those is what the check is for. The environment adds ``ipykernel`` when the image's lock lacks it,
as repo2docker's base environment provides it in the built image.

**R notebooks** (a notebook whose kernel's language is R) run with a real R kernel: this machine's
``R`` with IRkernel (Debian's ``r-base`` and ``r-cran-irkernel``; ``scripts/test`` installs them),
through a kernel spec coursehub writes in its cache, so nothing has to be registered by hand. The
result names the R version that ran the notebooks beside the one the image pins: the image's R and
CRAN snapshot are repo2docker's, so an R package the image adds but this machine lacks is reported
as a missing package, as is one neither has. R Markdown (``.Rmd``) files are not executed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name

from coursehub import emit
from coursehub.errors import CoursehubError
from coursehub.images.contexts import requirements_txt
from coursehub.cache import cache_root
from coursehub.images.pip import locked, pip_errors
from coursehub.images.plan import ImageBuild, plan_images
from coursehub.images.standard import closure, load_standard
from coursehub.manifest import Course, Manifest

KERNEL_NAME = "coursehub-check"
R_KERNEL_NAME = "coursehub-check-r"
_R_MISSING_RE = re.compile(r"there is no package called [‘'\"]([^’'\"]+)[’'\"]")
_R_VERSION_RE = re.compile(r"R version (\d+\.\d+(?:\.\d+)?)")
#: Bumped when the way environments are made changes, so old cached ones are not reused.
_ENV_FORMAT = "1"
_MISSING_RE = re.compile(r"No module named '([^']+)'")
# pip's own tooling, present in every venv, never part of a lock.
_VENV_TOOLS = {"pip", "setuptools", "wheel"}


@dataclass
class CellFailure:
    """Where and how a notebook failed."""

    cell: int | None  # 1-based position among all cells; None when the kernel died or timed out
    kind: str  # missing-package | error | timeout | kernel-died
    ename: str
    evalue: str
    source: str = ""  # the cell's first line
    package: str | None = None  # for missing-package: the top-level module that is missing

    def describe(self) -> str:
        where = f"cell {self.cell}" if self.cell else "kernel"
        if self.kind == "missing-package":
            return f"{where}: missing package {self.package!r} ({self.ename}: {self.evalue})"
        return f"{where}: {self.ename}: {self.evalue}"


@dataclass
class NotebookResult:
    path: str  # relative to the content folder
    passed: bool
    failure: CellFailure | None = None
    expected: list[str] = field(default_factory=list)  # errors that did not count, and why
    missing: list[str] = field(default_factory=list)  # every missing module in the notebook
    seconds: float = 0.0
    language: str = "python"  # the kernel it ran with: python or r


@dataclass
class CourseCheck:
    course: str
    image: str  # build name
    environment: str  # path of the virtual environment
    notebooks: list[NotebookResult] = field(default_factory=list)
    unlocked: list[str] = field(default_factory=list)  # installed but not pinned by the lock
    skipped: str = ""  # why the course was not checked
    r_version: str = ""  # the R that ran the course's R notebooks (x.y.z)
    image_r_version: str = ""  # the R the image pins (x.y)

    @property
    def r_differs(self) -> bool:
        """Whether the R notebooks ran on another R (major.minor) than the image's."""
        used = ".".join(self.r_version.split(".")[:2])
        return bool(self.r_version and self.image_r_version) and used != self.image_r_version

    @property
    def passed(self) -> bool:
        return all(n.passed for n in self.notebooks)

    def as_data(self) -> dict:
        data = asdict(self)
        data["passed"] = self.passed
        data["r_differs"] = self.r_differs
        return data


def cache_dir() -> Path:
    """Where checked environments are kept: ``envs/`` in coursehub's cache (:func:`cache_root`)."""
    return cache_root() / "envs"


# --- the environment --------------------------------------------------------------------------------


def _check_requirements(build: ImageBuild) -> str:
    text = requirements_txt(build)
    if "ipykernel" not in build.lock:
        kernel = closure(load_standard("data8").lock, ["ipykernel"])
        extra = [f"{p.name}=={p.version}" for k, p in kernel.items() if k not in build.lock]
        text += "# added for the check: the kernel, as repo2docker's base environment provides it\n"
        text += "\n".join(extra) + "\n"
    return text


def ensure_environment(
    build: ImageBuild, *, root: Path | None = None, progress: Callable[[str], None] | None = None
) -> tuple[Path, list[str]]:
    """The cached virtual environment for ``build`` (made if needed) and the packages it has unlocked."""
    if build.language != "python" and not build.lock:
        raise CoursehubError(f"image {build.name} has no Python packages to check")
    root = root or cache_dir()
    requirements = _check_requirements(build)
    digest = hashlib.sha256((_ENV_FORMAT + requirements + sys.version).encode()).hexdigest()[:16]
    env = root / f"{build.name}-{digest}"
    ready = env / ".coursehub-ready.json"
    with locked(root / f".{build.name}-{digest}.lock"):
        if ready.exists():
            return env, json.loads(ready.read_text())["unlocked"]
        if env.exists():
            shutil.rmtree(env)  # a half-made environment from an interrupted run
        if progress:
            progress(f"creating the environment of image {build.name} ({len(build.lock)} packages; once per lock)")
        try:
            subprocess.run([sys.executable, "-m", "venv", str(env)], check=True, capture_output=True, text=True)
            (env / "requirements.txt").write_text(requirements)
            python = env / "bin" / "python"
            proc = subprocess.run(
                [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q",
                 "-r", str(env / "requirements.txt")],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                raise CoursehubError(
                    f"pip could not install the packages of image {build.name}:\n{pip_errors(proc.stderr)}"
                )
            listed = subprocess.run(
                [str(python), "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
                check=True,
                capture_output=True,
                text=True,
            )
            wanted = {canonicalize_name(line.split("==")[0].split("[")[0]) for line in requirements.splitlines() if "==" in line}
            unlocked = sorted(
                f"{p['name']}=={p['version']}"
                for p in json.loads(listed.stdout)
                if canonicalize_name(p["name"]) not in wanted | _VENV_TOOLS
            )
            kernel_dir = env / "share" / "jupyter" / "kernels" / KERNEL_NAME
            kernel_dir.mkdir(parents=True)
            (kernel_dir / "kernel.json").write_bytes(
                emit.to_json(
                    {
                        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                        "display_name": f"coursehub check ({build.name})",
                        "language": "python",
                    }
                )
            )
            ready.write_bytes(emit.to_json({"image": build.name, "unlocked": unlocked}))
        except BaseException:
            shutil.rmtree(env, ignore_errors=True)
            raise
    return env, unlocked


# --- R ----------------------------------------------------------------------------------------------


def r_version() -> str:
    """The version of this machine's R (``x.y.z``); a clear error when R or IRkernel is missing."""
    r = shutil.which("R")
    if r is None:
        raise CoursehubError(
            "R is not installed here, so R notebooks cannot run: install Debian's r-base and r-cran-irkernel "
            "(apt-get install r-base r-cran-irkernel; scripts/test does it)"
        )
    out = subprocess.run([r, "--version"], capture_output=True, text=True, timeout=60).stdout
    m = _R_VERSION_RE.search(out)
    has_irkernel = subprocess.run(
        [r, "--slave", "-e", "quit(status = if (requireNamespace('IRkernel', quietly = TRUE)) 0 else 1)"],
        capture_output=True, timeout=60,
    )
    if has_irkernel.returncode != 0:
        raise CoursehubError("R is installed but IRkernel is not: install Debian's r-cran-irkernel")
    return m.group(1) if m else "unknown"


def ensure_r_kernel(root: Path | None = None) -> Path:
    """A folder whose ``share/jupyter/kernels`` holds the R kernel spec (IRkernel's own command line)."""
    r = shutil.which("R")
    folder = (root or cache_dir()) / "r-kernel"
    spec = folder / "share" / "jupyter" / "kernels" / R_KERNEL_NAME
    spec.mkdir(parents=True, exist_ok=True)
    kernel = {
        "argv": [r, "--slave", "-e", "IRkernel::main()", "--args", "{connection_file}"],
        "display_name": "coursehub check (R)",
        "language": "R",
    }
    (spec / "kernel.json").write_bytes(emit.to_json(kernel))
    return folder


def is_r_notebook(path: Path) -> bool:
    nb = json.loads(path.read_text(encoding="utf-8"))
    meta = nb.get("metadata", {})
    language = meta.get("kernelspec", {}).get("language") or meta.get("language_info", {}).get("name") or ""
    return language.lower() == "r"


# --- running notebooks ------------------------------------------------------------------------------


def _first_line(source: str) -> str:
    for line in source.splitlines():
        if line.strip():
            return line.strip()[:100]
    return ""


_ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")


def _raised_by_placeholder(traceback: list[str]) -> bool:
    """Whether the innermost frame is notebook code reading ``raise NotImplementedError``.

    The placeholder may sit in a function an earlier cell defined, so the traceback, not the failing
    cell's source, tells; a library raising NotImplementedError still counts as a failure.
    """
    text = _ANSI_RE.sub("", "\n".join(traceback))
    frames = re.split(r"(?m)^(?=Cell In\[|File )", text)
    last = frames[-1] if frames else ""
    return last.startswith("Cell In[") and "raise NotImplementedError" in last


def _classify(cell, out) -> str:
    """missing-package, error, or why the error does not count (expected/unanswered)."""
    ename, evalue = out.get("ename", ""), out.get("evalue", "")
    if ename == "ModuleNotFoundError" or _R_MISSING_RE.search(evalue):
        return "missing-package"
    if "raises-exception" in cell.get("metadata", {}).get("tags", []):
        return "expected (tagged raises-exception)"
    if ename == "NotImplementedError" and _raised_by_placeholder(out.get("traceback", [])):
        return "unanswered (raise NotImplementedError)"
    if "ellipsis" in evalue:
        return "unanswered (a ... placeholder)"
    return "error"


def _clean_env() -> dict[str, str]:
    # The kernel must see only the environment's packages: nothing from this process's paths.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "CONDA", "JUPYTER_"))}
    env["PYTHONNOUSERSITE"] = "1"
    env["MPLBACKEND"] = "Agg"
    return env


def run_notebook(
    path: Path, env: Path, *, timeout: int = 300, rel: str | None = None, kernel_name: str = KERNEL_NAME
) -> NotebookResult:
    """Execute one notebook with the kernel ``kernel_name`` of ``env`` and judge the result."""
    import nbformat
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    started = time.monotonic()
    result = NotebookResult(path=rel or path.name, passed=True)
    nb = nbformat.read(path, as_version=4)
    specs = KernelSpecManager(kernel_dirs=[str(env / "share" / "jupyter" / "kernels")])
    km = KernelManager(kernel_name=kernel_name, kernel_spec_manager=specs, ip="127.0.0.1")
    client = NotebookClient(
        nb,
        km=km,
        timeout=timeout,
        allow_errors=True,
        kernel_name=kernel_name,
        resources={"metadata": {"path": str(path.parent)}},
    )
    # The kernel's own chatter goes to a log beside the environment, not into the report.
    log = env / "kernel.log"
    try:
        with open(log, "a") as kernel_stderr:
            # cleanup_kc: nbclient stops only kernels of managers it made itself; this one is ours
            client.execute(env=_clean_env(), stderr=kernel_stderr, cleanup_kc=True)
    except CellTimeoutError as exc:
        result.passed = False
        result.failure = CellFailure(None, "timeout", "CellTimeoutError", str(exc).splitlines()[0])
    except DeadKernelError as exc:
        result.passed = False
        result.failure = CellFailure(None, "kernel-died", "DeadKernelError", str(exc))
    except RuntimeError as exc:  # the kernel did not start; its log says why
        result.passed = False
        result.failure = CellFailure(None, "kernel-died", "RuntimeError", f"{exc} (see {log})")
    finally:
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") != "error":
                continue
            kind = _classify(cell, out)
            ename, evalue = out.get("ename", ""), out.get("evalue", "").strip()
            if kind in ("missing-package", "error"):
                package = None
                if kind == "missing-package":
                    m = _MISSING_RE.search(evalue) or _R_MISSING_RE.search(evalue)
                    package = (m.group(1) if m else evalue).split(".")[0]
                    result.missing.append(package)
                if result.failure is None:
                    result.failure = CellFailure(index, kind, ename, evalue, _first_line(cell.source), package)
                result.passed = False
            else:
                result.expected.append(f"cell {index}: {kind}")
    result.seconds = round(time.monotonic() - started, 1)
    return result


def notebooks_of(manifest: Manifest, course: Course) -> list[Path]:
    """The notebooks of a course's local content folder, in path order."""
    if course.content is None or not course.content.local:
        return []
    root = Path(manifest.source).parent / course.content.local
    if not root.is_dir():
        raise CoursehubError(f"{course.id}: content folder {root} does not exist")
    return sorted(p for p in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def check_course(
    manifest: Manifest,
    course: Course,
    *,
    env_root: Path | None = None,
    timeout: int = 300,
    progress: Callable[[str], None] | None = None,
    on_notebook: Callable[[NotebookResult], None] | None = None,
) -> CourseCheck:
    """Check one course: make (or reuse) its image's environment and run each notebook in it."""
    build = plan_images(manifest).for_course(course.id)
    result = CourseCheck(course=course.id, image=build.name, environment="", image_r_version=build.r_version or "")
    if course.content is None or not course.content.local:
        result.skipped = "no content.local folder to take notebooks from"
        return result
    notebooks = notebooks_of(manifest, course)
    if not notebooks:
        result.skipped = "no notebooks in the content folder" + (" (R Markdown is not executed)" if build.language == "r" else "")
        return result
    kinds = {nb: ("r" if is_r_notebook(nb) else "python") for nb in notebooks}
    kernels: dict[str, tuple[Path, str]] = {}
    if "r" in kinds.values():
        result.r_version = r_version()
        kernels["r"] = (ensure_r_kernel(env_root), R_KERNEL_NAME)
        result.environment = str(kernels["r"][0])
    if "python" in kinds.values():
        env, result.unlocked = ensure_environment(build, root=env_root, progress=progress)
        kernels["python"] = (env, KERNEL_NAME)
        result.environment = str(env)
    root = Path(manifest.source).parent / course.content.local
    # Notebooks write files as they run (otter's export zips, saved figures); run them in a copy,
    # as students run them in the copy nbgitpuller gives them, never in the course's own folder.
    with tempfile.TemporaryDirectory(prefix=f"coursehub-check-{course.id}-") as tmp:
        copy = Path(tmp) / root.name
        shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".git", ".ipynb_checkpoints"))
        for nb in notebooks:
            rel = nb.relative_to(root).as_posix()
            if progress:
                progress(f"{course.id}: running {rel}")
            env, kernel_name = kernels[kinds[nb]]
            nb_result = run_notebook(copy / rel, env, timeout=timeout, rel=rel, kernel_name=kernel_name)
            nb_result.language = kinds[nb]
            result.notebooks.append(nb_result)
            if on_notebook:
                on_notebook(nb_result)
    return result
