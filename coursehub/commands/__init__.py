"""CLI commands of each capability; every module here exposes ``register(app)``."""
