"""LMS sign-in without a hub: the manifest's `lms` sections, rosters from a Canvas export, the generated
hub configuration (as traitlets and the z2jh chart see it), the tool registration, the launch hook's
decisions, and sync keeping the users launches added."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from traitlets.config import PyFileConfigLoader

from coursehub import emit
from coursehub.build import render
from coursehub.errors import ManifestError
from coursehub.hub import z2jh
from coursehub.hub.data import course_data
from coursehub.hub.runtime import spawn
from coursehub.lms.keys import load_public_key, public_jwk
from coursehub.lms.tool import canvas_developer_key
from coursehub.manifest import Lti11
from coursehub.manifest.loader import load_manifest, manifest_from_text
from coursehub.sync.plan import HubState, LiveGroup, make_plan

FIXTURES = Path(__file__).parent / "fixtures" / "lms"
C8 = "data-c8-fa26"


# --- rosters from a Canvas gradebook export ------------------------------------------------------------


def test_a_canvas_gradebook_export_becomes_the_roster():
    manifest, warnings = load_manifest(FIXTURES / "manifest.yaml")
    # Points Possible and the Test Student are skipped; login ids normalised like any roster
    assert manifest.courses[0].roster == ["zoe.silva34", "chen.costa16", "ada.okafor", "bao.nguyen"]
    assert warnings == []


def test_a_canvas_export_can_name_another_column_and_a_missing_login_is_located(tmp_path):
    export = (FIXTURES / "canvas-gradebook.csv").read_text(encoding="utf-8-sig")
    (tmp_path / "export.csv").write_text(export.replace("S1000016,chen.costa16", "S1000016,"), encoding="utf-8")
    text = (FIXTURES / "manifest.yaml").read_text().replace("canvas-gradebook.csv", "export.csv")
    with pytest.raises(ManifestError) as exc:
        manifest_from_text(text, base=tmp_path)
    [problem] = exc.value.problems
    assert problem.file.endswith("export.csv") and problem.line == 4 and "empty" in problem.message
    by_sis = manifest_from_text(text.replace("format: canvas", "format: canvas, column: SIS User ID"), base=tmp_path)
    assert by_sis.courses[0].roster == ["s1000034", "s1000016", "s1000101", "s1000102"]


# --- the manifest's lms sections ------------------------------------------------------------------------

BASE = """
hub:
  name: uni
  url: https://hub.example.edu
  image: data8
  lms: {lms}
images: {{data8: {{standard: data8}}}}
courses:
  - {{id: a, title: A, term: {{start: 2026-08-26, end: 2026-12-18}}, lms: {a}}}
  - {{id: b, title: B, term: {{start: 2026-08-26, end: 2026-12-18}}, lms: {b}}}
"""
LTI13 = "{lti13: {issuer: 'https://lms.example.edu', client_id: '42', auth_url: 'https://lms.example.edu/auth', jwks_url: 'https://lms.example.edu/jwks'}}"


@pytest.mark.parametrize(
    "lms, a, b, path, words",
    [
        (LTI13 + " ", "{context_id: x}", "{context_id: x}", "courses[1].lms.context_id", "also a's"),
        (LTI13, "{context_label: 'DATA *'}", "{context_label: 'DATA *'}", "courses[1].lms.context_label", "also a's"),
        (LTI13, "{lineitems: 'https://lms/x'}", "null", "courses[0].lms", "context_id or context_label"),
        ("null", "{context_id: x}", "null", "courses[0].lms", "no `lms` section"),
        ("{lti11: {consumer_key: k}}", "null", "null", "hub.lms.lti11", "exactly one of secret_env or secret_file"),
        ("{lti11: {consumer_key: k, secret_env: S}, " + LTI13[1:], "null", "null", "hub.lms", "exactly one of lti13 or lti11"),
        (LTI13.replace("'https://lms.example.edu/jwks'", "'lms.example.edu/jwks'"), "null", "null", "hub.lms.lti13.jwks_url", "not an http(s) URL"),
    ],
)
def test_lms_mistakes_are_located(tmp_path, lms, a, b, path, words):
    with pytest.raises(ManifestError) as exc:
        manifest_from_text(BASE.format(lms=lms, a=a, b=b), base=tmp_path)
    assert any(p.path == path and words in p.message and p.line for p in exc.value.problems), [p.format() for p in exc.value.problems]


# --- the generated configuration --------------------------------------------------------------------


def test_course_data_names_the_lms_courses_and_keeps_secrets_out(example_manifest):
    lms = course_data(example_manifest)["lms"]
    assert lms["authenticator"]["class"] == "ltiauthenticator.lti13.auth.LTI13Authenticator"
    assert lms["contexts"] == {
        example_manifest.course(C8).lms.context_id: C8,
        example_manifest.course("stat-20-fa26").lms.context_id: "stat-20-fa26",
    }
    assert lms["labels"] == [["DATA C88 *", "data-c88-fa26"]]
    assert lms["courses"]["data-c88-fa26"]["join"]["tas"] == ["coursehub-data-c88-fa26-tas", "formgrade-data-c88-fa26"]
    assert "climate-hackweek-26" not in lms["courses"]  # taught outside the LMS


def test_single_machine_snippet_signs_in_with_ltiauthenticator(tmp_path, example_manifest, monkeypatch):
    root = tmp_path / "single-machine"
    for rel, content in render(example_manifest, only=["hub"]).files.items():
        if rel.startswith("hub/single-machine/"):
            target = root / Path(rel).relative_to("hub/single-machine")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    c = PyFileConfigLoader("coursehub.py", path=str(root / "jupyterhub_config.d")).load_config()
    assert c.JupyterHub.authenticator_class == "ltiauthenticator.lti13.auth.LTI13Authenticator"
    lti = example_manifest.hub.lms.lti13
    assert c.LTI13Authenticator.issuer == lti.issuer and c.LTI13Authenticator.client_id == [lti.client_id]
    assert c.LTI13Authenticator.authorize_url == lti.auth_url and c.LTI13Authenticator.jwks_endpoint == lti.jwks_url
    assert c.Authenticator.allow_all is True and callable(c.Authenticator.post_auth_hook)
    # the launch is a cross-site POST from the LMS: the state cookies must be SameSite=None; Secure
    assert c.JupyterHub.tornado_settings["cookie_options"] == {"SameSite": "None", "Secure": True}
    # the traits exist on the real authenticator (a misspelt one would be ignored by traitlets)
    from ltiauthenticator.lti13.auth import LTI13Authenticator

    assert set(c.LTI13Authenticator) <= set(LTI13Authenticator.class_trait_names())


def _merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base.get(k), v) if k in base else v
        return out
    return over


def test_z2jh_values_with_lti11_pass_the_chart_schema_over_its_defaults(example_manifest, repo_root, monkeypatch):
    manifest = copy.deepcopy(example_manifest)
    manifest.hub.lms.lti13 = None
    manifest.hub.lms.lti11 = Lti11(consumer_key="uni", secret_env="COURSEHUB_LTI11_SECRET")
    values = emit.load_yaml_text(emit.to_yaml(z2jh.values(course_data(manifest))).decode())
    data = Path(repo_root).parent / "shared" / "data"
    schema = json.loads((data / "z2jh-values.schema.json").read_text())
    defaults = emit.load_yaml_text((data / "z2jh-values.defaults.yaml").read_text())
    jsonschema.validate(_merge(defaults, values), schema)
    assert values["hub"]["config"]["JupyterHub"]["authenticator_class"] == "ltiauthenticator.lti11.auth.LTI11Authenticator"
    assert values["hub"]["extraEnv"] == {
        "COURSEHUB_LTI11_SECRET": {"valueFrom": {"secretKeyRef": {"name": "coursehub-lti", "key": "COURSEHUB_LTI11_SECRET"}}}
    }
    # the secret itself comes from the environment when the hub starts, never from the values
    monkeypatch.setenv("COURSEHUB_LTI11_SECRET", "from-the-secret")
    from traitlets.config import Config

    c = Config()
    spawn.configure(c, values["custom"]["coursehub"])
    assert c.LTI11Authenticator.consumers == {"uni": "from-the-secret"}
    assert "from-the-secret" not in json.dumps(values)


def test_canvas_developer_key_carries_the_tools_public_key(example_manifest, example_manifest_path):
    config = canvas_developer_key(example_manifest)
    key = load_public_key(example_manifest_path.parent / example_manifest.hub.lms.lti13.tool_public_key)
    assert config["public_jwk"] == public_jwk(key) and config["public_jwk"]["kid"]
    assert config["oidc_initiation_url"] == "https://hub.example.edu/hub/lti13/oauth_login"
    assert config["custom_fields"] == {"login_id": "$Canvas.user.loginId"}  # -> custom_login_id
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]


def test_link_pages_give_each_assignment_its_lti_launch_url(example_manifest):
    files = render(example_manifest, only=["links"]).files
    rows = files["links/data-c8-fa26/links.csv"].decode().splitlines()
    assert rows[0].endswith(",url,lti_url")
    # the launch goes on to the course's own server, like the plain link
    assert "/hub/lti/launch?next=%2Fhub%2Fuser-redirect%2Fdata-c8-fa26%2Fgit-pull%3F" in rows[1]
    assert "lti_url" not in files["links/climate-hackweek-26/links.csv"].decode()  # not in the LMS


# --- the launch hook's decisions ---------------------------------------------------------------------


@pytest.fixture
def hook(example_manifest):
    data = course_data(example_manifest)
    return spawn.LtiLaunches(data["lms"], spawn.CourseIndex(data))


def _claims(login="Ann.Lee", context="4dde05e8ca1973bcca9bffc13e1548820eee93a3", label="DATA C8", roles=("Learner",), nonce="n-1"):
    claim = spawn.LTI13_CLAIM
    return {"nonce": nonce, "exp": 4102444800, claim + "custom": {"login_id": login},
            claim + "context": {"id": context, "label": label}, claim + "roles": list(roles)}


def _call(hook, state, handler_cls=None, joined=None):
    from ltiauthenticator.lti13.auth import LTI13Authenticator
    from ltiauthenticator.lti13.handlers import LTI13CallbackHandler

    handler = object.__new__(handler_cls or LTI13CallbackHandler)
    hook.join = lambda handler, name, course, role, lms_user: joined.append((name, course, role)) if joined is not None else None
    authenticator = LTI13Authenticator()
    authenticator.log = logging.getLogger("test")
    return hook.post_auth_hook(authenticator, handler, {"name": "ignored", "auth_state": state})


def test_hook_joins_by_context_and_role_with_the_sub_role_winning(hook, monkeypatch):
    monkeypatch.setenv(spawn.TODAY_ENV, "2026-09-15")
    joined = []
    assert _call(hook, _claims(), joined=joined)["name"] == "ann.lee"
    lis = "http://purl.imsglobal.org/vocab/lis/v2/membership"
    _call(hook, _claims(login="t", nonce="n-2", roles=(f"{lis}#Instructor", f"{lis}/Instructor#TeachingAssistant")), joined=joined)
    _call(hook, _claims(login="l", nonce="n-3", context="other", label="DATA C88 004"), joined=joined)
    _call(hook, _claims(login="m", nonce="n-4", roles=(f"{lis}#Mentor",)), joined=joined)  # no course role
    assert joined == [("ann.lee", C8, "students"), ("t", C8, "tas"), ("l", "data-c88-fa26", "students")]


def test_hook_refuses_what_is_not_a_fresh_launch(hook, monkeypatch):
    from jupyterhub.handlers.login import LoginHandler

    monkeypatch.setenv(spawn.TODAY_ENV, "2026-09-15")
    joined = []
    assert _call(hook, _claims(), handler_cls=LoginHandler, joined=joined) is None  # POST /hub/login
    assert _call(hook, _claims(), joined=joined) is not None
    assert _call(hook, _claims(), joined=joined) is None  # the same nonce again
    assert _call(hook, _claims(login="", nonce="n-5"), joined=joined) is None  # no login id: no fallback to sub
    assert _call(hook, _claims(login="a/b", nonce="n-6"), joined=joined) is None  # not a hub username
    monkeypatch.setenv(spawn.TODAY_ENV, "2026-12-19")  # the term is over: signed in, joins nothing
    assert _call(hook, _claims(login="late", nonce="n-7"), joined=joined)["name"] == "late"
    assert joined == [("ann.lee", C8, "students")]


# --- sync and launches ------------------------------------------------------------------------------


def test_sync_keeps_launched_users_until_the_term_ends(example_manifest):
    from coursehub.sync.plan import desired_groups

    group = f"coursehub-{C8}-students"
    during = desired_groups(example_manifest, today=dt.date(2026, 9, 15))
    live = {name: LiveGroup(name, set(g.members), {}) for name, g in during.items()}
    live[group].users.add("launched.one")
    live[f"lti-{C8}-students"] = LiveGroup(f"lti-{C8}-students", {"launched.one", "launched.two"}, {})
    users = set().union(*(g.users for g in live.values()))
    plan = make_plan(example_manifest, HubState(live, users=users), during, today=dt.date(2026, 9, 15))
    assert group not in plan.remove_members  # a launch is not undone by the next sync
    assert plan.add_members.get(group) == ["launched.two"]  # and a launch the hub missed is completed
    assert f"lti-{C8}-students" not in plan.remove_members and f"lti-{C8}-students" not in plan.add_members
    ended = desired_groups(example_manifest, today=dt.date(2026, 12, 19))
    after = make_plan(example_manifest, HubState(live, users=users), ended, today=dt.date(2026, 12, 19))
    assert "launched.one" in after.remove_members[group]
