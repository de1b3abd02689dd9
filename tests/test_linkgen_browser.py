"""The link generator page against ``coursehub link``: same link, same corrections, same refusals.

The page (``guides/assets/linkgen/``) is a JavaScript port of :func:`coursehub.links.build_link`. Headless
Chromium loads the strictly built site offline; the test fills the page's form with generated inputs
(ordinary, sloppy and hostile ones), reads what the page shows, and compares it with coursehub's own
``build_link`` called in-process on exactly what the form held (a text field drops line breaks, as a
browser does). A second set goes straight to the page's ``buildLink`` with what a form cannot hold
(newlines, unknown interfaces and launches, both an interface and a custom path). QR codes are compared
decoded back with an independent decoder.
"""

from __future__ import annotations

import random
from urllib.parse import urlsplit

import pytest
from guide_site import build_site, offline_browser, serve, vendored

from coursehub.errors import CoursehubError
from coursehub.links import INTERFACES, build_link, parse_link

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FORM_CASES = 560
API_CASES = 320  # most of these carry something a form cannot hold and are refused; enough to build 20+ links too

HOSTILE = [
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)", "\u202egnp.exe",
    "a\u200bb", "😀", "\x01", "\x7f", "\x85", "\u00ad", "\xa0", "\u2028", "%00", "%zz", "%C3%28", "é", "İ", "x" * 300,
    "'", '"', "\\", "${x}", "{{x}}",
]

HUBS = [
    "https://hub.example.edu", "https://hub.example.edu/", "https://uni.example.edu/jupyter/",
    "https://HUB.Example.EDU:8443/Pre%20fix", "http://127.0.0.1:8000", "http://localhost:8000", "http://hub.example.edu",
    "https://hub.example.edu/hub/login", "https://hub.example.edu/user/alice/lab", "https://hub.example.edu/hubble",
    "  https://hub.example.edu  ", "ftp://hub.example.edu", "hub.example.edu", "https://user:pw@hub.example.edu",
    "https://hub.example.edu/?x=1", "https://hub.example.edu/#top", "https://[::1]:8000", "https://[zz]/",
    "https://[10.0.0.1]/", "https://hub\u2100example.edu", "https://hüb.example.edu", "https://", "https:///x",
    "https://hub.example.edu/user", "HTTPS://hub.example.edu", "https://hub.example.edu/\tx",
    "https://HUB.Example.EDU:8443/Pre fix", "https://hub.example.edu:99999/", "https://hub.example.edu:80:80/",
    "https://hub.example.edu/%zz", "https://hub.example.edu/a|b",
]
REPOS = [
    "https://github.com/example-org/data-c8-materials", "https://github.com/example-org/data-c8-materials.git",
    "https://github.com/example-org/data-c8-materials/", "https://github.com/org/repo.git/",
    "https://github.com/org/repo/tree/main/lab", "https://github.com/org/repo/blob/dev/lab/lab%2001.ipynb",
    "https://www.github.com/org/repo/tree/feature/x/a.ipynb", "https://GitHub.com/org/repo/blob/main/",
    "https://gitlab.com/group/sub/repo", "https://git.example.edu/courses/stat101.git", "git@github.com:org/repo.git",
    "ssh://git@github.com/org/repo.git", "git://git.example.edu/repo", "http://git.example.edu/repo",
    "file:///srv/course", "ext::sh -c touch% /tmp/pwned", "ext::sh", "--upload-pack=touch /tmp/pwned",
    "-x", "https://user:secret@github.com/org/repo", "https://ghp_token@github.com/org/repo",
    "deploy:secret@git.example.edu:org/repo.git", "https://github.com/org/repo?x=1", "https://github.com/org/repo#frag",
    "/srv/git/course", "../course", "C:/course", "https://github.com", "https://github.com/", "  https://github.com/o/r  ",
    "https://git hub.com/o/r", "https://[::1]/o/r", "https://[bad/o/r", "https://example.edu/a/..", "https://example.edu/-r",
    "https://example.edu/%2e%2e", "https://example.edu/café", "svn://example.edu/r", "ssh://example.edu/r",
    "user@host:path/repo", "a:b", "x@y:z",
]
BRANCHES = [None, "main", "master", "feature/x", "v1.0", "-x", "a..b", "a b", "@", "x.lock", "ü", "~1", "a//b", "/a",
            "a/", ".a", "a.", "@{x}", "a:b", "a?b", "a*b", "a[b"]
PATHS = [None, "lab01.ipynb", "lab/lab01/lab01.ipynb", "/lab/a.ipynb", "a b/é.ipynb", "../x.ipynb", "a\\b.ipynb", "dir/",
         "q?#%.ipynb", "a/./b.ipynb", "//a", ".", "app", "Tutorial 1 — xarray été.ipynb", "%41.ipynb"]
URLPATHS = ["lab/tree/data-c8-materials/README.md", "/tree/repo/a.ipynb", "https://evil.example/x", "   ",
            "lab", "voila/render/repo/a.ipynb?x=1", "%2e%2e/x", "rstudio/"]
TARGETS = [None, "work", "courses/stat", "/abs", "a/../b", "~x", "C:\\x", ".", "a//b/", "é", "  ", "-r", "..", "a\\b"]
SERVERS = [None, "gpu-1", "data-c8-fa26", "GPU", "a-", "a--b", "x" * 30, "x" * 31, "1a", "é", "ab\n"]
BINDERS = ["https://mybinder.org", "https://binder.example.edu/prefix/", "mybinder.org", "http://binder.example.edu",
           "https://mybinder.org/hub/x", "ftp://x"]
ENV_REPOS = ["https://github.com/org/env", "https://github.com/org/env.git", "https://gitlab.com/g/s/env",
             "https://git.example.edu/env", "git@github.com:org/env", "file:///env", "-env", "https://github.com/org"]


def _pick(rng: random.Random, pool: list, hostile: float = 0.06, good: int = 0):
    # the first ``good`` entries of a pool make working links; take one of them most of the time so that
    # both sides of every rule are exercised, not only the first refusal
    value = rng.choice(pool[:good]) if good and rng.random() < 0.8 else rng.choice(pool)
    if rng.random() < hostile:
        trick = rng.choice(HOSTILE)
        value = rng.choice([trick, (value or "") + trick, trick + (value or "")])
    return value


def form_cases(n: int, seed: int = 20261) -> list[dict]:
    """What a person could type into the form: text fields, one interface from the menu, one launch."""
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        launch = rng.choice(["hub", "hub", "lti", "binder"])
        interface = rng.choice([*INTERFACES, "lab", "custom"])
        case = {
            "launch": launch,
            "interface": interface,
            "repo": _pick(rng, REPOS, good=14),
            "branch": _pick(rng, BRANCHES, good=6),
            "path": _pick(rng, PATHS, good=5) if interface != "custom" else None,
            "urlpath": _pick(rng, URLPATHS, good=2) if interface == "custom" else None,
            "targetpath": _pick(rng, TARGETS, 0.03, good=3),
            "hub": _pick(rng, HUBS, good=9) if launch != "binder" else None,
            "server": _pick(rng, SERVERS, 0.03, good=3) if launch != "binder" and rng.random() < 0.3 else None,
            "binder_url": _pick(rng, BINDERS, good=2) if launch == "binder" else None,
            "env_repo": _pick(rng, ENV_REPOS, good=5) if launch == "binder" else None,
            "env_branch": _pick(rng, BRANCHES, 0.03, good=4) if launch == "binder" else None,
        }
        cases.append(case)
    return cases


def api_cases(n: int, seed: int = 7) -> list[dict]:
    """What only a direct call can pass: form-like inputs with one thing a form cannot hold (a newline,
    an unknown or older name, both an interface and a custom path, options of another launch)."""
    rng = random.Random(seed)
    cases = []
    for base in form_cases(n, seed):
        case = dict(base, interface=None if base["interface"] == "custom" else base["interface"])
        kind = rng.choice(["newline", "newline", "canvas", "unknown", "both", "other-launch", "as-is"])
        if kind == "newline":
            key = rng.choice(["repo", "branch", "path", "targetpath", "hub", "server", "env_branch"])
            case[key] = rng.choice(["{}\n", "\n{}", "{}\r\n", "a\nb{}"]).format(case[key] or "gpu")
        elif kind == "canvas" and case["launch"] == "lti":
            case["launch"] = "canvas"
        elif kind == "unknown":
            key = rng.choice(["launch", "interface"])
            case[key] = rng.choice(["bogus", "__proto__", "constructor", "JupyterLab", "", "classic"])
        elif kind == "both":
            case["interface"], case["urlpath"] = rng.choice(INTERFACES), rng.choice(URLPATHS)
        elif kind == "other-launch":
            case[rng.choice(["binder_url", "env_repo", "env_branch", "server", "hub"])] = "https://mybinder.org"
        cases.append(case)
    return cases


def _python(options: dict) -> dict:
    """What ``coursehub link`` does with these options: the link and warnings, or the refusal."""
    try:
        link = build_link(**options)
    except CoursehubError as exc:
        assert exc.exit_code == 2
        return {"error": exc.message}
    return {"url": link.url, "warnings": link.warnings, "folder": link.folder}


def _options_from_form(held: dict) -> dict:
    """The keyword arguments the form's fields stand for: an empty field is an absent option."""
    given = {k: (v if v != "" else None) for k, v in held.items()}
    custom = given["interface"] == "custom"
    binder = given["launch"] == "binder"
    return {
        "launch": given["launch"],
        "repo": given["repo"] or "",
        "branch": given["branch"],
        "path": None if custom else given["path"],
        "interface": None if custom else given["interface"],
        "urlpath": given["urlpath"] if custom else None,
        "targetpath": given["targetpath"],
        "hub": None if binder else given["hub"],
        "server": None if binder else given["server"],
        "binder_url": given["binder_url"] if binder else None,
        "env_repo": given["env_repo"] if binder else None,
        "env_branch": given["env_branch"] if binder else None,
    }


FILL_AND_READ = """
(cases) => {
  const root = document.getElementById("coursehub-linkgen");
  const text = ["repo", "branch", "path", "urlpath", "targetpath", "hub", "server", "binder_url", "env_repo", "env_branch"];
  const out = (name) => root.querySelector(`[data-out="${name}"]`);
  return cases.map((c) => {
    root.querySelector(`[name="launch"][value="${c.launch}"]`).checked = true;
    root.querySelector('[name="interface"]').value = c.interface;
    for (const name of text) root.querySelector(`[name="${name}"]`).value = c[name] === null ? "" : c[name];
    root.dispatchEvent(new Event("input", {bubbles: true}));
    const held = {launch: c.launch, interface: root.querySelector('[name="interface"]').value};
    for (const name of text) held[name] = root.querySelector(`[name="${name}"]`).value;
    if (!out("error").hidden) return {held, shown: {error: out("error-text").textContent}};
    if (out("result").hidden) return {held, shown: {nothing: out("status").textContent}};
    const warnings = Array.from(out("warnings").querySelectorAll("li")).map((li) => li.textContent);
    return {held, shown: {url: out("url").value, warnings, folder: out("folder").textContent.replace(/\\/$/, "")}};
  });
}
"""

CALL = """
(cases) => cases.map((c) => {
  try {
    const r = window.coursehubLinks.buildLink(c);
    return {url: r.url, warnings: r.warnings, folder: r.folder};
  } catch (e) {
    if (e instanceof window.coursehubLinks.LinkError) return {error: e.message};
    return {crash: String(e)};
  }
})
"""


@pytest.fixture(scope="module")
def linkgen_page(tmp_path_factory):
    site = build_site(tmp_path_factory.mktemp("linkgen-site") / "site")
    with serve(site) as (base, _requests), offline_browser(base, viewport={"width": 1280, "height": 1000}) as (ctx, blocked):
        page = ctx.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{base}/link-generator/")
        page.wait_for_function("() => Boolean(window.coursehubLinks && window.coursehubLinks.qrModules)")
        yield page, ctx, base
        assert not errors, errors
        assert not blocked, f"the link generator asked another host for {blocked}"


def _describe(case: dict) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in case.items() if v is not None)


def test_form_agrees_with_coursehub_link_on_generated_and_hostile_inputs(linkgen_page):
    page, _, _ = linkgen_page
    cases = form_cases(FORM_CASES)
    results = page.evaluate(FILL_AND_READ, cases)
    outcomes = {"link": 0, "refused": 0, "corrected": 0}
    mismatches = []
    for case, result in zip(cases, results):
        options = _options_from_form(result["held"])
        expected = _python(options)
        shown = result["shown"]
        if "nothing" in shown:
            # the page waits for input only when every address field is empty
            assert not options["repo"] and not options["hub"] and not options["binder_url"], shown
            continue
        if shown != expected:
            mismatches.append(f"{_describe(options)}\n  page:      {shown}\n  coursehub: {expected}")
        outcomes["refused" if "error" in expected else "link"] += 1
        outcomes["corrected"] += bool(expected.get("warnings"))
    assert not mismatches, f"{len(mismatches)} of {len(cases)} differ:\n" + "\n".join(mismatches[:15])
    # The generated inputs really exercise both sides of every rule.
    assert outcomes["link"] >= 150 and outcomes["refused"] >= 150 and outcomes["corrected"] >= 60, outcomes


def test_page_function_agrees_on_what_a_form_cannot_hold(linkgen_page):
    page, _, _ = linkgen_page
    cases = api_cases(API_CASES)
    results = page.evaluate(CALL, cases)
    mismatches = []
    for case, shown in zip(cases, results):
        expected = _python(case)
        if shown != expected:
            mismatches.append(f"{_describe(case)}\n  page:      {shown}\n  coursehub: {expected}")
    assert not mismatches, f"{len(mismatches)} of {len(cases)} differ:\n" + "\n".join(mismatches[:15])
    refused = sum("error" in _python(c) for c in cases)
    assert 20 <= refused <= len(cases) - 20, refused


def test_every_interface_launch_and_option_appears_in_the_agreement():
    """The generated inputs cover every interface, every launch and each optional field."""
    cases = form_cases(FORM_CASES)
    assert {c["interface"] for c in cases} >= {*INTERFACES, "custom"}
    assert {c["launch"] for c in cases} == {"hub", "lti", "binder"}
    assert {c["launch"] for c in api_cases(API_CASES)} >= {"canvas"}
    for key in ("branch", "path", "urlpath", "targetpath", "server", "env_branch"):
        assert any(c[key] for c in cases), key


DECODE = """
(rows) => {
  const scale = 4, border = 4, n = rows.length, size = (n + 2 * border) * scale;
  const px = new Uint8ClampedArray(size * size * 4).fill(255);
  rows.forEach((row, r) => { for (let c = 0; c < n; c++) if (row[c] === "1")
    for (let y = 0; y < scale; y++) for (let x = 0; x < scale; x++) {
      const i = (((r + border) * scale + y) * size + (c + border) * scale + x) * 4;
      px[i] = px[i + 1] = px[i + 2] = 0;
    } });
  const found = jsQR(px, size, size);
  return found ? found.data : null;
}
"""


def test_qr_codes_decode_back_to_their_links(linkgen_page):
    """The page's QR codes, read by an independent decoder (jsQR), give back exactly the link."""
    page, _, _ = linkgen_page
    page.add_script_tag(path=str(vendored("jsQR.js")))  # inline, test only: no request, not part of the site
    urls = [r["url"] for r in (_python(_options_from_form(c)) for c in form_cases(300)) if "url" in r]
    urls = sorted(set(urls), key=len)[:: max(1, len(set(urls)) // 30)]
    assert len(urls) >= 20
    for url in urls:
        rows = page.evaluate("(u) => window.coursehubLinks.qrModules(u)", url)
        assert page.evaluate(DECODE, rows) == url
    # and the QR code on the page is the one of the link shown
    page.evaluate("() => window.coursehubLinks.render()")


def test_copy_button_copies_the_link_itself(linkgen_page):
    page, ctx, base = linkgen_page
    ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.evaluate("""() => {
      const root = document.getElementById("coursehub-linkgen");
      root.querySelector('[name="launch"][value="lti"]').checked = true;
      root.querySelector('[name="interface"]').value = "lab";
      for (const [k, v] of Object.entries({hub: "https://uni.example.edu/jupyter", repo: "https://github.com/o/r.git",
          branch: "", path: "labs/lab 1.ipynb", urlpath: "", targetpath: "", server: "", binder_url: "", env_repo: "", env_branch: ""}))
        root.querySelector(`[name="${k}"]`).value = v;
      root.dispatchEvent(new Event("input", {bubbles: true}));
    }""")
    page.click("[data-copy]")
    page.wait_for_function("document.querySelector('[data-copy]').textContent === 'Copied'")
    copied = page.evaluate("navigator.clipboard.readText()")
    expected = build_link(hub="https://uni.example.edu/jupyter", repo="https://github.com/o/r.git", path="labs/lab 1.ipynb",
                          interface="lab", launch="lti")
    assert copied == expected.url
    assert parse_link(copied) == expected.fields
    assert urlsplit(copied).path == "/jupyter/hub/lti/launch"
