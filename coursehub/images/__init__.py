"""Standard images: the effective package sets (:mod:`.plan`), drift (:mod:`.drift`), repo2docker contexts
(:mod:`.contexts`), the standard sets (:mod:`.standard`), ``images check`` (:mod:`.check`), and ``images advise``
(:mod:`.advise`, from the sizes :mod:`.measure` gets with pip, :mod:`.pip`; drawn by :mod:`.charts`)."""
