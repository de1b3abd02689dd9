"""Code that runs inside JupyterHub: standard library only, reads generated data, never templated.

``spawn.py`` is shipped verbatim as the TLJH snippet and the z2jh extraFiles runtime; ``z2jh_extraconfig.py``
is the chart's extraConfig; ``local_config.py`` is the local hub's config file.
"""
