"""Cost per student and capacity: the day-by-day model (:mod:`.model`), node packing (:mod:`.packing`), home
directories (:mod:`.storage`), the report (:mod:`.report`) and its charts (:mod:`.charts`)."""
