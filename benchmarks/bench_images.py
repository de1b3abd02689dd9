"""How long image planning and context generation take for a large university: prints figures, asserts nothing.

    .venv/bin/python benchmarks/bench_images.py [--courses 300] [--image-keys 60]

Builds a synthetic manifest: most courses on the standard data8 image, the rest spread over image
keys that add pinned packages (some keys identical, so they share an image), an R image, then times
loading, planning (effective sets, sharing, conflict checks) and rendering the ``images`` family.
The example university's figures are printed too. With ``--check-env DIR`` it also times making the
full Data 8 check environment into DIR (a fresh pip install; minutes).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from coursehub import build as buildmod
from coursehub import emit
from coursehub.images.plan import plan_images
from coursehub.manifest.loader import load_manifest

EXAMPLE = Path(__file__).resolve().parents[1] / "course-templates" / "example-university" / "manifest.yaml"
ADDITIONS = ["xarray==2026.9.0", "pooch==1.9.0", "seaborn==0.13.1", "numpy==2.3.5", "six==1.17.0"]


def synthetic(courses: int, keys: int) -> dict:
    images = {"data8": {"standard": "data8"}, "r-stats": {"standard": "r"}}
    for k in range(keys):
        # every fourth key repeats an earlier package set: those share one image
        picks = ADDITIONS[: 1 + (k % 4) % len(ADDITIONS)]
        images[f"img-{k:03d}"] = {"standard": "data8", "packages": picks, "apt": ["git"] if k % 7 == 0 else []}
    out = []
    for i in range(courses):
        image = "data8" if i % 3 else f"img-{i % keys:03d}"
        if i % 17 == 0:
            image = "r-stats"
        out.append(
            {"id": f"course-{i:04d}", "title": f"Course {i}", "term": {"start": "2026-08-26", "end": "2026-12-18"},
             "image": image, "students": [f"s{i}-{j}" for j in range(3)]}
        )
    return {"hub": {"name": "big-u", "url": "https://hub.big.example", "image": "data8"}, "images": images, "courses": out}


def timed(label: str, fn):
    started = time.perf_counter()
    value = fn()
    print(f"{label:<48} {time.perf_counter() - started:8.3f} s")
    return value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--courses", type=int, default=300)
    ap.add_argument("--image-keys", type=int, default=60)
    ap.add_argument("--check-env", type=Path, default=None)
    args = ap.parse_args()

    example, _ = timed("example: load", lambda: load_manifest(EXAMPLE))
    plan = timed("example: plan images", lambda: plan_images(example))
    ctx = timed("example: render images family", lambda: buildmod.render(example, only=["images"]))
    print(f"example: {len(plan.builds)} images, {len(ctx.files)} files, {sum(map(len, ctx.files.values()))} bytes")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "manifest.yaml"
        path.write_bytes(emit.to_yaml(synthetic(args.courses, args.image_keys)))
        big, _ = timed(f"synthetic ({args.courses} courses): load", lambda: load_manifest(path))
        plan = timed("synthetic: plan images", lambda: plan_images(big))
        ctx = timed("synthetic: render images family", lambda: buildmod.render(big, only=["images"]))
        print(f"synthetic: {len(big.images)} image keys -> {len(plan.builds)} images, {len(ctx.files)} files")

    if args.check_env:
        from coursehub.images.check import ensure_environment

        build = plan_images(example).for_key("data8")
        timed("make the data8 check environment (pip install)", lambda: ensure_environment(build, root=args.check_env))
        timed("reuse it (cached)", lambda: ensure_environment(build, root=args.check_env))


if __name__ == "__main__":
    main()
