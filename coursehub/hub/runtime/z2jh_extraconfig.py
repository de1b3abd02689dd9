# coursehub: per-course spawn settings, course groups and staff roles on Zero to JupyterHub.
#
# Fixed code, identical for every university (it is not imported by coursehub; z2jh execs it as
# hub.extraConfig.coursehub). The runtime module is mounted into the hub pod by
# hub.extraFiles.coursehub-runtime and the course data is in custom.coursehub, both read with z2jh's
# own get_config, so the hub image needs nothing installed.
import importlib.util as _coursehub_ilu

_coursehub_spec = _coursehub_ilu.spec_from_file_location(
    "coursehub_spawn", get_config("hub.extraFiles.coursehub-runtime.mountPath")  # noqa: F821 (z2jh)
)
coursehub_spawn = _coursehub_ilu.module_from_spec(_coursehub_spec)
_coursehub_spec.loader.exec_module(coursehub_spawn)
# KubeSpawner's own section: z2jh configures c.KubeSpawner, which would win over c.Spawner.
coursehub_spawn.configure(c, get_config("custom.coursehub"), spawner_section="KubeSpawner")  # noqa: F821
