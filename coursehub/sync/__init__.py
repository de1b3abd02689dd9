"""Roster sync with a live hub: the one hub client (:mod:`.hubclient`), planning (:mod:`.plan`) and applying (:mod:`.apply`)."""
