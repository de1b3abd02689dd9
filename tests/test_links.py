"""The link builder and parser: layout, refusals, corrections, round trip, CLI, and the links build family."""

from __future__ import annotations

import csv
import io
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coursehub.errors import CoursehubError
from coursehub.links.url import (
    build_link,
    check_server,
    clone_folder,
    describe_urlpath,
    link_url,
    parse_link,
)

HUB = "https://hub.example.edu"
REPO = "https://github.com/example-org/data-c8-materials"


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- layout ----------------------------------------------------------------------------------------


def test_hub_link_has_nbgitpullers_layout_and_encoding():
    link = build_link(hub=HUB, repo=REPO, branch="main", path="lab/lab01/lab01.ipynb")
    # the same string nbgitpuller's generator (URLSearchParams) gives for these inputs
    assert link.url == (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Fexample-org%2F"
        "data-c8-materials&urlpath=lab%2Ftree%2Fdata-c8-materials%2Flab%2Flab01%2Flab01.ipynb&branch=main"
    )
    assert link.warnings == []


@pytest.mark.parametrize(
    ("interface", "path", "urlpath"),
    [
        ("lab", "a/b.ipynb", "lab/tree/repo/a/b.ipynb"),
        ("notebook", "a/b.ipynb", "tree/repo/a/b.ipynb"),
        ("rstudio", "labs/lab01.Rmd", "rstudio/"),
        ("shiny", "apps/hist/", "shiny/repo/apps/hist/"),
        ("vscode", None, "vscode/?folder=%2Fhome%2Fjovyan%2Frepo"),
        ("lab", None, "lab/tree/repo"),
    ],
)
def test_interfaces_open_inside_the_cloned_folder(interface, path, urlpath):
    link = build_link(hub=HUB, repo="https://github.com/org/repo", path=path, interface=interface)
    assert link.fields.urlpath == urlpath
    assert query(link.url)["urlpath"] == [urlpath]


def test_custom_urlpath_is_used_verbatim_and_checked_against_the_folder():
    link = build_link(hub=HUB, repo="https://github.com/org/repo", urlpath="/voila/render/repo/app.ipynb")
    assert link.fields.urlpath == "voila/render/repo/app.ipynb"
    assert link.warnings == []
    other = build_link(hub=HUB, repo="https://github.com/org/repo", urlpath="lab/tree/elsewhere")
    assert any("does not mention the folder 'repo'" in w for w in other.warnings)
    with pytest.raises(CoursehubError, match="either an interface or a custom urlpath"):
        build_link(hub=HUB, repo=REPO, urlpath="lab", interface="lab")


@pytest.mark.parametrize(
    ("repo", "targetpath", "folder"),
    [
        ("https://example.edu/git/course.git", None, "course.git"),  # nbgitpuller keeps .git
        ("https://example.edu/git/course/", None, "course"),  # and strips trailing slashes
        ("https://example.edu/git/course", "fa26/course", "fa26/course"),
        ("git@github.com:org/course.git", None, "course.git"),
    ],
)
def test_folder_is_the_one_nbgitpuller_clones_into(repo, targetpath, folder):
    link = build_link(hub=HUB, repo=repo, targetpath=targetpath, path="x.ipynb")
    assert link.folder == folder
    assert link.fields.urlpath == f"lab/tree/{folder}/x.ipynb"
    # nbgitpuller's UIHandler computes the folder from the link's repo the same way
    sent = query(link.url)
    assert clone_folder(sent["repo"][0].rstrip("/"), sent.get("targetpath", [None])[0]) == folder


def test_trailing_slash_is_removed_so_the_api_and_the_page_agree():
    # nbgitpuller's git-pull/api (without targetpath) uses repo.split('/')[-1]: '' for a trailing slash
    link = build_link(hub=HUB, repo="https://github.com/org/repo/", path="a.ipynb")
    assert link.fields.repo == "https://github.com/org/repo"


@pytest.mark.parametrize("launch", ["lti", "canvas"])
def test_hub_under_a_path_prefix_and_lti(launch):
    link = build_link(hub="https://uni.example.edu/jupyter", repo=REPO, path="a.ipynb", launch=launch)
    assert link.fields.launch == "lti"  # canvas is the older name of the same launch
    parts = urlsplit(link.url)
    assert parts.path == "/jupyter/hub/lti/launch"
    nxt = parse_qs(parts.query)["next"][0]
    assert nxt.startswith("/jupyter/hub/user-redirect/git-pull?")
    assert parse_qs(urlsplit(nxt).query)["urlpath"] == ["lab/tree/data-c8-materials/a.ipynb"]


def test_named_server_link():
    link = build_link(hub=HUB, repo=REPO, path="a.ipynb", server="gpu-1")
    assert urlsplit(link.url).path == "/hub/user-redirect/gpu-1/git-pull"


@pytest.mark.parametrize("name", ["gpu-1", "a", "x" * 30])
def test_server_names_jupyterhub_accepts(name):
    from jupyterhub.slugs import is_valid_safe_slug

    assert is_valid_safe_slug(name)
    assert check_server(name) == name


@pytest.mark.parametrize("name", ["GPU", "1gpu", "gpu-", "gpu--1", "gpu_1", "x" * 31, "a b", "é", "gpu\n", "gpu-\n"])
def test_server_names_jupyterhub_refuses(name):
    from jupyterhub.slugs import is_valid_safe_slug

    assert not is_valid_safe_slug(name)
    with pytest.raises(CoursehubError) as exc:
        check_server(name)
    assert exc.value.exit_code == 2


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_A", min_size=1, max_size=32))
def test_server_name_rule_matches_jupyterhub(name):
    from jupyterhub.slugs import is_valid_safe_slug

    try:
        check_server(name)
        ours = True
    except CoursehubError:
        ours = False
    assert ours == is_valid_safe_slug(name)


@pytest.mark.parametrize(
    ("env_repo", "binder_path"),
    [
        ("https://github.com/org/env.git", "/v2/gh/org/env/HEAD"),
        ("https://gitlab.com/group/sub/env", "/v2/gl/group%2Fsub%2Fenv/HEAD"),
        ("https://git.example.edu/env", "/prefix/v2/git/https%3A%2F%2Fgit.example.edu%2Fenv/HEAD"),
    ],
)
def test_binder_providers(env_repo, binder_path):
    binder = "https://binder.example.edu/prefix/" if "/prefix/" in binder_path else "https://mybinder.org"
    link = build_link(launch="binder", binder_url=binder, env_repo=env_repo, repo=REPO, path="a.ipynb")
    parts = urlsplit(link.url)
    assert parts.path == binder_path
    inner = parse_qs(parts.query)["urlpath"][0]
    assert inner.startswith("git-pull?")
    assert parse_qs(urlsplit(inner).query) == {"repo": [REPO], "urlpath": ["lab/tree/data-c8-materials/a.ipynb"]}


# --- refusals and corrections -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"repo": "--upload-pack=touch /tmp/pwned"}, "starts with '-'"),
        ({"repo": REPO, "branch": "--upload-pack=x"}, "starts with '-'"),
        ({"repo": "file:///srv/course"}, "scheme 'file' is not allowed"),
        ({"repo": "ext::sh"}, "transport::address"),
        ({"repo": "ext::sh -c touch% /tmp/pwned"}, "whitespace"),
        ({"repo": "/srv/git/course"}, "not a URL git can fetch"),
        ({"repo": "../course"}, "not a URL git can fetch"),
        ({"repo": "https://user:secret@github.com/org/repo"}, "embeds credentials"),
        ({"repo": "https://ghp_token@github.com/org/repo"}, "embeds credentials"),
        ({"repo": "deploy:secret@git.example.edu:org/repo.git"}, "embeds credentials"),
        ({"repo": REPO, "targetpath": "/home/jovyan/x"}, "relative"),
        ({"repo": REPO, "targetpath": "work/../../etc"}, "'..'"),
        ({"repo": REPO, "path": "../private.ipynb"}, "'..'"),
        ({"repo": REPO, "branch": "a..b"}, "not a valid git branch"),
        ({"repo": REPO, "hub": "ftp://hub.example.edu"}, "must start with https://"),
        ({"repo": REPO, "hub": "hub.example.edu"}, "must start with https://"),
        ({"repo": REPO, "server": "My Server"}, "not allowed by JupyterHub 6"),
        # urlsplit's own ValueErrors are the user's input too: a located refusal, never a traceback
        ({"repo": "https://[github.com/org/repo"}, "malformed host"),
        ({"repo": "https://[::1x]/org/repo"}, "malformed host"),
        ({"repo": REPO, "hub": "https://[10.0.0.1]/"}, "malformed host"),
        ({"repo": REPO, "hub": "https://hub\u2100example.edu"}, "malformed host"),
        # a line break inside a hub URL is named, not a StopIteration from looking for the bad character
        ({"repo": REPO, "hub": "https://hub.example.edu/a\nb"}, r"contains '\\n', which a URL cannot hold"),
        ({"repo": REPO, "hub": "https://hub.example.edu:99999/"}, "port that is not a number"),
        ({"repo": REPO, "launch": "binder", "binder_url": "https://mybinder.org"}, "environment repository"),
        ({"repo": REPO, "launch": "binder", "env_repo": REPO}, "BinderHub URL"),
        ({"repo": REPO, "launch": "binder", "binder_url": "https://mybinder.org", "env_repo": REPO, "server": "x"}, "named servers"),
    ],
)
def test_refused_with_exit_status_2(kwargs, message):
    kwargs = {"hub": HUB, **kwargs}
    with pytest.raises(CoursehubError, match=message) as exc:
        build_link(**kwargs)
    assert exc.value.exit_code == 2
    assert "secret" not in exc.value.message and "ghp_token" not in exc.value.message


def test_github_page_url_is_corrected_with_a_warning():
    link = build_link(hub=HUB, repo="https://github.com/org/repo/blob/fa26/labs/lab%201.ipynb")
    assert link.fields.repo == "https://github.com/org/repo"
    assert link.fields.branch == "fa26"
    assert link.fields.urlpath == "lab/tree/repo/labs/lab 1.ipynb"
    assert any("GitHub page" in w for w in link.warnings)
    tree = build_link(hub=HUB, repo="https://github.com/org/repo/tree/main", path="a.ipynb", branch="dev")
    assert tree.fields.repo == "https://github.com/org/repo" and tree.fields.branch == "dev"


def test_pasted_hub_page_and_plain_http_are_corrected_with_warnings():
    link = build_link(hub="http://hub.example.edu/hub/home", repo=REPO, path="a.ipynb")
    assert link.url.startswith("http://hub.example.edu/hub/user-redirect/git-pull?")
    assert "/hub/hub/" not in link.url
    assert any("base URL" in w for w in link.warnings)
    assert any("plain http" in w for w in link.warnings)
    user_page = build_link(hub="https://uni.example.edu/jh/user/alice/lab", repo=REPO)
    assert user_page.fields.hub == "https://uni.example.edu/jh/"


def test_leading_slash_in_path_is_removed_with_a_warning():
    link = build_link(hub=HUB, repo=REPO, path="/lab/lab01.ipynb")
    assert link.fields.urlpath == "lab/tree/data-c8-materials/lab/lab01.ipynb"
    assert link.warnings


def test_special_characters_in_paths_cannot_break_the_redirect():
    link = build_link(hub=HUB, repo=REPO, path="q?/50% #1.ipynb")
    assert link.fields.urlpath == "lab/tree/data-c8-materials/q%3F/50%25 %231.ipynb"
    assert describe_urlpath(link.fields.urlpath, link.folder) == ("lab", "q?/50% #1.ipynb")


# --- round trip ----------------------------------------------------------------------------------------

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\"), min_size=1, max_size=12
).filter(lambda s: s not in (".", "..") and s.strip() and not s.startswith(("~", "-")))
file_path = st.lists(segment, min_size=1, max_size=3).map("/".join)
branch = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,8}(/[a-z0-9][a-z0-9_-]{0,8}){0,2}", fullmatch=True)
repo_url = st.builds(
    lambda host, owner, name, suffix: f"https://{host}/{owner}/{name}{suffix}",
    st.sampled_from(["github.com", "gitlab.com", "git.example.edu"]),
    st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,12}", fullmatch=True).filter(lambda s: not s.endswith(".")),
    st.sampled_from(["", ".git", "/"]),
)
hub_url = st.sampled_from(["https://hub.example.edu", "https://uni.example.edu/jupyter/", "http://127.0.0.1:8000"])


@st.composite
def link_inputs(draw):
    launch = draw(st.sampled_from(["hub", "lti", "binder"]))
    kwargs = {
        "repo": draw(repo_url),
        "branch": draw(st.none() | branch),
        "targetpath": draw(st.none() | file_path),
        "launch": launch,
    }
    if draw(st.booleans()):
        kwargs["interface"] = draw(st.sampled_from(["lab", "notebook", "rstudio", "shiny", "vscode"]))
        kwargs["path"] = draw(st.none() | file_path)
    else:
        kwargs["urlpath"] = draw(st.none() | file_path)
    if launch == "binder":
        kwargs["binder_url"] = draw(st.sampled_from(["https://mybinder.org", "https://binder.example.edu/prefix"]))
        kwargs["env_repo"] = draw(repo_url)
        kwargs["env_branch"] = draw(st.none() | branch)
    else:
        kwargs["hub"] = draw(hub_url)
        if launch == "hub":
            kwargs["server"] = draw(st.none() | st.from_regex(r"[a-z]([a-z0-9]|-(?=[a-z0-9])){0,20}", fullmatch=True))
    return kwargs


@settings(max_examples=200, deadline=None)
@given(link_inputs())
def test_links_round_trip_through_the_parser(kwargs):
    link = build_link(**kwargs)
    parsed = parse_link(link.url)
    assert parsed == link.fields
    assert link_url(parsed) == link.url
    interface, path = describe_urlpath(parsed.urlpath, parsed.folder)
    if "interface" in kwargs and kwargs["interface"] not in ("rstudio", "vscode"):
        assert interface == kwargs["interface"]
        assert path == (kwargs["path"].strip("/") if kwargs["path"] else None)


@pytest.mark.parametrize(
    "url",
    [
        "https://hub.example.edu/hub/login",
        "ftp://hub.example.edu/hub/user-redirect/git-pull?repo=x",
        "https://hub.example.edu/hub/user-redirect/git-pull?branch=main",
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=a&repo=b",
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=a&evil=1",
        "https://hub.example.edu/hub/lti/launch?next=https://evil.example.com/",
    ],
)
def test_parser_refuses_what_is_not_an_nbgitpuller_link(url):
    with pytest.raises(CoursehubError):
        parse_link(url)


def test_parser_reads_links_made_by_nbgitpullers_generator():
    url = (
        "https://hub.example.edu/hub/user-redirect/git-pull?repo=https%3A%2F%2Fgithub.com%2Forg%2Frepo"
        "&urlpath=tree%2Frepo%2Fa+b.ipynb&branch=main"
    )
    fields = parse_link(url)
    assert (fields.repo, fields.branch, fields.urlpath, fields.hub) == (
        "https://github.com/org/repo", "main", "tree/repo/a b.ipynb", "https://hub.example.edu/")
    assert describe_urlpath(fields.urlpath, fields.folder) == ("notebook", "a b.ipynb")


# --- CLI -----------------------------------------------------------------------------------------------


def test_cli_prints_only_the_link_on_stdout(run_cli):
    code, out, err = run_cli("link", "--hub", HUB + "/hub/", "--repo", REPO + ".git", "--path", "lab/lab01/lab01.ipynb",
                             "--interface", "notebook", "--branch", "main")
    assert code == 0
    assert out.count("\n") == 1
    fields = parse_link(out.strip())
    assert fields.urlpath == "tree/data-c8-materials.git/lab/lab01/lab01.ipynb"
    assert "warning" in err and "base URL" in err


def test_cli_refusal_exits_2_without_traceback(run_cli):
    code, out, err = run_cli("link", "--hub", HUB, "--repo", "file:///etc")
    assert code == 2
    assert out == ""
    assert "not allowed" in err and "Traceback" not in err


@pytest.mark.parametrize("suffix", ["svg", "png"])
def test_cli_writes_a_qr_code(run_cli, tmp_path, suffix):
    target = tmp_path / f"link.{suffix}"
    code, out, _ = run_cli("link", "--hub", HUB, "--repo", REPO, "--qr", target)
    assert code == 0
    data = target.read_bytes()
    assert data.startswith(b"<svg" if suffix == "svg" else b"\x89PNG")
    if suffix == "svg":
        from coursehub.links import qr

        assert data == qr.svg(out.strip())


def test_cli_qr_refuses_other_formats(run_cli, tmp_path):
    code, _, err = run_cli("link", "--hub", HUB, "--repo", REPO, "--qr", tmp_path / "x.jpg")
    assert code == 2 and ".svg or .png" in err


# --- the links build family ------------------------------------------------------------------------


def test_build_family_layout_and_content(example_manifest):
    from coursehub.build import render

    files = render(example_manifest, only=["links"]).files
    for course in example_manifest.courses:
        base = f"links/{course.id}"
        assert {f"{base}/links.csv", f"{base}/links.md", f"{base}/index.html"} <= files.keys()
        rows = list(csv.DictReader(io.StringIO(files[f"{base}/links.csv"].decode())))
        assert [r["assignment"] for r in rows] == [a.id for a in course.assignments]
        for row, assignment in zip(rows, course.assignments):
            assert f"{base}/qr/{assignment.id}.svg" in files
            fields = parse_link(row["url"])
            assert fields.repo == course.content.repo and fields.branch == course.content.branch
            # each course's links open that course's own named server
            assert fields.server == course.id and f"/hub/user-redirect/{course.id}/git-pull?" in row["url"]
            assert row["url"] in files[f"{base}/links.md"].decode()
            assert row["url"].replace("&", "&amp;") in files[f"{base}/index.html"].decode()
    c88 = next(csv.DictReader(io.StringIO(files["links/data-c88-fa26/links.csv"].decode())))
    assert c88["interface"] == "notebook"
    assert parse_link(c88["url"]).urlpath == "tree/data-c88-materials/lab01/lab01.ipynb"
    stat = next(csv.DictReader(io.StringIO(files["links/stat-20-fa26/links.csv"].decode())))
    assert parse_link(stat["url"]).urlpath == "rstudio/"
    assert "links/index.md" in files
    index = files["links/index.md"].decode()
    assert all(c.id in index for c in example_manifest.courses)


def test_build_family_is_deterministic(example_manifest):
    from coursehub.build import render

    assert render(example_manifest, only=["links"]).files == render(example_manifest, only=["links"]).files


def test_each_qr_code_encodes_that_assignments_link(example_manifest):
    # segno has no decoder; compare module matrices: the QR file of each assignment is the code of
    # the URL in the CSV, and the HTML page embeds the same code
    import segno

    from coursehub.build import render

    files = render(example_manifest, only=["links"]).files
    for course in example_manifest.courses:
        base = f"links/{course.id}"
        rows = list(csv.DictReader(io.StringIO(files[f"{base}/links.csv"].decode())))
        page = files[f"{base}/index.html"].decode()
        for row in rows:
            svg = files[f"{base}/qr/{row['assignment']}.svg"]
            buf = io.BytesIO()
            segno.make(row["url"], error="m").save(buf, kind="svg", scale=4, border=4, xmldecl=False)
            expected_path = buf.getvalue().split(b"<path", 1)[1]
            assert svg.split(b"<path", 1)[1] == expected_path
            assert expected_path.decode() in page


def test_bad_content_repo_fails_the_build_with_the_course_named(example_manifest):
    from coursehub.build import render

    broken = example_manifest.model_copy(deep=True)
    broken.courses[0].content.repo = "file:///srv/materials"
    with pytest.raises(CoursehubError, match=r"data-c8-fa26.*lab01.*not allowed"):
        render(broken, only=["links"])


def test_build_notes_assignments_missing_from_the_local_content(example_manifest):
    from coursehub.build import render

    assert not [n for n in render(example_manifest, only=["links"]).notes if "is not in" in n]
    changed = example_manifest.model_copy(deep=True)
    changed.courses[0].assignments[0].path = "lab/lab09/lab09.ipynb"
    changed._source = example_manifest.source
    notes = render(changed, only=["links"]).notes
    assert any("data-c8-fa26/lab01: lab/lab09/lab09.ipynb is not in content/data-c8-materials" in n for n in notes)


@settings(max_examples=100, deadline=None)
@given(link_inputs().filter(lambda kw: kw["launch"] == "lti"))
def test_an_lti_link_sends_both_lti_versions_to_the_nbgitpuller_link(kwargs):
    """The one launch URL works for LTI 1.1 (``next`` is a parameter of the launch) and for LTI 1.3,
    where it is the target link URI and ltiauthenticator's own login initiation extracts ``next``."""
    from types import SimpleNamespace

    from ltiauthenticator.lti13.handlers import LTI13LoginInitHandler, _deserialize_state

    link = build_link(**kwargs)
    expected = parse_qs(urlsplit(link.url).query)["next"][0]  # LTI 1.1: the launch's `next`
    assert expected.startswith(urlsplit(link.fields.hub).path + "hub/user-redirect/")
    args = {"target_link_uri": link.url}
    handler = SimpleNamespace(
        _state=None,
        get_argument=lambda name, default=None: args.get(name, default),
        log=SimpleNamespace(debug=lambda *a: None, warning=lambda *a: None),
    )
    state = LTI13LoginInitHandler.get_state(handler)
    assert _deserialize_state(state)["next_url"] == expected
