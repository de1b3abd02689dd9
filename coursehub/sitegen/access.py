"""The groups-and-roles page, generated from :mod:`coursehub.access.groups` and :mod:`coursehub.access.roles`."""

from __future__ import annotations

from coursehub.access.groups import course_group_members
from coursehub.escape import markdown_code as code
from coursehub.manifest import Manifest
from coursehub.access.roles import SYNC_APPLY_SCOPES, SYNC_PLAN_SCOPES, collect_service_role, staff_roles, sync_service_role


def access_reference(manifest: Manifest) -> str:
    """The groups and RBAC roles coursehub gives a hub, from :mod:`coursehub.access.groups` and :mod:`coursehub.access.roles`."""
    lines = [
        "# Groups and roles",
        "",
        "The JupyterHub groups and RBAC roles coursehub creates, generated from its code and the course",
        "manifest when this site was built. Every course gets the same pattern with its own id.",
        "",
        "## Groups",
        "",
        "| course | group | members |",
        "|---|---|---|",
    ]
    for course in manifest.courses:
        for group, members in course_group_members(course).items():
            lines.append(f"| {code(course.id)} | {code(group)} | {len(members)} |")
    lines.append("")
    if manifest.courses:
        course = manifest.courses[0]
        lines += [
            "## Staff roles",
            "",
            f"For {code(course.id)}. Apart from `admin-ui` (the admin page itself), each scope is filtered to the",
            "course's students group, so staff reach those students and nobody else. A course's roles are",
            "granted only between its term dates.",
            "",
            "| role | granted to | scopes |",
            "|---|---|---|",
        ]
        for role in staff_roles(course):
            groups = ", ".join(code(g) for g in role.get("groups", []))
            scopes = "<br>".join(code(s) for s in role["scopes"])
            lines.append(f"| {code(role['name'])} | {groups} | {scopes} |")
        lines.append("")
    sync = sync_service_role()
    lines += [
        "## The sync service",
        "",
        f"`coursehub sync` runs as the service `{', '.join(sync.get('services', []))}` with the role `{sync['name']}`.",
        "",
        "| to… | the token needs |",
        "|---|---|",
        "| plan (`coursehub sync` without `--apply`) | " + ", ".join(f"`{s}`" for s in SYNC_PLAN_SCOPES) + " |",
        "| apply (`--apply`) | " + ", ".join(f"`{s}`" for s in SYNC_APPLY_SCOPES) + " |",
        "",
    ]
    if manifest.courses:
        role = collect_service_role(manifest.courses[0])
        lines += [
            "## The collect services",
            "",
            "`coursehub collect` runs as one service per course, each with a role on that course's students only",
            f"(see [Collecting work and returning grades](../handing-in.md)). For `{manifest.courses[0].id}`:",
            "",
            "| service | scopes |",
            "|---|---|",
            f"| `{role['services'][0]}` | " + "<br>".join(f"`{s}`" for s in role["scopes"]) + " |",
            "",
        ]
    return "\n".join(lines)
