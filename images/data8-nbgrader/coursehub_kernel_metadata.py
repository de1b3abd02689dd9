"""Jupyter server extension: a notebook opens with the metadata of the kernel that will run it.

When JupyterLab (or Notebook 7) opens a notebook and its kernel starts, it writes the kernel's
``kernelspec`` and ``language_info`` (the exact Python version among them) into the notebook. A notebook
recorded with another Python (3.11.4 on the instructor's laptop; the image has 3.11.14) or another
kernel display name therefore opens already marked modified, and the student is asked about unsaved
changes they never made. Nobody can write the image's exact Python version into the course's notebooks
beforehand: the patch version is chosen when the image is built.

This extension gives every notebook the server sends to the browser the metadata its kernel will
report, so nothing changes when the kernel starts. Only notebooks for a Python kernel that runs on
this server's own interpreter are touched (by kernelspec name; a notebook naming no kernel gets the
default one); an R notebook, or a kernel in another environment, is left as it is. The file on disk
is not changed: the metadata is written when the student saves, as JupyterLab would have.

coursehub copies this file into every image context (``postBuild`` installs it and enables it in
``jupyter_server_config.d``); the local hub puts its folder on the servers' ``PYTHONPATH``.
"""

from __future__ import annotations

import inspect
import os
import sys


def _jupyter_server_extension_points():
    return [{"module": __name__}]


def _load_jupyter_server_extension(serverapp) -> None:
    specs = serverapp.kernel_spec_manager
    known: dict[str, dict | None] = {}

    def metadata_for(name: str) -> dict | None:
        if name not in known:
            known[name] = kernel_metadata(specs, name)
        return known[name]

    def adjusted(model):
        if isinstance(model, dict) and model.get("type") == "notebook" and isinstance(model.get("content"), dict):
            apply(model["content"], metadata_for, getattr(specs, "default_kernel_name", "python3"))
        return model

    # The class of the contents manager is wrapped, not the instance: an extension loaded later may
    # replace the instance with one of a subclass that reads files through it (jupytext does).
    cls = type(serverapp.contents_manager)
    if not cls.__dict__.get("_coursehub_kernel_metadata"):
        original = cls.get
        if inspect.iscoroutinefunction(original):

            async def get(self, *args, **kwargs):
                return adjusted(await original(self, *args, **kwargs))

        else:

            def get(self, *args, **kwargs):
                return adjusted(original(self, *args, **kwargs))

        cls.get = get
        cls._coursehub_kernel_metadata = True
    serverapp.log.info("coursehub: notebooks open with their kernel's metadata (coursehub_kernel_metadata)")


def apply(notebook: dict, metadata_for, default_kernel: str) -> None:
    """Set ``notebook``'s kernelspec and language_info to what its kernel reports, when that is known."""
    meta = notebook.setdefault("metadata", {})
    spec = meta.get("kernelspec") if isinstance(meta.get("kernelspec"), dict) else {}
    name = spec.get("name")
    if not name:
        language = spec.get("language") or (meta.get("language_info") or {}).get("name") or "python"
        if str(language).lower() != "python":
            return
        name = default_kernel
    wanted = metadata_for(name)
    if wanted is not None:
        meta["kernelspec"] = dict(wanted["kernelspec"])
        meta["language_info"] = dict(wanted["language_info"])


def kernel_metadata(specs, name: str) -> dict | None:
    """The kernelspec and language_info JupyterLab records for kernel ``name`` (None: not known here)."""
    try:
        spec = specs.get_kernel_spec(name)
    except Exception:  # noqa: BLE001 (no such kernel, or a broken kernel.json: leave the notebook alone)
        return None
    if str(spec.language).lower() != "python" or not spec.argv or not _this_interpreter(spec.argv[0]):
        return None
    try:
        from ipykernel.ipkernel import IPythonKernel
    except ImportError:
        return None
    # what ipykernel's kernel_info reply says (IPythonKernel.language_info, with this interpreter's version)
    language_info = {**IPythonKernel.language_info, "version": sys.version.split()[0]}
    return {
        "kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": name},
        "language_info": language_info,
    }


def _this_interpreter(command: str) -> bool:
    # jupyter_client starts a kernel whose command is "python" (or python3, python3.11) with the server's
    # own interpreter (KernelManager.format_kernel_cmd)
    major, minor = sys.version_info[:2]
    if command in ("python", f"python{major}", f"python{major}.{minor}"):
        return True
    return os.path.realpath(command) == os.path.realpath(sys.executable)
