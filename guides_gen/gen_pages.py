"""mkdocs-gen-files script: add coursehub's generated pages to the guide site at build time.

Thin by design: the pages come from :mod:`coursehub.sitegen`, which the ``site`` build family uses too.
"""

from pathlib import Path

import mkdocs_gen_files
from mkdocs.exceptions import PluginError

from coursehub.errors import CoursehubError
from coursehub.manifest.loader import load_manifest
from coursehub.sitegen import CATALOGUE_DIR, catalogue_nav, docs_files, large_catalogue

config = mkdocs_gen_files.config
manifest_path = Path(config["config_file_path"]).parent / config["extra"]["coursehub_manifest"]
try:
    manifest, _warnings = load_manifest(manifest_path, strict=True)
    files = docs_files(manifest)
except CoursehubError as exc:
    # A bad manifest is the reader's input, not a bug: say what and where, without a traceback.
    raise PluginError(f"coursehub could not build the catalogue from {manifest_path}:\n{exc.format()}") from None

for path, content in files.items():
    with mkdocs_gen_files.open(path, "wb") as fh:
        fh.write(content)

# The nav is built after this script runs, so the catalogue section can list the manifest's courses.
catalogue_index = f"{CATALOGUE_DIR}/index.md"
for i, entry in enumerate(config["nav"]):
    if isinstance(entry, dict) and list(entry.values()) == [catalogue_index]:
        config["nav"][i] = {next(iter(entry)): catalogue_nav(manifest, CATALOGUE_DIR)}
# A grouped catalogue: each page renders only its own group of the navigation, not every course.
if large_catalogue(manifest) and "navigation.prune" not in config["theme"]["features"]:
    config["theme"]["features"].append("navigation.prune")
