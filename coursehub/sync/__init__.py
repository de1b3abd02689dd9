"""Roster sync with a live hub: planning (:mod:`.plan`) and applying (:mod:`.apply`), through the hub client (:mod:`coursehub.hub.client`)."""
