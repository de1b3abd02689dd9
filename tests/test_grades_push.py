"""``coursehub grades push`` against the test LMS on loopback (token endpoint, AGS line items, scores and
results) and a real hub that recorded the students' LMS ids when they launched the course.

A dry run sends nothing; --apply creates the line item and leaves exactly one score per student; a
second run sends nothing; a changed grade sends exactly that score; a key the LMS does not know is
refused; a student who never launched from the LMS is listed, not guessed.
"""

from __future__ import annotations

import json
import shutil

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from lti_platform import ROLE, Launch, Platform, lti13_launch, new_key

from coursehub.hub.local import start_local_hub
from coursehub.lms.keys import public_jwk
from coursehub.manifest.loader import load_manifest

pytestmark = [pytest.mark.hub, pytest.mark.slow, pytest.mark.xdist_group("hub")]

C8 = "data-c8-fa26"
LAUNCHED = {"ada.okafor": "sub-ada", "bao.nguyen": "sub-bao", "zoe.silva34": "sub-zoe"}


def pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def lms(tmp_path_factory, example_manifest_path):
    """The example university copied, its lms pointed at the test platform; a hub the students launched."""
    root = tmp_path_factory.mktemp("push")
    shutil.copytree(example_manifest_path.parent, root / "uni")
    path = root / "uni" / "manifest.yaml"
    tool_key = new_key()
    with Platform() as platform:
        platform.tool_jwk = public_jwk(tool_key.public_key())  # what the admin registered
        text = path.read_text()
        for old, new in [
            ("issuer: https://canvas.instructure.com", f"issuer: {platform.issuer}"),
            ('client_id: "10000000000042"', f'client_id: "{platform.client_id}"'),
            ("auth_url: https://sso.canvaslms.com/api/lti/authorize_redirect", f"auth_url: {platform.url}/authorize"),
            ("jwks_url: https://sso.canvaslms.com/api/lti/security/jwks", f"jwks_url: {platform.url}/jwks"),
            ("token_url: https://sso.canvaslms.com/login/oauth2/token", f"token_url: {platform.url}/token"),
            ("https://example.instructure.com/api/lti/courses/4101/line_items", platform.lineitems_url("c8")),
        ]:
            assert old in text, old
            text = text.replace(old, new)
        path.write_text(text)
        manifest = load_manifest(path)[0]
        hub = start_local_hub(manifest, workdir=root / "hub", extra_env={"COURSEHUB_TODAY": "2026-09-15"}, lms=True)
        try:
            context = manifest.course(C8).lms.context_id
            for login, sub in LAUNCHED.items():
                launch = Launch(login, sub, context, "DATA C8", [ROLE["student"]], hub.url + "/hub/home")
                assert lti13_launch(requests.Session(), hub.url, platform, launch)[0].status_code == 200
            grades = root / "grades.csv"
            grades.write_text(
                "student,score,max,q1,status,reason\n"
                "ada.okafor,7.5,10,7.5,graded,\n"
                "bao.nguyen,0,10,0,missing,no submission\n"
                "chen.costa16,9,10,9,graded,\n"  # never launched from the LMS
                "zoe.silva34,10,10,10,graded,\n"
            )
            yield platform, hub, path, grades, tool_key
        finally:
            hub.stop()


def push(run_cli, monkeypatch, lms, *extra, key=None):
    platform, hub, path, grades, tool_key = lms
    monkeypatch.setenv("COURSEHUB_LTI_PRIVATE_KEY", pem(key or tool_key))
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", hub.sync_token)  # the sync service's role reads groups
    return run_cli("grades", "push", path, C8, "lab01", "--hub-api", hub.api_url, "--grades", grades, "--json", *extra)


def test_push_sends_one_score_per_student_and_nothing_on_a_second_run(run_cli, monkeypatch, lms):
    platform, _, _, grades, _ = lms
    code, stdout, stderr = push(run_cli, monkeypatch, lms)
    assert code == 0, stderr
    dry = json.loads(stdout)
    assert dry["create_lineitem"] and not platform.lineitems and not platform.score_log  # a dry run sends nothing
    assert {s["student"]: s["action"] for s in dry["scores"]} == {
        "ada.okafor": "send", "bao.nguyen": "send", "chen.costa16": "no LMS user id", "zoe.silva34": "send"}
    assert "would create the line item and send 3 score(s)" in stderr

    code, stdout, stderr = push(run_cli, monkeypatch, lms, "--apply")
    assert code == 0, stderr
    [(item_url, item)] = platform.lineitems.items()
    assert item["resourceId"] == f"{C8}/lab01" and item["scoreMaximum"] == 10 and item["label"] == "Lab 1: Tables"
    scores = platform.scores[item_url]
    assert {u: (s["scoreGiven"], s["scoreMaximum"]) for u, s in scores.items()} == {
        "sub-ada": (7.5, 10), "sub-bao": (0, 10), "sub-zoe": (10, 10)}
    assert scores["sub-bao"]["comment"] == "coursehub: missing" and len(platform.score_log) == 3

    code, stdout, _ = push(run_cli, monkeypatch, lms, "--apply")
    assert code == 0 and json.loads(stdout)["sent"] == 0
    assert len(platform.lineitems) == 1 and len(platform.score_log) == 3  # unchanged by a second run

    grades.write_text(grades.read_text().replace("ada.okafor,7.5,10,7.5", "ada.okafor,8.5,10,8.5"))
    code, stdout, _ = push(run_cli, monkeypatch, lms, "--apply")
    assert code == 0 and json.loads(stdout)["sent"] == 1
    assert platform.scores[item_url]["sub-ada"]["scoreGiven"] == 8.5 and len(platform.score_log) == 4


def test_a_key_the_lms_does_not_know_is_refused(run_cli, monkeypatch, lms):
    platform = lms[0]
    before = len(platform.score_log)
    code, _, stderr = push(run_cli, monkeypatch, lms, "--apply", key=new_key())
    assert code != 0 and "the LMS refused POST" in stderr and "/token: 401" in stderr
    assert len(platform.score_log) == before
    assert "BEGIN" not in stderr  # the key is never printed
