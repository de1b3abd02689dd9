# JupyterHub configuration for `coursehub hub up` and the end-to-end tests.
# Fixed code: everything specific to a manifest comes from the JSON file named by
# $COURSEHUB_LOCALHUB_SETTINGS (written by coursehub.hub.local); the admin token comes from the
# environment so it is never on disk.
import json
import os

c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

settings = json.load(open(os.environ["COURSEHUB_LOCALHUB_SETTINGS"]))

c.JupyterHub.bind_url = settings["bind_url"]
c.JupyterHub.hub_bind_url = settings["hub_bind_url"]
c.ConfigurableHTTPProxy.api_url = settings["proxy_api_url"]
c.ConfigurableHTTPProxy.command = settings["proxy_command"]
c.ConfigurableHTTPProxy.should_start = True
c.JupyterHub.db_url = settings["db_url"]
c.JupyterHub.cookie_secret_file = settings["cookie_secret_file"]
c.JupyterHub.cleanup_servers = True
# One named server per course, named by the course id (`coursehub collect` reads from it). Set again by the
# course configuration; here so a hub without it, the benchmarks' comparison hub, can start the same servers.
c.JupyterHub.allow_named_servers = True

c.JupyterHub.authenticator_class = "shared-password"
c.SharedPasswordAuthenticator.user_password = settings["password"]
c.Authenticator.admin_users = set(settings["admin_users"])
c.Authenticator.allowed_users = set(settings["allowed_users"])

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = settings["home_dir_template"]
c.Spawner.cmd = settings["singleuser_command"]
c.Spawner.args = ["--ServerApp.allow_root=True"] if settings["allow_root"] else []
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL", "VIRTUAL_ENV", "HOME"]
# The hub's mark (coursehub.hub.local), passed on so the servers and their kernels can be found and
# stopped with the hub even though JupyterHub starts them in sessions of their own.
c.Spawner.environment = {"COURSEHUB_LOCALHUB_ID": os.environ["COURSEHUB_LOCALHUB_ID"]}
# The notebook-server extensions every image installs (coursehub.images.server), here from their folder.
c.Spawner.environment["PYTHONPATH"] = os.pathsep.join(p for p in (settings["server_python_path"], os.environ.get("PYTHONPATH")) if p)
c.Spawner.environment["JUPYTER_CONFIG_PATH"] = settings["server_config_dir"]

if settings["load_groups"] is not None:  # otherwise the course configuration below loads them
    c.JupyterHub.load_groups = settings["load_groups"]
c.JupyterHub.services = [
    {"name": "coursehub-admin", "api_token": os.environ["COURSEHUB_LOCALHUB_ADMIN_TOKEN"]},
]
c.JupyterHub.load_roles = [
    {"name": "coursehub-admin", "scopes": ["admin:users", "admin:groups", "admin:servers", "access:servers", "read:hub", "list:users", "list:groups", "admin-ui"], "services": ["coursehub-admin"]},
]

# The same per-course configuration as the single-machine target (coursehub.hub.runtime.spawn on the generated
# course data), on local processes: the limits reach the server's environment but are not enforced.
if settings.get("courses_file"):
    from coursehub.hub.runtime import spawn

    course_data = spawn.load_data(settings["courses_file"])
    spawn.configure(c, course_data, jupyter_config_root=settings["jupyter_config_root"])
    spawn.add_sync_service(c, course_data, os.environ["COURSEHUB_LOCALHUB_SYNC_TOKEN"])
    spawn.add_collect_services(c, course_data, json.loads(os.environ.get("COURSEHUB_LOCALHUB_COLLECT_TOKENS", "{}")))
