"""mkdocs-gen-files script: add coursehub's generated pages to the guide site at build time.

Thin by design: the pages come from :mod:`coursehub.sitegen`, which the ``site`` build family uses too.
"""

from pathlib import Path

import mkdocs_gen_files

from coursehub.loader import load_manifest
from coursehub.sitegen import CATALOGUE_DIR, catalogue_nav, docs_files

config = mkdocs_gen_files.config
manifest_path = Path(config["config_file_path"]).parent / config["extra"]["coursehub_manifest"]
manifest, _warnings = load_manifest(manifest_path, strict=True)

for path, content in docs_files(manifest).items():
    with mkdocs_gen_files.open(path, "wb") as fh:
        fh.write(content)

# The nav is built after this script runs, so the catalogue section can list the manifest's courses.
catalogue_index = f"{CATALOGUE_DIR}/index.md"
for i, entry in enumerate(config["nav"]):
    if isinstance(entry, dict) and list(entry.values()) == [catalogue_index]:
        config["nav"][i] = {next(iter(entry)): catalogue_nav(manifest, CATALOGUE_DIR)}
