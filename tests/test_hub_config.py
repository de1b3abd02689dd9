"""The generated hub configuration, without a hub: goldens, the chart's schema, KubeSpawner's own pod
manifest, the single-machine snippet loaded by traitlets as JupyterHub loads it, the spawn-time
resolution and the staff roles."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
from pathlib import Path
from types import SimpleNamespace

import jsonschema
import pytest
from traitlets.config import Config, PyFileConfigLoader

from coursehub import emit

from coursehub.hub.runtime import spawn
from coursehub.build import render
from coursehub.hub import z2jh
from coursehub.hub.data import course_data
from coursehub.manifest.loader import load_manifest
from goldens import check_goldens
from coursehub.access.roles import staff_roles, sync_service_role

TRICKY_TITLE = 'Data "Science" \'101\'\n{{ evil }} {% raw %} </option><script>alert(1)</script> ${HOME} `id`'


def hub_files(manifest) -> dict[str, bytes]:
    return render(manifest, only=["hub"]).files


def test_example_matches_goldens(example_manifest, update_goldens):
    files = hub_files(example_manifest)
    assert set(files) == {
        "hub/README.md",
        "hub/z2jh/values.yaml",
        "hub/z2jh/nbgrader-volumes.yaml",  # data-c88 grades with nbgrader; the example claims from a storage class
        "hub/single-machine/jupyterhub_config.d/coursehub.py",
        "hub/single-machine/coursehub-courses.json",
        "hub/lti/README.md",
        "hub/lti/tool.json",
        "hub/lti/canvas-developer-key.json",
        "hub/lti/jwks.json",
        # nbgrader off everywhere but in the nbgrader course, which gets its nbgrader_config.json
        "hub/single-machine/jupyter/no-nbgrader/jupyter_server_config.json",
        "hub/single-machine/jupyter/no-nbgrader/labconfig/page_config.json",
        "hub/single-machine/jupyter/nbgrader-data-c88-fa26/nbgrader_config.json",
    }
    snippet = "hub/single-machine/jupyterhub_config.d/coursehub.py"
    # no golden copy of the snippet: it must be the runtime itself, checked below
    check_goldens(files, update=update_goldens, skip=lambda rel: rel == snippet)
    # the single-machine snippet is the runtime, verbatim: fixed code, never generated
    assert files[snippet] == Path(spawn.__file__).read_bytes()


def test_build_is_deterministic(example_manifest):
    assert hub_files(example_manifest) == hub_files(example_manifest)


def _schema_without_defaults_required(node):
    """The chart validates values merged over its own defaults, which fill every ``required`` key; a
    user's values file is a partial overlay. Drop ``required`` except where it picks a ``oneOf``
    branch (extraFiles: exactly one of data/stringData/binaryData), which still applies to overlays."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "required":
                continue
            if k in ("oneOf", "anyOf"):
                out[k] = v
            else:
                out[k] = _schema_without_defaults_required(v)
        return out
    if isinstance(node, list):
        return [_schema_without_defaults_required(v) for v in node]
    return node


@pytest.fixture(scope="module")
def chart_schema(repo_root):
    path = Path(repo_root).parent / "shared" / "data" / "z2jh-values.schema.json"
    return _schema_without_defaults_required(json.loads(path.read_text()))


def test_z2jh_values_pass_the_chart_schema(example_manifest, chart_schema):
    values = emit.load_yaml_text(hub_files(example_manifest)["hub/z2jh/values.yaml"].decode())
    jsonschema.validate(values, chart_schema)
    # the validator does reject what the chart rejects
    for path, bad in [(("cull", "timeout"), "30m"), (("singleuser", "cpu", "limit"), "two"), (("hub", "extraFiles", "coursehub-runtime", "oops"), 1)]:
        broken = copy.deepcopy(values)
        node = broken
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = bad
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(broken, chart_schema)


def helm_merge(defaults, overlay):
    """Values as Helm sees them: maps merge key by key, a null removes a default, lists and scalars replace."""
    if not isinstance(defaults, dict) or not isinstance(overlay, dict):
        return copy.deepcopy(overlay)
    out = copy.deepcopy(defaults)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = helm_merge(out.get(key), value)
    return out


@pytest.fixture(scope="module")
def chart_defaults(repo_root):
    return emit.load_yaml_text((Path(repo_root).parent / "shared" / "data" / "z2jh-values.defaults.yaml").read_text())


@pytest.fixture(scope="module")
def full_chart_schema(repo_root):
    return json.loads((Path(repo_root).parent / "shared" / "data" / "z2jh-values.schema.json").read_text())


def test_values_merged_over_the_chart_defaults_pass_its_full_schema(example_manifest, tmp_path, chart_defaults, full_chart_schema):
    """What Helm itself validates: our values merged over the chart's defaults, `required` included."""
    for manifest in (example_manifest, tricky_manifest(tmp_path)):
        values = emit.load_yaml_text(hub_files(manifest)["hub/z2jh/values.yaml"].decode())
        merged = helm_merge(chart_defaults, values)
        jsonschema.validate(merged, full_chart_schema)
        # the chart's dynamic storage stays on; only its size is ours
        assert merged["singleuser"]["storage"]["type"] == "dynamic"
        assert merged["singleuser"]["storage"]["capacity"] == values["custom"]["coursehub"]["defaults"]["storage_capacity"]
    # every course carries its own home size for the runtime to set per spawn
    courses = emit.load_yaml_text(hub_files(example_manifest)["hub/z2jh/values.yaml"].decode())["custom"]["coursehub"]["courses"]
    assert {cid: c["settings"]["storage_capacity"] for cid, c in courses.items()} == {
        "climate-hackweek-26": "10Gi",
        "data-c8-fa26": "2Gi",
        "data-c88-fa26": "2Gi",
        "stat-20-fa26": "2Gi",
    }
    # a capacity the chart would refuse is refused here too
    broken = helm_merge(chart_defaults, {"singleuser": {"storage": {"capacity": 10}}})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, full_chart_schema)


def test_jupyter_configuration_turns_nbgrader_on_only_for_its_courses(example_manifest):
    from coursehub.grading import nbgrader

    data = course_data(example_manifest)
    assert {c: d["settings"]["jupyter_config"] for c, d in data["courses"].items()} == {
        "climate-hackweek-26": "no-nbgrader",
        "data-c8-fa26": "no-nbgrader",
        "data-c88-fa26": "nbgrader-data-c88-fa26",
        "stat-20-fa26": "no-nbgrader",
    }
    assert data["defaults"]["jupyter_config"] == "no-nbgrader"
    off = data["jupyter_config"]["no-nbgrader"]
    assert off["labconfig/page_config.json"] == {"disabledExtensions": {"@jupyter/nbgrader": True}}
    # every server extension the installed nbgrader enables (its jupyter_server_config.d) is switched off
    import sys

    installed = json.loads((Path(sys.prefix) / "etc/jupyter/jupyter_server_config.d/nbgrader.json").read_text())
    switched_off = off["jupyter_server_config.json"]["ServerApp"]["jpserver_extensions"]
    assert set(installed["ServerApp"]["jpserver_extensions"]) <= set(switched_off) == set(nbgrader.SERVER_EXTENSIONS)
    assert not any(switched_off.values())
    c88 = data["jupyter_config"]["nbgrader-data-c88-fa26"]["nbgrader_config.json"]
    assert c88["CourseDirectory"]["course_id"] == "data-c88-fa26" and c88["Exchange"]["path_includes_course"] is True
    # z2jh mounts the same files into every user pod, where the runtime looks for them
    values = z2jh.values(data)
    mounted = {f["mountPath"]: f["data"] for f in values["singleuser"]["extraFiles"].values()}
    assert mounted[f"{spawn.JUPYTER_CONFIG_ROOT}/no-nbgrader/labconfig/page_config.json"] == off["labconfig/page_config.json"]
    assert mounted[f"{spawn.JUPYTER_CONFIG_ROOT}/nbgrader-data-c88-fa26/nbgrader_config.json"] == c88


def nbgrader_manifest(tmp_path: Path, storage: dict):
    (tmp_path / "manifest.yaml").write_text(
        emit.to_yaml(
            {
                "hub": {"name": "nbg", "url": "https://hub.nbg.edu", "image": "py", "nbgrader_storage": storage},
                "images": {"py": {"standard": "data8", "packages": ["nbgrader==0.9.6"]}},
                "courses": [
                    {
                        "id": "nbg-101",
                        "title": "nbgrader course",
                        "term": {"start": "2026-08-01", "end": "2026-12-31"},
                        "grader": "nbgrader",
                        "staff": {"instructors": ["prof-n"], "tas": ["ta-n"]},
                        "students": ["stu-n", "stu-both"],
                    },
                    {
                        "id": "otter-102",
                        "title": "otter course",
                        "term": {"start": "2026-08-01", "end": "2026-12-31"},
                        "grader": "otter",
                        "students": ["stu-o", "stu-both"],
                    },
                ],
            }
        ).decode()
    )
    return load_manifest(tmp_path / "manifest.yaml")[0]


def _volumes(pod) -> dict[str, dict]:
    out = {}
    for v in pod.spec.volumes:
        d = v if isinstance(v, dict) else v.to_dict()
        out[d["name"]] = d
    return out


@pytest.mark.parametrize(
    "storage",
    [{"storage_class": "nfs-client", "exchange_size": "50G"}, {"nfs": {"server": "nfs.nbg.edu", "path": "/exports/nbgrader"}}],
    ids=["storage-class", "nfs"],
)
def test_nbgrader_courses_get_the_exchange_and_their_staff_the_course_directory(
    tmp_path, monkeypatch, storage, full_chart_schema, chart_defaults
):
    from kubernetes_asyncio.client import V1PersistentVolumeClaim, V1PersistentVolumeClaimSpec, V1ObjectMeta

    manifest = nbgrader_manifest(tmp_path, storage)
    files = hub_files(manifest)
    values = emit.load_yaml_text(files["hub/z2jh/values.yaml"].decode())
    # the chart accepts the values as Helm sees them: merged over its defaults, `required` included
    merged = helm_merge(chart_defaults, values)
    jsonschema.validate(merged, full_chart_schema)
    broken = copy.deepcopy(merged)
    broken["singleuser"]["extraFiles"]["coursehub-no-nbgrader-jupyter_server_config.json"]["mountPath"] = 7
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, full_chart_schema)

    claims = "hub/z2jh/nbgrader-volumes.yaml"
    if "nfs" in storage:
        assert claims not in files  # the pods mount the export; nothing to claim
    else:
        listed = emit.load_yaml_text(files[claims].decode())
        assert listed["kind"] == "List"
        by_name = {i["metadata"]["name"]: i for i in listed["items"]}
        assert set(by_name) == {"coursehub-nbgrader-exchange", "coursehub-nbgrader-nbg-101"}
        for item in listed["items"]:
            spec = item["spec"]
            # Kubernetes' own models take exactly these fields (a misspelt one raises TypeError)
            V1PersistentVolumeClaim(
                api_version=item["apiVersion"], kind=item["kind"], metadata=V1ObjectMeta(**item["metadata"]),
                spec=V1PersistentVolumeClaimSpec(
                    access_modes=spec["accessModes"], storage_class_name=spec["storageClassName"], resources=spec["resources"]
                ),
            )
            assert spec["accessModes"] == ["ReadWriteMany"] and spec["storageClassName"] == "nfs-client"
        assert by_name["coursehub-nbgrader-exchange"]["spec"]["resources"]["requests"]["storage"] == "50Gi"

    monkeypatch.setenv(spawn.TODAY_ENV, "2026-09-01")
    c = z2jh_config(values, tmp_path)

    def mounts(user, groups, server):
        pod = pod_for(c, user, groups, server)
        ctr = pod.spec.containers[0]
        return {m.mount_path: m.name for m in ctr.volume_mounts}, _volumes(pod)

    student, volumes = mounts("stu-n", ["coursehub-nbg-101-students"], "nbg-101")
    assert student.get("/srv/nbgrader/exchange") == "coursehub-nbgrader-exchange"
    assert "/srv/nbgrader/courses/nbg-101" not in student  # the gradebook is the staff's
    exchange = volumes["coursehub-nbgrader-exchange"]
    if "nfs" in storage:
        assert exchange["nfs"] == {"server": "nfs.nbg.edu", "path": "/exports/nbgrader/exchange"}
    else:
        claim = exchange.get("persistentVolumeClaim") or exchange.get("persistent_volume_claim")
        assert (claim.get("claimName") or claim.get("claim_name")) == "coursehub-nbgrader-exchange"
    for ta in (("ta-n", ["coursehub-nbg-101-tas"]), ("prof-n", ["coursehub-nbg-101-instructors"])):
        staff, volumes = mounts(*ta, "nbg-101")
        assert staff.get("/srv/nbgrader/exchange") and staff.get("/srv/nbgrader/courses/nbg-101") == "coursehub-nbgrader-course"
        if "nfs" in storage:
            assert volumes["coursehub-nbgrader-course"]["nfs"]["path"] == "/exports/nbgrader/courses/nbg-101"
    # the otter course's server (of a student in both) mounts nothing of nbgrader's
    other, _ = mounts("stu-both", ["coursehub-nbg-101-students", "coursehub-otter-102-students"], "otter-102")
    assert not any(path.startswith("/srv/nbgrader") for path in other)


def test_values_hold_the_runtime_and_no_secrets(example_manifest):
    values = z2jh.values(course_data(example_manifest))
    assert values["hub"]["extraFiles"]["coursehub-runtime"]["stringData"] == Path(spawn.__file__).read_text()
    # the chart generates every service's token: sync, and one collect service per course
    assert values["hub"]["services"] == {"coursehub-sync": {}, **{f"coursehub-collect-{c.id}": {} for c in example_manifest.courses}}
    collect = values["hub"]["loadRoles"]["coursehub-collect-data-c8-fa26"]
    assert collect["services"] == ["coursehub-collect-data-c8-fa26"]
    assert all(s.endswith("!group=coursehub-data-c8-fa26-students") for s in collect["scopes"])
    data_only = copy.deepcopy(values)
    del data_only["hub"]["extraFiles"], data_only["hub"]["extraConfig"]  # fixed code, which names the key
    assert "api_token" not in json.dumps(data_only) and "apiToken" not in json.dumps(data_only)
    # the hub-wide culler never cuts a course shorter than its own idle policy (hackweek: 2h)
    assert values["cull"]["timeout"] == 7200


def tricky_manifest(tmp_path: Path):
    (tmp_path / "manifest.yaml").write_text(
        emit.to_yaml(
            {
                "hub": {"name": "tricky", "url": "https://hub.tricky.edu", "image": "py"},
                "images": {"py": {"standard": "data8", "packages": ["nbgrader==0.9.6"]}},
                "courses": [
                    {
                        "id": "quotes-101",
                        "title": TRICKY_TITLE,
                        "term": {"start": "2026-08-01", "end": "2026-12-31"},
                        "resources": {
                            "memory": {"guarantee": "1G", "limit": "3G"},
                            "cpu": {"guarantee": 0.5, "limit": 2},
                            "storage": "1536M",
                        },
                        "staff": {"instructors": ["prof-q"], "tas": ["ta-q"]},
                        "students": ["stu-a", "stu-both"],
                        "environment": {"GREETING": 'say "{{ hi }}"\n$(rm -rf /)'},
                        "node_selector": {"pool": "gpu-small"},
                        "shared_data": {"volume": "quotes-data", "mount_path": "/home/jovyan/data"},
                    },
                    {
                        "id": "other-202",
                        "title": "Other",
                        "term": {"start": "2026-08-01", "end": "2026-12-31"},
                        "interface": "notebook",
                        "staff": {"instructors": ["prof-o"]},
                        "students": ["stu-b", "stu-both"],
                    },
                ],
            }
        ).decode()
    )
    return load_manifest(tmp_path / "manifest.yaml")[0]


def test_tricky_strings_come_out_as_the_same_data(tmp_path):
    manifest = tricky_manifest(tmp_path)
    files = hub_files(manifest)
    data = json.loads(files["hub/single-machine/coursehub-courses.json"])
    values = emit.load_yaml_text(files["hub/z2jh/values.yaml"].decode())
    for d in (data, values["custom"]["coursehub"]):
        assert d["courses"]["quotes-101"]["title"] == TRICKY_TITLE
        assert d["courses"]["quotes-101"]["settings"]["environment"]["GREETING"] == 'say "{{ hi }}"\n$(rm -rf /)'
    # a refusal names the course by its id, never by its (free-text) title: JupyterHub sends the
    # message as the HTTP reason phrase too
    refusal = spawn.CourseIndex(data).refusal("quotes-101")
    assert "quotes-101" in refusal and "Science" not in refusal and refusal.isascii()
    assert spawn.CourseIndex(data).refusal("été\r\n").isascii()


# --- the runtime ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_index(example_manifest):
    return spawn.CourseIndex(course_data(example_manifest))


def groups_of(manifest, user):
    return sorted(name for name, g in course_data(manifest)["groups"].items() if user in g["users"])


def test_courses_in_term_are_the_users_own(example_manifest, example_index):
    term = dt.date(2026, 11, 25)
    both = groups_of(example_manifest, "chen.costa16")  # in data-c8 and data-c88
    assert example_index.in_term(both, term) == ["data-c8-fa26", "data-c88-fa26"]
    # the hackweek is in the future today, and in term on its first day
    helper = groups_of(example_manifest, "hack-helper-1")
    assert example_index.in_term(helper, term) == []
    assert example_index.in_term(helper, dt.date(2026, 12, 3)) == ["climate-hackweek-26"]
    assert example_index.in_term(helper, dt.date(2026, 12, 5)) == []
    assert example_index.roles_in(groups_of(example_manifest, "ta-lee"), "data-c8-fa26") == ["tas"]


def test_the_server_name_decides_the_course(example_manifest, example_index):
    term, after = dt.date(2026, 11, 25), dt.date(2027, 1, 10)
    both = groups_of(example_manifest, "chen.costa16")
    course, s = example_index.resolve(both, "data-c88-fa26", term)
    assert course == "data-c88-fa26" and s["default_url"] == "/tree" and s["mem_limit"] == 2 * 1024**3
    course, s = example_index.resolve(both, "data-c8-fa26", term)
    assert course == "data-c8-fa26" and s["default_url"] == "/lab" and s["cpu_limit"] == 1
    # the default server is no course's: the hub's defaults
    assert example_index.resolve(both, "", term) == (None, example_index.defaults)
    for foreign in ("stat-20-fa26", "no-such-course", "climate-hackweek-26"):
        with pytest.raises(spawn.CourseRefused):
            example_index.resolve(both, foreign, term)
    # staff start their course's server like its students
    assert example_index.resolve(groups_of(example_manifest, "ta-lee"), "data-c8-fa26", term)[0] == "data-c8-fa26"
    # after the term the course grants nothing: the hub's defaults, but the owner still gets in
    course, s = example_index.resolve(both, "data-c88-fa26", after)
    assert course is None and s == example_index.defaults and s["mem_limit"] == 1024**3
    with pytest.raises(spawn.CourseRefused):
        example_index.resolve(both, "stat-20-fa26", after)


class FakeUser:
    def __init__(self, name, groups, servers=()):
        self.name = name
        self.id = 7
        self.escaped_name = name
        self.url = f"/user/{name}/"
        self.admin = False
        self.groups = [SimpleNamespace(name=g) for g in groups]
        self.orm_spawners = {s: object() for s in servers}


def spawner_for(user, server_name, config=None):
    from jupyterhub.spawner import LocalProcessSpawner

    return LocalProcessSpawner(config=config or Config(), user=user, orm_spawner=SimpleNamespace(name=server_name, server=None))


def test_apply_resets_between_courses(example_manifest, example_index, monkeypatch):
    monkeypatch.setenv(spawn.TODAY_ENV, "2026-11-25")
    c = Config()
    c.Spawner.args = ["--ServerApp.allow_root=True"]
    c.Spawner.environment = {"KEEP": "1"}
    user = FakeUser("chen.costa16", groups_of(example_manifest, "chen.costa16"))
    sp = spawner_for(user, "data-c88-fa26", c)
    example_index.apply_user_options(sp, {})
    assert sp.mem_limit == 2 * 1024**3 and sp.mem_guarantee == 1024**3 and sp.cpu_limit == 2
    assert sp.default_url == "/tree" and sp.environment["COURSEHUB_COURSE"] == "data-c88-fa26"
    assert "--MappingKernelManager.cull_idle_timeout=3600" in sp.args
    # a spawner without volumes (a single machine, a local process) has no home size to set: not enforced there
    assert not sp.has_trait("storage_capacity") and "storage_capacity" not in sp.__dict__
    # nbgrader's course: its own Jupyter configuration folder (its nbgrader_config.json)
    assert sp.environment["JUPYTER_CONFIG_PATH"] == f"{spawn.JUPYTER_CONFIG_ROOT}/nbgrader-data-c88-fa26"
    # the same spawner object, renamed: nothing of data-c88 is left over
    sp.orm_spawner = SimpleNamespace(name="data-c8-fa26", server=None)
    example_index.apply_user_options(sp, {})
    assert {k: v for k, v in sp.environment.items() if k != "JUPYTER_CONFIG_PATH"} == {
        "KEEP": "1", "COURSEHUB_COURSE": "data-c8-fa26", "COURSEHUB_IMAGE": "data8"
    }
    assert sp.environment["JUPYTER_CONFIG_PATH"] == f"{spawn.JUPYTER_CONFIG_ROOT}/no-nbgrader"  # an otter course
    assert sp.args[0] == "--ServerApp.allow_root=True" and sp.args.count("--ServerApp.shutdown_no_activity_timeout=1800") == 1
    assert len(sp.args) == 1 + len(spawn.idle_args(1800)) and sp.default_url == "/lab" and sp.cpu_limit == 1
    from tornado.web import HTTPError

    with pytest.raises(HTTPError) as refused:
        example_index.apply_user_options(spawner_for(user, "stat-20-fa26"), {})
    assert refused.value.status_code == 403 and "not enrolled in stat-20-fa26" in refused.value.reason
    # an option naming another course than the server's is refused, not obeyed
    with pytest.raises(HTTPError) as bad:
        example_index.apply_user_options(spawner_for(user, "data-c8-fa26"), {"course": "data-c88-fa26"})
    assert bad.value.status_code == 400


def test_single_machine_servers_of_one_student_get_their_own_systemd_units(example_manifest, example_index, monkeypatch):
    """SystemdSpawner (TLJH's spawner) names a unit after the user alone and stops a running unit of
    that name when a server starts: each course server must get its own, or the second kills the first."""
    from systemdspawner import SystemdSpawner

    monkeypatch.setenv(spawn.TODAY_ENV, "2026-12-03")  # the hackweek's first day
    # a hackweek participant, given data-c8 too
    user = FakeUser("hana.brown14", groups_of(example_manifest, "hana.brown14") + groups_of(example_manifest, "chen.costa16"))
    units = {}
    for server in ("data-c8-fa26", "climate-hackweek-26"):
        sp = SystemdSpawner(user=user, orm_spawner=SimpleNamespace(name=server, server=None))
        assert sp.unit_name == "jupyter-hana.brown14-singleuser"  # what SystemdSpawner alone would use for both
        example_index.apply_user_options(sp, {})
        units[server] = sp.unit_name
        assert sp.get_state()["unit_name"] == sp.unit_name  # kept across hub restarts
    assert units == {
        "data-c8-fa26": "jupyter-hana.brown14-singleuser-data-c8-fa26",
        "climate-hackweek-26": "jupyter-hana.brown14-singleuser-climate-hackweek-26",
    }
    # and the hackweek's shared data is bind-mounted into its unit, read-only
    assert sp.unit_extra_properties == {"BindReadOnlyPaths": "climate-hackweek-data:/home/jovyan/shared"}
    assert sp.mem_limit == 4 * 1024**3 and sp.environment["COURSEHUB_COURSE"] == "climate-hackweek-26"


def test_links_to_a_course_go_to_its_server(example_index):
    user = FakeUser("chen.costa16", [])
    request = SimpleNamespace(query="repo=https%3A%2F%2Fgit.example%2Fc88&urlpath=tree%2Fc88%2Flab01.ipynb")
    url = example_index.user_redirect("data-c88-fa26/git-pull", request, user, "/")
    path, _, query = url.partition("?")
    assert path == "/hub/spawn/chen.costa16/data-c88-fa26"
    from urllib.parse import parse_qs

    assert parse_qs(query)["next"] == [f"/user/chen.costa16/data-c88-fa26/git-pull?{request.query}"]
    # anything that is not a course: JupyterHub's own user-redirect (the default server)
    assert example_index.user_redirect("lab/tree/x.ipynb", SimpleNamespace(query=""), user, "/") is None


def test_named_server_limit_is_one_per_course_and_refuses_other_names(example_manifest, example_index):
    from tornado.web import HTTPError

    both = FakeUser("chen.costa16", groups_of(example_manifest, "chen.costa16"), servers=["", "data-c8-fa26", "old-course-sp26"])

    def handler(*path_args, current=both):
        return SimpleNamespace(current_user=current, path_args=list(path_args), find_user=lambda name: None)

    # two courses, plus an earlier term's server that never blocks them
    assert example_index.named_server_limit(handler()) == 3
    assert example_index.named_server_limit(handler("chen.costa16", "data-c88-fa26")) == 3
    assert example_index.named_server_limit(handler("chen.costa16", "old-course-sp26")) == 3  # it exists
    for name in ("stat-20-fa26", "my-scratch"):
        with pytest.raises(HTTPError) as refused:
            example_index.named_server_limit(handler("chen.costa16", name))
        assert refused.value.status_code == 403


# --- single machine: the snippet as JupyterHub loads it --------------------------------------------


def load_snippet(tmp_path, manifest, monkeypatch, today):
    root = tmp_path / "single-machine"
    for rel, content in hub_files(manifest).items():
        if rel.startswith("hub/single-machine/"):
            target = root / Path(rel).relative_to("hub/single-machine")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
    monkeypatch.setenv(spawn.TODAY_ENV, today)
    # TLJH's jupyterhub_config.py calls load_subconfig on each jupyterhub_config.d/*.py; this is the
    # traitlets loader behind it.
    return PyFileConfigLoader("coursehub.py", path=str(root / "jupyterhub_config.d")).load_config()


def test_single_machine_snippet_configures_the_hub(tmp_path, example_manifest, monkeypatch):
    c = load_snippet(tmp_path, example_manifest, monkeypatch, "2026-11-25")
    assert callable(c.Spawner.apply_user_options) and "options_form" not in c.Spawner  # no menu
    assert c.JupyterHub.allow_named_servers is True and callable(c.JupyterHub.user_redirect_hook)
    assert callable(c.JupyterHub.named_server_limit_per_user) and callable(c.JupyterHub.default_url)
    assert c.JupyterHub.load_groups == course_data(example_manifest)["groups"]
    assert len(c.JupyterHub.load_groups["coursehub-data-c8-fa26-students"]["users"]) == 120
    assert c.JupyterHub.load_groups["nbgrader-data-c88-fa26"]["properties"] == {"coursehub": {"course": "data-c88-fa26", "role": "nbgrader-students"}}
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert roles["coursehub-data-c8-fa26-instructors"]["groups"] == ["coursehub-data-c8-fa26-instructors"]
    assert roles["coursehub-climate-hackweek-26-tas"]["groups"] == []  # the hackweek has not started
    assert all("course" not in r for r in roles.values())
    assert "coursehub-sync" not in roles  # no token file given: no service, no role


def test_single_machine_after_term_grants_no_roles(tmp_path, example_manifest, monkeypatch):
    token = tmp_path / "sync-token"
    token.write_text("not-a-real-token\n")
    monkeypatch.setenv("COURSEHUB_SYNC_TOKEN_FILE", str(token))
    c = load_snippet(tmp_path, example_manifest, monkeypatch, "2027-01-10")
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    assert all(r["groups"] == [] for n, r in roles.items() if n != "coursehub-sync")
    assert roles["coursehub-sync"]["services"] == ["coursehub-sync"]
    assert c.JupyterHub.services == [{"name": "coursehub-sync", "api_token": "not-a-real-token"}]


# --- Kubernetes: KubeSpawner's own pod manifest ------------------------------------------------------


def z2jh_config(values: dict, tmp_path: Path) -> Config:
    """What z2jh's jupyterhub_config.py does with our values: singleuser -> KubeSpawner, then
    hub.extraConfig exec'd with z2jh's get_config (the runtime file mounted from hub.extraFiles)."""
    runtime = tmp_path / "coursehub_spawn.py"
    runtime.write_text(values["hub"]["extraFiles"]["coursehub-runtime"]["stringData"])
    mounted = copy.deepcopy(values)
    mounted["hub"]["extraFiles"]["coursehub-runtime"]["mountPath"] = str(runtime)

    def get_config(key, default=None):
        node = mounted
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    c = Config()
    su = values["singleuser"]
    c.KubeSpawner.image = f"{su['image']['name']}:{su['image']['tag']}"
    c.KubeSpawner.mem_guarantee = su["memory"]["guarantee"]
    c.KubeSpawner.mem_limit = su["memory"]["limit"]
    c.KubeSpawner.cpu_guarantee = su["cpu"]["guarantee"]
    c.KubeSpawner.cpu_limit = su["cpu"]["limit"]
    c.KubeSpawner.default_url = su["defaultUrl"]
    c.KubeSpawner.cmd = su["cmd"]
    # z2jh's dynamic storage (the chart's default type): a volume per server, of singleuser.storage.capacity
    c.KubeSpawner.storage_pvc_ensure = True
    c.KubeSpawner.storage_capacity = su["storage"]["capacity"]
    c.KubeSpawner.volumes = [{"name": "home", "persistentVolumeClaim": {"claimName": "{pvc_name}"}}]
    c.KubeSpawner.volume_mounts = [{"name": "home", "mountPath": "/home/jovyan"}]
    for _, code in sorted(values["hub"]["extraConfig"].items()):
        exec(code, {"c": c, "get_config": get_config})
    return c


def pod_for(c: Config, user: str, groups: list[str], server: str, options: dict | None = None, *, pvc: bool = False):
    """KubeSpawner's own get_pod_manifest() (or get_pvc_manifest(), the home volume it would create)
    for a user's ``server`` in ``groups`` (its kube-config loading and API client patched out: there is
    no cluster here)."""
    import kubespawner.spawner as ks
    from kubespawner import KubeSpawner

    ks.load_config = lambda **kw: None
    ks.shared_client = lambda *a, **kw: SimpleNamespace()

    mock_user = SimpleNamespace(name=user, id=7, url=f"/user/{user}/", groups=[SimpleNamespace(name=g) for g in groups])

    async def go():
        sp = KubeSpawner(_mock=True, config=c, user=mock_user, orm_spawner=SimpleNamespace(name=server, server=None))
        sp.user_options = options or {}
        await sp.apply_group_overrides()
        await sp._run_apply_user_options(sp.user_options)
        return sp.get_pvc_manifest() if pvc else await sp.get_pod_manifest()

    return asyncio.run(go())


def test_kubespawner_pod_gets_its_course_settings(tmp_path, monkeypatch):
    manifest = tricky_manifest(tmp_path)
    values = emit.load_yaml_text(hub_files(manifest)["hub/z2jh/values.yaml"].decode())
    monkeypatch.setenv(spawn.TODAY_ENV, "2026-09-01")
    c = z2jh_config(values, tmp_path)
    image = values["custom"]["coursehub"]["courses"]["quotes-101"]["settings"]["image"]

    pod = pod_for(c, "stu-a", ["coursehub-quotes-101-students"], "quotes-101")
    ctr = pod.spec.containers[0]
    assert ctr.image == image
    assert ctr.resources.requests == {"memory": 1024**3, "cpu": 0.5}
    assert ctr.resources.limits == {"memory": 3 * 1024**3, "cpu": 2.0}
    assert pod.spec.node_selector == {"pool": "gpu-small"}
    env = {e.name: e.value for e in ctr.env}
    assert env["GREETING"] == 'say "{{ hi }}"\n$(rm -rf /)' and env["COURSEHUB_COURSE"] == "quotes-101"
    assert env["JUPYTERHUB_DEFAULT_URL"] == "/lab"
    mounts = {m.mount_path: m for m in ctr.volume_mounts}
    assert mounts["/home/jovyan/data"].read_only is True and "/home/jovyan" in mounts
    # KubeSpawner passes volume dicts through as given (a V1Volume or a plain dict)
    volumes = [v if isinstance(v, dict) else v.to_dict() for v in pod.spec.volumes]
    claims = {v["name"]: (v.get("persistentVolumeClaim") or v.get("persistent_volume_claim") or {}) for v in volumes}
    claims = {k: c.get("claimName") or c.get("claim_name") for k, c in claims.items() if c}
    assert claims[spawn.SHARED_DATA_VOLUME] == "quotes-data"
    assert "--MappingKernelManager.cull_idle_timeout=1800" in ctr.args

    # a student of the other course: its settings, none of quotes-101's
    pod = pod_for(c, "stu-b", ["coursehub-other-202-students"], "other-202")
    ctr = pod.spec.containers[0]
    assert ctr.resources.limits == {"memory": 1024**3, "cpu": 1.0} and not pod.spec.node_selector
    assert spawn.SHARED_DATA_VOLUME not in {v["name"] if isinstance(v, dict) else v.name for v in pod.spec.volumes}
    assert "GREETING" not in {e.name for e in ctr.env}
    assert {e.name: e.value for e in ctr.env}["JUPYTERHUB_DEFAULT_URL"] == "/tree"

    # the home volume KubeSpawner creates is the course's size (the hub's default for other-202: 10G)
    assert values["singleuser"]["storage"] == {"capacity": "10Gi"}
    assert pod_for(c, "stu-a", ["coursehub-quotes-101-students"], "quotes-101", pvc=True).spec.resources.requests == {"storage": "1536Mi"}
    assert pod_for(c, "stu-b", ["coursehub-other-202-students"], "other-202", pvc=True).spec.resources.requests == {"storage": "10Gi"}

    # a student in both has one server per course, each with its own course's settings
    both = ["coursehub-quotes-101-students", "coursehub-other-202-students"]
    assert pod_for(c, "stu-both", both, "other-202").spec.containers[0].resources.limits["memory"] == 1024**3
    assert pod_for(c, "stu-both", both, "quotes-101").spec.containers[0].resources.limits["memory"] == 3 * 1024**3
    from tornado.web import HTTPError

    with pytest.raises(HTTPError):
        pod_for(c, "stu-b", ["coursehub-other-202-students"], "quotes-101")
    # the default server: the hub's defaults
    assert pod_for(c, "stu-a", ["coursehub-quotes-101-students"], "").spec.containers[0].resources.limits["memory"] == 1024**3

    # after the term: the hub's defaults
    monkeypatch.setenv(spawn.TODAY_ENV, "2027-02-01")
    pod = pod_for(c, "stu-a", ["coursehub-quotes-101-students"], "quotes-101")
    assert pod.spec.containers[0].resources.limits == {"memory": 1024**3, "cpu": 1.0} and not pod.spec.node_selector


# --- roles -------------------------------------------------------------------------------------------


def test_staff_roles_are_scoped_to_their_students(example_manifest):
    for course in example_manifest.courses:
        instructors, tas = staff_roles(course)
        students = f"coursehub-{course.id}-students"
        assert set(tas["scopes"]) < set(instructors["scopes"])  # TAs get no more than instructors
        for scope in instructors["scopes"]:
            assert scope == "admin-ui" or scope.endswith(f"!group={students}"), scope
        assert "access:servers!group=" + students in tas["scopes"]
        assert instructors["groups"] == [f"coursehub-{course.id}-instructors"]
    role = sync_service_role()
    assert role["services"] == ["coursehub-sync"] and "admin:servers" not in role["scopes"]


def test_idle_culling_arguments_name_real_server_settings():
    """Each culling argument names a setting of the installed jupyter-server (a typo would be ignored
    by the server with a warning, and the course would never be culled)."""
    from jupyter_server.serverapp import ServerApp
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
    from jupyter_server_terminals.terminalmanager import TerminalManager

    classes = {"ServerApp": ServerApp, "MappingKernelManager": MappingKernelManager, "TerminalManager": TerminalManager}
    args = spawn.idle_args(3600)
    assert len(args) == 6
    for arg in args:
        name, _, value = arg.removeprefix("--").partition("=")
        cls, _, trait = name.partition(".")
        assert trait in classes[cls].class_traits(), arg
        classes[cls].class_traits()[trait].from_string(value)  # the value parses as the trait's type


@pytest.mark.slow
def test_a_server_with_the_idle_arguments_shuts_itself_down(tmp_path, python_bin):
    """The culling runs inside the server: a jupyter server given ``idle_args`` exits on its own once
    idle (jupyter-server checks once a minute, so a 1-second timeout ends it in about 60 s)."""
    import os
    import signal
    import subprocess
    import time

    from coursehub.hub.local import free_port

    cmd = [str(python_bin / "jupyter-server"), f"--ServerApp.port={free_port()}", "--ServerApp.ip=127.0.0.1", "--ServerApp.open_browser=False"]
    cmd += ["--ServerApp.allow_root=True", f"--ServerApp.root_dir={tmp_path}", *spawn.idle_args(1)]
    env = {**os.environ, "JUPYTER_TOKEN": "idle-test", "HOME": str(tmp_path)}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        started = time.monotonic()
        code = proc.wait(150)
        log = proc.stderr.read()
        assert code == 0 and "shutting down" in log and "No kernels for" in log, log[-2000:]
        assert time.monotonic() - started < 150
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_the_home_page_course_list_escapes_titles_and_keeps_the_operators_announcement():
    from types import SimpleNamespace

    from coursehub.hub.runtime import spawn

    data = {
        "version": spawn.DATA_VERSION,
        "defaults": {},
        "courses": {
            "c-1": {"title": "<script>alert(1)</script> & Co", "start": "2000-01-01", "end": "2999-01-01",
                    "groups": {"students": "coursehub-c-1-students"}, "settings": {}},
        },
    }
    index = spawn.CourseIndex(data)
    user = SimpleNamespace(groups=[SimpleNamespace(name="coursehub-c-1-students")], settings={"base_url": "/jh/"})
    html = index.home_courses(user)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert 'href="/jh/hub/user-redirect/c-1/"' in html
    assert index.home_courses(None) == "" and index.home_courses(SimpleNamespace(groups=[], settings={})) == ""
    from traitlets.config import Config

    c = Config()
    c.JupyterHub.template_vars = {"announcement_home": "Maintenance on Friday"}
    spawn.configure(c, {**data, "groups": {}, "roles": []})
    shown = c.JupyterHub.template_vars["announcement_home"](user)
    assert shown.startswith("Maintenance on Friday<br>Your courses: ")
