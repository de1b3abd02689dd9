"""The course data the hub runtime (:mod:`coursehub.hub.runtime.spawn`) reads, built from the manifest.

One dict, written as ``hub/single-machine/coursehub-courses.json``, put under the Helm values'
``custom.coursehub`` and loaded by the local hub: every target reads the same data. Each course has
its groups by role (how the runtime finds a user's courses and roles), its dates, and its spawn settings resolved by
:func:`coursehub.manifest.effective.course_settings` (sizes in bytes, CPU in cores, the idle timeout in seconds).
"""

from __future__ import annotations

from coursehub.access.groups import ROLES, group_name, launch_group_name, load_groups, role_groups
from coursehub.access.roles import collect_service_role, staff_roles, sync_service_role
from coursehub.hub.runtime import spawn
from coursehub.manifest import Course, Manifest
from coursehub.manifest.effective import CourseSettings, course_settings, hub_settings


def image_refs(manifest: Manifest) -> dict[str, str]:
    """Image key -> the reference a Kubernetes hub runs (``registry:tag`` from the image plan)."""
    from coursehub.images.plan import plan_images

    plan = plan_images(manifest)
    return {key: plan.for_key(key).ref for key in sorted(manifest.images)}


def k8s_quantity(n: int) -> str:
    """Bytes as an exact Kubernetes quantity (``10Gi``); KubeSpawner's ``storage_capacity`` is one."""
    for suffix, factor in (("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024)):
        if n and n % factor == 0:
            return f"{n // factor}{suffix}"
    return str(n)


#: The Jupyter configuration folder of servers whose course does not grade with nbgrader.
NO_NBGRADER = "no-nbgrader"


def jupyter_config_folder(course: Course | None) -> str:
    """The Jupyter configuration folder a course's servers read (``$JUPYTER_CONFIG_PATH``)."""
    return f"nbgrader-{course.id}" if course is not None and course.grader == "nbgrader" else NO_NBGRADER


def jupyter_config(manifest: Manifest) -> dict[str, dict[str, dict]]:
    """Folder -> files of Jupyter configuration: nbgrader off, and each nbgrader course's own config."""
    from coursehub.grading import nbgrader

    folders = {NO_NBGRADER: nbgrader.jupyter_config_off()}
    for course in manifest.courses:
        if course.grader == "nbgrader":
            folders[jupyter_config_folder(course)] = nbgrader.jupyter_config_on(course)
    return dict(sorted(folders.items()))


#: Volume names in the user pods (the Kubernetes names of the mounts, not of the claims).
EXCHANGE_VOLUME = "coursehub-nbgrader-exchange"
COURSE_DIR_VOLUME = "coursehub-nbgrader-course"
STAFF_ROLES = ["instructors", "tas"]


def nbgrader_claims(manifest: Manifest) -> dict[str, int]:
    """PersistentVolumeClaim name -> size for nbgrader's storage (none when it is an NFS export)."""
    storage = manifest.hub.nbgrader_storage
    courses = [c for c in manifest.courses if c.grader == "nbgrader"]
    if storage.nfs is not None or not courses:
        return {}
    claims = {EXCHANGE_VOLUME: storage.exchange_size}
    claims.update({f"coursehub-nbgrader-{c.id}": storage.course_size for c in sorted(courses, key=lambda c: c.id)})
    return claims


def nbgrader_volumes(manifest: Manifest, course: Course) -> list[dict]:
    """The Kubernetes volumes of an nbgrader course's servers, each with the roles that mount it.

    Everybody in the course mounts the shared exchange (students submit and fetch there); only its
    instructors and TAs mount the course directory (sources, submissions, the gradebook).
    """
    from coursehub.grading.nbgrader import EXCHANGE_ROOT, course_directory

    storage = manifest.hub.nbgrader_storage

    def source(claim: str, sub: str) -> dict:
        if storage.nfs is not None:
            return {"nfs": {"server": storage.nfs.server, "path": storage.nfs.path.rstrip("/") + "/" + sub}}
        return {"persistentVolumeClaim": {"claimName": claim}}

    return [
        {"name": EXCHANGE_VOLUME, "source": source(EXCHANGE_VOLUME, "exchange"), "mount_path": EXCHANGE_ROOT, "read_only": False, "roles": []},
        {
            "name": COURSE_DIR_VOLUME,
            "source": source(f"coursehub-nbgrader-{course.id}", f"courses/{course.id}"),
            "mount_path": course_directory(course.id),
            "read_only": False,
            "roles": STAFF_ROLES,
        },
    ]


def spawn_settings(s: CourseSettings, *, image_ref: str, course: Course | None = None, volumes: list[dict] | None = None) -> dict:
    """The spawner settings of one course (or of the hub's defaults) as plain data."""
    return {
        "image": image_ref,
        "image_key": s.image,
        "interface": s.interface,
        "default_url": s.default_url,
        "mem_guarantee": s.mem_guarantee,
        "mem_limit": s.mem_limit,
        "cpu_guarantee": s.cpu_guarantee,
        "cpu_limit": s.cpu_limit,
        "idle_timeout": s.idle_timeout,
        # The size of the home volume KubeSpawner creates for a server (it sizes a new volume only; an
        # existing one keeps its size). Spawners without volumes (a single machine) ignore it.
        "storage_capacity": k8s_quantity(s.storage),
        "environment": dict(s.environment),
        "node_selector": dict(s.node_selector),
        "shared_data": s.shared_data.model_dump(mode="json") if s.shared_data else None,
        "jupyter_config": jupyter_config_folder(course),
        "volumes": volumes or [],
    }


#: The authenticator classes of ``jupyterhub-ltiauthenticator``, by LTI version.
LTI_AUTHENTICATORS = {
    "1.3": "ltiauthenticator.lti13.auth.LTI13Authenticator",
    "1.1": "ltiauthenticator.lti11.auth.LTI11Authenticator",
}


def lms_data(manifest: Manifest) -> dict | None:
    """What the runtime needs to sign users in from the LMS and join them to their course, or ``None``.

    The authenticator's settings (traits of ``LTI13Authenticator`` / ``LTI11Authenticator``), the
    username claim, the role mapping, and per course which groups each role joins and where launches
    are recorded. LTI 1.1's shared secret is named (environment variable or file), never included.
    """
    lms = manifest.hub.lms
    if lms is None:
        return None
    title = lms.tool_title or manifest.hub.name
    if lms.lti13 is not None:
        t = lms.lti13
        config = {
            "issuer": t.issuer,
            "client_id": [t.client_id],
            "authorize_url": t.auth_url,
            "jwks_endpoint": t.jwks_url,
            "username_key": t.username_claim,
            "tool_name": title,
        }
        extra = {"username_claim": t.username_claim, "deployment_ids": list(t.deployment_ids)}
    else:
        t = lms.lti11
        config = {"username_key": t.username_key, "config_title": title}
        extra = {
            "username_claim": t.username_key,
            "consumer_key": t.consumer_key,
            "secret_env": t.secret_env,
            "secret_file": t.secret_file,
        }
    courses = {}
    contexts = {}
    labels = []
    for course in sorted(manifest.courses, key=lambda c: c.id):
        if course.lms is None:
            continue
        if course.lms.context_id is not None:
            contexts[course.lms.context_id] = course.id
        if course.lms.context_label is not None:
            labels.append([course.lms.context_label, course.id])
        courses[course.id] = {
            "join": role_groups(course),
            "record": {role: launch_group_name(course.id, role) for role in ROLES},
        }
    return {
        "version": lms.version,
        "authenticator": {"class": LTI_AUTHENTICATORS[lms.version], "config": config},
        **extra,
        "roles": {role: list(getattr(lms.roles, role)) for role in ROLES},
        "contexts": contexts,
        "labels": labels,
        "courses": courses,
    }


def course_data(manifest: Manifest) -> dict:
    """The whole runtime data for ``manifest`` (deterministic: sorted keys, no dates of generation)."""
    refs = image_refs(manifest)
    hub = manifest.hub
    defaults = hub_settings(manifest)
    courses = {}
    roles = []
    for course in sorted(manifest.courses, key=lambda c: c.id):
        s = course_settings(manifest, course)
        courses[course.id] = {
            "title": course.title,
            "kind": course.kind,
            "start": course.term.start.isoformat(),
            "end": course.term.end.isoformat(),
            "groups": {role: group_name(course.id, role) for role in ROLES},
            "settings": spawn_settings(
                s,
                image_ref=refs[s.image],
                course=course,
                volumes=nbgrader_volumes(manifest, course) if course.grader == "nbgrader" else [],
            ),
        }
        roles += staff_roles(course)
    data = {
        "version": spawn.DATA_VERSION,
        "hub": {"name": hub.name, "url": hub.url},
        "defaults": spawn_settings(defaults, image_ref=refs[defaults.image]),
        "courses": courses,
        "groups": load_groups(manifest),
        "roles": roles,
        "sync_role": sync_service_role(),
        # one service per course for `coursehub collect`; a target defines each one it has a token for
        "collect_roles": [collect_service_role(c) for c in sorted(manifest.courses, key=lambda c: c.id)],
        "jupyter_config": jupyter_config(manifest),
    }
    lms = lms_data(manifest)
    if lms is not None:
        data["lms"] = lms
    return data


def jupyter_config_files(data: dict) -> dict[str, dict]:
    """The Jupyter configuration folders of the course data as files: ``<folder>/<path>`` -> JSON.

    Each target puts them under the folder the runtime points ``$JUPYTER_CONFIG_PATH`` into
    (:data:`coursehub.hub.runtime.spawn.JUPYTER_CONFIG_ROOT` on Kubernetes and single machines).
    """
    return {f"{folder}/{rel}": content for folder, files in sorted(data.get("jupyter_config", {}).items()) for rel, content in sorted(files.items())}
