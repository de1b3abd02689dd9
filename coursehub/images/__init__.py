"""Standard images: the effective package sets (:mod:`.plan`), drift (:mod:`.drift`), repo2docker contexts
(:mod:`.contexts`), the standard sets (:mod:`.standard`) and ``images check`` (:mod:`.check`)."""
