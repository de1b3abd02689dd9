"""The shared hub: per-course data (:mod:`.data`), Zero to JupyterHub values (:mod:`.z2jh`), the single-machine
config (:mod:`.singlemachine`), the local hub (:mod:`.local`, :mod:`.gitserve`), the one REST client of a live hub
(:mod:`.client`: sync, collect and the LMS grade push use it), and :mod:`.runtime`, the code that runs inside
JupyterHub."""
