"""Who may do what: principals, the permission matrix, and the request dependencies."""
