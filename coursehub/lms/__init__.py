"""The LMS side of the hub: the tool's registration (:mod:`.tool`), its keys (:mod:`.keys`) and grade
passback over LTI 1.3 Assignment and Grade Services (:mod:`.ags`).

Sign-in itself is JupyterHub's LTI authenticator, configured and hooked by the hub runtime
(:mod:`coursehub.hub.runtime.spawn`); rosters from LMS exports are read by
:mod:`coursehub.manifest.rosters_lms`.
"""
