"""The hub as an LMS tool: the URLs and settings an LMS administrator registers, written to ``hub/lti/``.

The URLs are the ones ``jupyterhub-ltiauthenticator`` serves under the hub's ``/hub/`` prefix:

- LTI 1.3: login initiation ``/hub/lti13/oauth_login`` (GET or POST), redirect URI
  ``/hub/lti13/oauth_callback`` (the platform posts the signed ``id_token`` there). The authenticator
  serves no JWKS of its own: the tool's public key goes into the registration as a JWK (Canvas'
  ``public_jwk``, Moodle's "RSA key"), written here from ``hub.lms.lti13.tool_public_key``.
- LTI 1.1: launch URL ``/hub/lti/launch``.

An assignment's launch URL is its ``--launch lti`` link (:mod:`coursehub.links.url`):
``/hub/lti/launch?next=<the nbgitpuller link>``. The same URL serves both versions: LTI 1.1 posts to it
and redirects to ``next``; under LTI 1.3 it is the link's *target link URI*, from which the
authenticator's login initiation takes ``next``.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from coursehub.escape import markdown, markdown_code
from coursehub.manifest import Manifest

#: Canvas' LTI Advantage scopes for grade passback (AGS): line items, their results, and scores.
AGS_SCOPES = [
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
    "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
    "https://purl.imsglobal.org/spec/lti-ags/scope/score",
]
#: The custom fields that carry the LMS login id (what rosters list) as ``custom_login_id``.
CANVAS_CUSTOM_FIELDS = {"login_id": "$Canvas.user.loginId"}
MOODLE_CUSTOM_PARAMETERS = "login_id=$User.username"


def _hub(url: str) -> str:
    return url.rstrip("/") + "/"


def tool_urls(hub_url: str, version: str) -> dict[str, str]:
    """The URLs an LMS registers for the hub, by the names LMS forms use."""
    hub = _hub(hub_url)
    if version == "1.3":
        return {
            "oidc_initiation_url": hub + "hub/lti13/oauth_login",
            "redirect_uri": hub + "hub/lti13/oauth_callback",
            "target_link_uri": hub + "hub/home",
        }
    return {"launch_url": hub + "hub/lti/launch", "config_xml_url": hub + "hub/lti11/config"}


def tool_jwk(manifest: Manifest) -> dict | None:
    """The JWK of ``hub.lms.lti13.tool_public_key``, or ``None`` when the manifest names none."""
    from coursehub.lms.keys import load_public_key, public_jwk

    lms = manifest.hub.lms
    if lms is None or lms.lti13 is None or lms.lti13.tool_public_key is None:
        return None
    return public_jwk(load_public_key(Path(manifest.source).parent / lms.lti13.tool_public_key))


def canvas_developer_key(manifest: Manifest) -> dict:
    """The JSON a Canvas admin pastes into an LTI developer key (Method: Paste JSON)."""
    lms = manifest.hub.lms
    urls = tool_urls(manifest.hub.url, "1.3")
    title = lms.tool_title or manifest.hub.name
    placements = [
        {
            # course navigation opens the hub; assignment and link selection let instructors add an
            # assignment link (its launch URL) as an external tool
            "placement": placement,
            "message_type": "LtiResourceLinkRequest",
            "target_link_uri": urls["target_link_uri"],
            "text": title,
        }
        for placement in ("course_navigation", "assignment_selection", "link_selection")
    ]
    config = {
        "title": title,
        "description": f"{title}: Jupyter notebooks for your course",
        "oidc_initiation_url": urls["oidc_initiation_url"],
        "target_link_uri": urls["target_link_uri"],
        "scopes": list(AGS_SCOPES),
        "extensions": [
            {
                "platform": "canvas.instructure.com",
                # public: Canvas sends the login id the custom field asks for
                "privacy_level": "public",
                "domain": urlsplit(manifest.hub.url).hostname,
                "settings": {"placements": placements},
            }
        ],
        "custom_fields": dict(CANVAS_CUSTOM_FIELDS),
    }
    jwk = tool_jwk(manifest)
    if jwk is not None:
        config["public_jwk"] = jwk
    return config


def tool_fields(manifest: Manifest) -> dict:
    """Every value of the registration, as data: the URLs, the identifiers, and each course's context."""
    lms = manifest.hub.lms
    fields: dict = {"lti_version": lms.version, "title": lms.tool_title or manifest.hub.name, **tool_urls(manifest.hub.url, lms.version)}
    if lms.lti13 is not None:
        fields.update(
            issuer=lms.lti13.issuer,
            client_id=lms.lti13.client_id,
            deployment_ids=list(lms.lti13.deployment_ids),
            username_claim=lms.lti13.username_claim,
            canvas_custom_fields=dict(CANVAS_CUSTOM_FIELDS),
            moodle_custom_parameters=MOODLE_CUSTOM_PARAMETERS,
            scopes=list(AGS_SCOPES),
        )
    else:
        fields.update(
            consumer_key=lms.lti11.consumer_key,
            username_key=lms.lti11.username_key,
            canvas_custom_fields=dict(CANVAS_CUSTOM_FIELDS),
            moodle_custom_parameters=MOODLE_CUSTOM_PARAMETERS,
        )
    fields["courses"] = {
        c.id: {k: v for k, v in c.lms.model_dump(mode="json").items() if v is not None}
        for c in sorted(manifest.courses, key=lambda c: c.id)
        if c.lms is not None
    }
    return fields


README_13 = """\
# Registering {title_cell} in the LMS (LTI 1.3)

Generated by `coursehub build`; do not edit. The guide page "Sign in from the LMS" explains each step.

## Canvas (Admin -> Developer Keys -> + Developer Key -> LTI Key)

- Method: **Paste JSON**, with the contents of `canvas-developer-key.json`.
- Redirect URIs: {redirect_uri}
- Save, switch the key **ON**, and put its Client ID in the manifest (`hub.lms.lti13.client_id`, now
  {client_id}). Then add the app to a course or account by that Client ID.

## Moodle (Site administration -> Plugins -> External tool -> Manage tools -> configure a tool manually)

| field | value |
|---|---|
| Tool name | {title_cell} |
| Tool URL | {target_link_uri} |
| LTI version | LTI 1.3 |
| Public key type | RSA key (paste the key from `hub.lms.lti13.tool_public_key`) |
| Initiate login URL | {oidc_initiation_url} |
| Redirection URI(s) | {redirect_uri} |
| Custom parameters | `{moodle_custom}` |
| Services: IMS LTI Assignment and Grade Services | Use this service for grade sync and column management |
| Privacy: share launcher's name / email | as your policy allows (the username comes from the custom parameter) |

Moodle then shows the Platform ID (the manifest's `issuer`), Client ID, Deployment ID, public keyset URL
(`jwks_url`), access token URL (`token_url`) and authentication request URL (`auth_url`).

## Assignment links

Each course's `links/<course>/links.csv` has the launch URL of every assignment (column `lti_url`):
store it as the external tool's URL (Canvas: assignment -> Submission type: External Tool; Moodle:
the activity's Tool URL).

## Courses

| course | LMS context id | context label pattern |
|---|---|---|
{courses}
"""

README_11 = """\
# Registering {title_cell} in the LMS (LTI 1.1)

Generated by `coursehub build`; do not edit. The guide page "Sign in from the LMS" explains each step.

- Launch URL: {launch_url} (the XML configuration is served at {config_xml_url})
- Consumer key: {consumer_key}; shared secret: the one in the hub's {secret}
- Custom fields (Canvas): `login_id=$Canvas.user.loginId`; (Moodle): `{moodle_custom}`
- Privacy: public (Canvas), so the login id is sent.

Each assignment's launch URL is in `links/<course>/links.csv` (column `lti_url`).

| course | LMS context id | context label pattern |
|---|---|---|
{courses}
"""


def readme(manifest: Manifest) -> str:
    """``hub/lti/README.md``: what to type where, with this manifest's values."""
    lms = manifest.hub.lms
    f = tool_fields(manifest)
    courses = "\n".join(
        f"| {markdown(c.id)} | {markdown_code(c.lms.context_id) if c.lms.context_id else '-'} | "
        f"{markdown_code(c.lms.context_label) if c.lms.context_label else '-'} |"
        for c in sorted(manifest.courses, key=lambda c: c.id)
        if c.lms is not None
    ) or "| - | - | - |"
    # manifest text: escaped for Markdown (coursehub.escape), values shown as code
    urls = {k: markdown_code(v) for k, v in tool_urls(manifest.hub.url, lms.version).items()}
    if lms.lti13 is not None:
        return README_13.format(
            title_cell=markdown(f["title"]), client_id=markdown_code(f["client_id"]), moodle_custom=MOODLE_CUSTOM_PARAMETERS,
            courses=courses, **urls,
        )
    secret = markdown(f"${lms.lti11.secret_env}" if lms.lti11.secret_env else f"file {lms.lti11.secret_file}")
    return README_11.format(
        title_cell=markdown(f["title"]), consumer_key=markdown_code(f["consumer_key"]), secret=secret,
        moodle_custom=MOODLE_CUSTOM_PARAMETERS, courses=courses, **urls,
    )


def generate(ctx) -> None:
    """Add ``hub/lti/`` to the build when the manifest has an ``lms`` section."""
    manifest = ctx.manifest
    if manifest.hub.lms is None:
        return
    ctx.add_json("hub/lti/tool.json", tool_fields(manifest))
    ctx.add("hub/lti/README.md", readme(manifest))
    if manifest.hub.lms.lti13 is not None:
        ctx.add_json("hub/lti/canvas-developer-key.json", canvas_developer_key(manifest))
        jwk = tool_jwk(manifest)
        if jwk is not None:
            ctx.add_json("hub/lti/jwks.json", {"keys": [jwk]})
