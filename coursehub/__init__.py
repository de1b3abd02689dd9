"""coursehub: many courses on one shared JupyterHub, generated from one course manifest."""

__version__ = "0.1.0"
