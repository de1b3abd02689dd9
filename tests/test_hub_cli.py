"""``coursehub hub up`` refuses bad input before starting anything (exit 2, a message, no traceback)."""

from __future__ import annotations

import socket


def test_port_in_use_is_refused(run_cli, example_manifest_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        code, out, err = run_cli("hub", "up", example_manifest_path, "--port", port)
    assert code == 2 and out == ""
    assert f"port {port}" in err and "--port" in err and "Traceback" not in err


def test_bad_today_is_refused(run_cli, example_manifest_path):
    code, out, err = run_cli("hub", "up", example_manifest_path, "--today", "next tuesday")
    assert code == 2 and "YYYY-MM-DD" in err and "Traceback" not in err


def test_bad_manifest_is_refused(run_cli, tmp_path):
    bad = tmp_path / "manifest.yaml"
    bad.write_text("hub: {name: x}\n")
    code, out, err = run_cli("hub", "up", bad)
    assert code == 2 and "hub.url" in err and "Traceback" not in err
