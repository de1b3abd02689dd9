"""Who may do what on the hub: group naming and properties (:mod:`.groups`) and RBAC roles (:mod:`.roles`)."""
