"""mkdocs hooks: ship the vendored JavaScript with the site and load it only on the pages that use it.

- Every page with a Mermaid diagram gets ``assets/vendor/mermaid.min.js`` before Material's bundle, so
  Material renders the diagram with it instead of fetching Mermaid from a CDN (it does that only when no
  global ``mermaid`` exists): diagrams render offline and on networks that block CDNs.
- The link generator page (the one holding ``id="coursehub-linkgen"``) gets the QR encoder, the rules
  exported from coursehub (``rules.js``), the port of the link builder (``links.js``) and the form (``page.js``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url

sys.path.insert(0, str(Path(__file__).parent))
import vendor  # noqa: E402  (beside this file; mkdocs loads hooks by path)

MERMAID = "assets/vendor/mermaid.min.js"
LINKGEN = ["assets/vendor/qrcode.js", "assets/linkgen/rules.js", "assets/linkgen/links.js", "assets/linkgen/page.js"]


def on_files(files, config):
    absent = vendor.missing()
    if absent:
        raise PluginError(
            f"the guide site's vendored JavaScript is missing ({', '.join(absent)}); "
            "run `bash scripts/bootstrap docs` (it fetches the pinned npm packages)"
        )
    for site_path, source in vendor.vendored_files().items():
        files.append(File.generated(config, site_path, abs_src_path=str(source)))
    return files


def _scripts(page, paths: list[str]) -> str:
    return "".join(f'<script src="{get_relative_url(p, page.url)}"></script>' for p in paths)


def on_post_page(output: str, page, config) -> str:
    if 'class="mermaid"' in output:
        # before Material's bundle: it checks for the global when it first meets a diagram
        bundle = output.find("assets/javascripts/bundle.")
        at = output.rfind("<script", 0, bundle) if bundle >= 0 else output.rfind("</body>")
        output = output[:at] + _scripts(page, [MERMAID]) + output[at:]
    if 'id="coursehub-linkgen"' in output:
        at = output.rfind("</body>")
        output = output[:at] + _scripts(page, LINKGEN) + output[at:]
    return output
