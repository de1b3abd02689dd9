"""The JavaScript the guide site ships, from pinned npm packages: nothing is loaded from a CDN by a reader.

``python guides_gen/vendor.py`` (run by ``scripts/bootstrap`` for the ``docs`` and ``test`` extras) fetches
each package below with ``npm pack``, refuses a tarball whose sha512 is not the pinned one, and extracts
only the files the site ships into ``<venv>/share/coursehub-guides-vendor/``. The mkdocs hook
(``guides_gen/hooks.py``) adds them to the built site. Idempotent: a file already there is not fetched again.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: Where the extracted files live: inside the environment that builds the site, never in the repository.
VENDOR_DIR = Path(sys.prefix) / "share" / "coursehub-guides-vendor"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    integrity: str  # the registry's dist.integrity (sha512), pinned so a changed tarball is refused
    files: dict[str, str]  # path in the package -> path under assets/vendor/ in the site
    license: str
    shipped: bool = True  # False: used by the tests only, never part of the site


PACKAGES = (
    # Material for MkDocs renders ```mermaid blocks with the global `mermaid` when a page defines it, and
    # fetches mermaid@11 from a CDN only when it does not; the hook defines it from this copy.
    Package(
        "mermaid",
        "11.17.2",
        "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg==",
        {"dist/mermaid.min.js": "mermaid.min.js", "LICENSE": "mermaid.LICENSE.txt"},
        "MIT",
    ),
    # The link generator page's QR codes (the MIT licence is in the file's header).
    Package(
        "qrcode-generator",
        "2.0.4",
        "sha512-mZSiP6RnbHl4xL2Ap5HfkjLnmxfKcPWpWe/c+5XxCuetEenqmNFf1FH/ftXPCtFG5/TDobjsjz6sSNL0Sr8Z9g==",
        {"dist/qrcode.js": "qrcode.js"},
        "MIT",
    ),
    # Test only: the browser tests decode the page's QR codes with an independent decoder.
    Package(
        "jsqr",
        "1.4.0",
        "sha512-dxLob7q65Xg2DvstYkRpkYtmKm2sPJ9oFhrhmudT1dZvNFFTlroai3AWSpLey/w5vMcLBXRgOJsbXpdN9HzU/A==",
        {"dist/jsQR.js": "jsQR.js", "LICENSE": "jsQR.LICENSE.txt"},
        "Apache-2.0",
        shipped=False,
    ),
)


def vendored_files() -> dict[str, Path]:
    """Site path (``assets/vendor/...``) -> extracted file, for every file the site ships."""
    return {f"assets/vendor/{t}": VENDOR_DIR / t for p in PACKAGES if p.shipped for t in p.files.values()}


def vendored(name: str) -> Path:
    """The extracted file ``name`` (as listed in PACKAGES), shipped or not."""
    return VENDOR_DIR / name


def missing() -> list[str]:
    expected = [t for p in PACKAGES for t in p.files.values()]
    return [f"assets/vendor/{t}" for t in expected if not vendored(t).is_file()]


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def fetch(package: Package) -> None:
    """Fetch one package with npm, check it against the pin, extract its shipped files."""
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("coursehub: npm is needed to fetch the guide site's JavaScript (apt-get install npm)")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [npm, "pack", f"{package.name}@{package.version}", "--pack-destination", tmp, "--silent"],
            check=True, cwd=tmp, stdout=subprocess.DEVNULL,
        )
        tarball = next(Path(tmp).glob("*.tgz"))
        data = tarball.read_bytes()
    if _integrity(data) != package.integrity:
        raise SystemExit(f"coursehub: {package.name}@{package.version} does not match its pinned sha512; refusing it")
    VENDOR_DIR.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for inner, target in package.files.items():
            member = tar.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"coursehub: {package.name}@{package.version} has no {inner}")
            tmp_target = VENDOR_DIR / f".{target}.tmp"
            tmp_target.write_bytes(member.read())
            tmp_target.replace(VENDOR_DIR / target)


def main() -> None:
    for package in PACKAGES:
        if all((VENDOR_DIR / t).is_file() for t in package.files.values()):
            continue
        print(f"coursehub: fetching {package.name}@{package.version} for the guide site", file=sys.stderr)
        fetch(package)


if __name__ == "__main__":
    main()
