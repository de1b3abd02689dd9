"""Fixed JupyterHub configuration code shipped with coursehub; it reads generated data, never templates."""
