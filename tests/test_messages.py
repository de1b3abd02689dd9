"""Messages IT meets on the command line say what is wrong and how to fix it (issue 17)."""

from __future__ import annotations

import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).parent.parent / "course-templates" / "example-university" / "manifest.yaml"
SYNC = Path(__file__).parent / "fixtures" / "sync" / "manifest.yaml"


@pytest.mark.parametrize(
    "value, says",
    [
        ("2026-13-01", "month 13 is not 1 to 12"),
        ("2026-02-30", "day 30 is not 1 to 28 in February 2026"),
        ("2028-02-30", "day 30 is not 1 to 29 in February 2028"),
        ("2026-04-31", "day 31 is not 1 to 30 in April 2026"),
        ("next tuesday", "write it as YYYY-MM-DD"),
    ],
)
def test_an_out_of_range_date_names_the_part_that_is_wrong(run_cli, monkeypatch, value, says):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "unused")
    code, _, err = run_cli("sync", SYNC, "--hub-api", "http://127.0.0.1:9/hub/api", "--today", value)
    assert code == 2 and says in err, err


def test_a_size_without_a_unit_says_so(run_cli, tmp_path):
    code, _, err = run_cli("grade", EXAMPLE, "data-c8-fa26", "lab01", tmp_path, "--memory", "2")
    assert code == 2 and "2 is 2 bytes: a size without a unit is bytes" in err and "2G" in err
    import shutil

    shutil.copytree(EXAMPLE.parent, tmp_path / "uni")
    manifest = tmp_path / "uni" / "manifest.yaml"
    text = manifest.read_text().replace("resources: {memory: {guarantee: 1G, limit: 2G}}", "resources: {memory: {guarantee: 1024, limit: 2048}}")
    manifest.write_text(text)
    code, _, err = run_cli("validate", manifest)
    flat = " ".join(err.split())
    assert "warning: courses[0].resources.memory.limit: memory 2048 is 2048 bytes: a size without a unit is bytes" in flat
    assert "valid, with" in flat


@pytest.fixture
def not_a_hub(tmp_path):
    """An HTTP server on 127.0.0.1 that answers 404 to everything (a hub's URL without /hub/api is like it)."""
    handler = lambda *a, **k: SimpleHTTPRequestHandler(*a, directory=str(tmp_path), **k)  # noqa: E731
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_hub_api_that_answers_404_hints_at_hub_api(run_cli, monkeypatch, not_a_hub):
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "secret-token-value")
    code, _, err = run_cli("sync", SYNC, "--hub-api", not_a_hub)
    flat = " ".join(err.split())
    assert code == 2 and "404" in flat and "followed by /hub/api" in flat, flat
    assert "secret-token-value" not in err
