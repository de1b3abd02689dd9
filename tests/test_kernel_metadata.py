"""The notebook-server extension every image installs (coursehub.images.server.coursehub_kernel_metadata).

A notebook recorded with another Python (or another kernel display name) must reach the browser with
the metadata its kernel will report, so JupyterLab does not mark it modified when the kernel starts
(tests/test_hub_browser.py proves that part in headless Chromium). Here: a real Jupyter server with the
extension enabled the way the local hub and the images enable it, the generated ``postBuild`` run for
real into a fresh environment, and the rules for which notebooks are left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from coursehub.hub.processes import free_port
from coursehub.images import server
from coursehub.images.server import coursehub_kernel_metadata as ext

SERVER_DIR = Path(server.__file__).parent


def notebook(metadata: dict) -> dict:
    return {"cells": [{"cell_type": "code", "execution_count": None, "id": "a1", "metadata": {}, "outputs": [], "source": "1 + 1"}],
            "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def expected_metadata() -> dict:
    """What ipykernel's kernel_info reply and the kernelspec of this environment say (what JupyterLab writes)."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return {
        "kernelspec": {"display_name": spec.display_name, "language": "python", "name": "python3"},
        "language_info": {**IPythonKernel.language_info, "version": sys.version.split()[0]},
    }


def write_config(folder: Path) -> None:
    for rel, content in server.jupyter_config().items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(json.dumps(content))


def test_a_real_server_sends_notebooks_with_their_kernels_metadata_and_leaves_the_files(tmp_path):
    root, config = tmp_path / "root", tmp_path / "config"
    root.mkdir()
    write_config(config)
    foreign = notebook({"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                        "language_info": {"name": "python", "version": "3.9.1"}})
    r_notebook = notebook({"kernelspec": {"display_name": "R", "language": "R", "name": "ir"}, "language_info": {"name": "R"}})
    (root / "lab.ipynb").write_text(json.dumps(foreign))
    (root / "r.ipynb").write_text(json.dumps(r_notebook))
    (root / "bare.ipynb").write_text(json.dumps(notebook({})))
    port, token = free_port(), "t" * 32
    env = {**os.environ, "JUPYTER_CONFIG_PATH": str(config), "PYTHONPATH": str(SERVER_DIR), "JUPYTER_TOKEN": token}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", f"--ServerApp.port={port}", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.root_dir={root}", "--ServerApp.open_browser=False", "--ServerApp.allow_root=True"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        base, headers = f"http://127.0.0.1:{port}", {"Authorization": f"token {token}"}
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/api/status", headers=headers, timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the Jupyter server did not start"
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)

        def served(name: str) -> dict:
            return requests.get(f"{base}/api/contents/{name}", headers=headers, timeout=10).json()["content"]["metadata"]

        want = expected_metadata()
        assert served("lab.ipynb") == want
        assert served("bare.ipynb") == want  # no kernel named: the server's default Python kernel
        assert served("r.ipynb") == r_notebook["metadata"]  # another language's kernel: as written
        # nothing on disk changed: the metadata is written when the student saves
        assert json.loads((root / "lab.ipynb").read_text()) == foreign
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Specs:
    default_kernel_name = "python3"

    def __init__(self, argv0: str, language: str = "python"):
        self.argv0, self.language = argv0, language

    def get_kernel_spec(self, name):
        if name not in ("python3", "other"):
            raise KeyError(name)
        return type("Spec", (), {"language": self.language, "argv": [self.argv0, "-m", "ipykernel_launcher"], "display_name": "Python 3 (ipykernel)"})()


@pytest.mark.parametrize("argv0", ["python", sys.executable, f"python{sys.version_info[0]}.{sys.version_info[1]}"])
def test_a_kernel_on_this_interpreter_is_known(argv0):
    meta = ext.kernel_metadata(Specs(argv0), "python3")
    assert meta["language_info"]["version"] == sys.version.split()[0]
    assert meta["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def test_kernels_this_server_cannot_speak_for_are_left_alone(tmp_path):
    other_python = tmp_path / "python"  # another environment's interpreter: its version is unknown here
    other_python.write_text("")
    assert ext.kernel_metadata(Specs(str(other_python)), "python3") is None
    assert ext.kernel_metadata(Specs("python", language="R"), "python3") is None
    assert ext.kernel_metadata(Specs("python"), "missing-kernel") is None
    nb = notebook({"kernelspec": {"name": "missing-kernel", "language": "python"}})
    ext.apply(nb, lambda name: ext.kernel_metadata(Specs("python"), name), "python3")
    assert nb["metadata"] == {"kernelspec": {"name": "missing-kernel", "language": "python"}}


def test_the_images_postbuild_installs_and_enables_the_extension(tmp_path, example_manifest):
    """Run the generated postBuild for real (as repo2docker would, in the context folder) into a new environment."""
    from coursehub.images.contexts import context_files
    from coursehub.images.plan import plan_images

    build = plan_images(example_manifest).builds[0]
    context = tmp_path / "context"
    context.mkdir()
    for name, text in context_files(build).items():
        (context / name).write_text(text)
    (context / "postBuild").chmod(0o755)
    env_dir = tmp_path / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True)
    # the new environment sees this one's packages (jupyter_server) through a .pth file, as a layer
    import sysconfig

    purelib = subprocess.run([str(env_dir / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    env = {**os.environ, "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}", "NB_PYTHON_PREFIX": str(env_dir)}
    env.pop("PYTHONPATH", None)
    subprocess.run(["./postBuild"], cwd=context, env=env, check=True)
    python = str(env_dir / "bin" / "python")
    # the module is importable in that environment, and enabled in its configuration
    check = subprocess.run([python, "-c", "import coursehub_kernel_metadata, sys; print(coursehub_kernel_metadata.__file__)"],
                           env=env, capture_output=True, text=True, check=True)
    assert check.stdout.strip().startswith(str(env_dir))
    enabled = json.loads((env_dir / "etc" / "jupyter" / server.CONFIG_FILE).read_text())
    assert enabled == {"ServerApp": {"jpserver_extensions": {"coursehub_kernel_metadata": True}}}
    listed = subprocess.run([python, "-m", "jupyter_server", "extension", "list"], env={**env, "JUPYTER_CONFIG_PATH": ""},
                            capture_output=True, text=True)
    assert "coursehub_kernel_metadata" in listed.stdout + listed.stderr
