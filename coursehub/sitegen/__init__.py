"""The guide site's generated parts: the reference (from the code) and the course catalogue (from a manifest).

Two consumers share these functions. The ``site`` build family (:func:`generate`) writes a
university's own catalogue under ``site/`` with ``coursehub build``; the mkdocs-gen-files script in
``guides_gen/`` calls :func:`docs_files` to add the reference and the example university's catalogue
to the guide site at build time, so no generated Markdown is ever committed.
"""

from __future__ import annotations

from coursehub.build import BuildContext
from coursehub.manifest import Manifest
from coursehub.manifest.schema import schema_text
from coursehub.sitegen.access import access_reference
from coursehub.sitegen.catalogue import catalogue_files, catalogue_nav, large_catalogue
from coursehub.sitegen.commands import cli_reference
from coursehub.sitegen.fields import manifest_reference
from coursehub.sitegen.linkgen import RULES_PATH, rules_js

__all__ = [
    "access_reference",
    "catalogue_files",
    "catalogue_nav",
    "large_catalogue",
    "cli_reference",
    "docs_files",
    "generate",
    "manifest_reference",
]

#: Where the catalogue lives inside the guide site's docs folder.
CATALOGUE_DIR = "catalogue"


def docs_files(manifest: Manifest) -> dict[str, bytes]:
    """Every generated page and asset of the guide site, by path relative to the docs folder."""
    files = {
        "reference/manifest.md": manifest_reference().encode("utf-8"),
        "reference/cli.md": cli_reference().encode("utf-8"),
        "reference/access.md": access_reference(manifest).encode("utf-8"),
        "reference/manifest.schema.json": schema_text().encode("utf-8"),
        RULES_PATH: rules_js(),
    }
    for rel, content in catalogue_files(manifest).items():
        files[f"{CATALOGUE_DIR}/{rel}"] = content
    return files


def inputs(manifest: Manifest) -> bytes:
    """The catalogue shows the links family's pages, so it reads what they read."""
    from coursehub.links.pages import inputs as links_inputs

    return links_inputs(manifest)


def generate(ctx: BuildContext) -> None:
    """Build family ``site``: the manifest's course catalogue pages, QR codes and charts under ``site/``."""
    # Reuse the links and cost files this build already rendered rather than generating them twice.
    for rel, content in catalogue_files(ctx.manifest, ctx.files, need=ctx.need).items():
        ctx.add(f"site/{rel}", content)
