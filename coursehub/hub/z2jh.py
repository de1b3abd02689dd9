"""Helm values for the Zero to JupyterHub chart.

The values carry no generated code: the runtime (:mod:`coursehub.hub.runtime.spawn`, stdlib only) is mounted
into the hub pod verbatim with ``hub.extraFiles``, a fixed ``hub.extraConfig`` snippet loads it, and
the course data sits under ``custom.coursehub`` where the snippet reads it with z2jh's
``get_config``. The hub-wide ``singleuser`` settings are the hub's defaults (what a user with no
course in term gets); each course's own settings are applied per spawn by the runtime.
"""

from __future__ import annotations

import copy
from pathlib import Path

from coursehub.access.roles import SYNC_SERVICE, sync_service_role
from coursehub.hub.data import jupyter_config_files, k8s_quantity, nbgrader_claims
from coursehub.hub.runtime import spawn
from coursehub.manifest import Manifest

RUNTIME_MOUNT = "/usr/local/etc/jupyterhub/coursehub/coursehub_spawn.py"
EXTRA_CONFIG = Path(__file__).parent / "runtime" / "z2jh_extraconfig.py"


def split_image(ref: str) -> dict[str, str]:
    """``registry/name:tag`` -> ``{"name": ..., "tag": ...}`` (a colon in the host's port is not a tag)."""
    name, sep, tag = ref.rpartition(":")
    if not sep or "/" in tag:
        return {"name": ref, "tag": "latest"}
    return {"name": name, "tag": tag}


def _file_key(rel: str) -> str:
    # the chart keeps each extra file under this key in a Secret: letters, digits, '-', '_' and '.'
    return "coursehub-" + rel.replace("/", "-")


def values(data: dict) -> dict:
    """The Helm values (a dict) for the hub's course data (:func:`coursehub.hub.data.course_data`)."""
    defaults = data["defaults"]
    sync_role = {k: v for k, v in sync_service_role().items() if k != "name"}
    idle = [c["settings"]["idle_timeout"] for c in data["courses"].values()] + [defaults["idle_timeout"]]
    idle = [t for t in idle if t]
    singleuser: dict = {
        # The chart's default too; stated because KubeSpawner passes the per-course idle-culling
        # arguments only with an explicit command (not the image's own).
        "cmd": "jupyterhub-singleuser",
        "image": split_image(defaults["image"]),
        "defaultUrl": defaults["default_url"],
        "memory": {"guarantee": defaults["mem_guarantee"], "limit": defaults["mem_limit"]},
        "cpu": {"guarantee": defaults["cpu_guarantee"], "limit": defaults["cpu_limit"]},
        # The hub's home size; each course's own is set per spawn by the runtime (KubeSpawner.storage_capacity).
        "storage": {"capacity": defaults["storage_capacity"]},
        # The Jupyter configuration folders the runtime points each server at with
        # $JUPYTER_CONFIG_PATH (nbgrader's menus only in nbgrader courses, their nbgrader_config.json),
        # mounted into every user pod; the chart writes each `data` as JSON.
        "extraFiles": {
            _file_key(rel): {"mountPath": f"{spawn.JUPYTER_CONFIG_ROOT}/{rel}", "data": copy.deepcopy(content)}
            for rel, content in jupyter_config_files(data).items()
        },
    }
    hub_extra = _lms_values(data.get("lms"))
    return {
        "custom": {"coursehub": data},
        "hub": {
            **hub_extra,
            "extraFiles": {
                "coursehub-runtime": {"mountPath": RUNTIME_MOUNT, "stringData": Path(spawn.__file__).read_text(encoding="utf-8")}
            },
            "extraConfig": {"coursehub": EXTRA_CONFIG.read_text(encoding="utf-8")},
            # One named server per course (the runtime sets this too, with the per-user limit, which
            # is a function of the user's courses and so has no place in these values).
            "allowNamedServers": True,
            # The chart generates the service's API token and keeps it in the hub Secret under
            # hub.services.coursehub-sync.apiToken; it is never in these values.
            # (also each course's coursehub-collect-<course> service)
            "services": {SYNC_SERVICE: {}, **{r["services"][0]: {} for r in data["collect_roles"]}},
            "loadRoles": {
                SYNC_SERVICE: sync_role,
                # copies: the same lists twice in one document would be written as YAML anchors
                **{r["name"]: copy.deepcopy({k: v for k, v in r.items() if k != "name"}) for r in data["collect_roles"]},
            },
        },
        "singleuser": singleuser,
        # Each course culls its own servers from inside them (its idle_timeout). The hub-wide culler
        # stays as a safety net for servers that cannot (a crashed kernel manager), set to the longest
        # course timeout so it never cuts a course short.
        # It culls each of a user's course servers on its own. It stops them and never deletes them:
        # deleting a named server deletes its home volume (KubeSpawner's delete_pvc).
        "cull": {"enabled": True, "timeout": max(idle) if idle else 3600, "removeNamedServers": False},
    }


#: The Kubernetes Secret holding LMS secrets (LTI 1.1's shared secret), one key per environment variable.
LMS_SECRET = "coursehub-lti"


def _lms_values(lms: dict | None) -> dict:
    """The authenticator class in ``hub.config`` (the runtime configures it too, from the same data) and
    LTI 1.1's secret as an environment variable read from the ``coursehub-lti`` Secret.

    The z2jh hub image ships ``jupyterhub-ltiauthenticator``, so the values need nothing installed.
    """
    if not lms:
        return {}
    out: dict = {"config": {"JupyterHub": {"authenticator_class": lms["authenticator"]["class"]}}}
    if lms.get("secret_env"):
        name = lms["secret_env"]
        out["extraEnv"] = {name: {"valueFrom": {"secretKeyRef": {"name": LMS_SECRET, "key": name}}}}
    return out


def nbgrader_volume_claims(manifest: Manifest) -> dict | None:
    """The PersistentVolumeClaims nbgrader courses mount (``kubectl apply -f``), or None if none are needed.

    The chart creates no volumes but the users' homes, so the exchange and the course directories
    are claimed here, ReadWriteMany (every course server writes the exchange at once), from
    ``hub.nbgrader_storage.storage_class`` (the cluster's default class when unset). With an NFS
    export the pods mount it directly and nothing is claimed.
    """
    claims = nbgrader_claims(manifest)
    if not claims:
        return None
    storage_class = manifest.hub.nbgrader_storage.storage_class
    items = []
    for name, size in claims.items():
        spec: dict = {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": k8s_quantity(size)}}}
        if storage_class:
            spec["storageClassName"] = storage_class
        items.append(
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "coursehub"}},
                "spec": spec,
            }
        )
    return {"apiVersion": "v1", "kind": "List", "items": items}
