"""CLI commands of each capability; each module decorates the apps of :mod:`coursehub.commands._shared`."""
