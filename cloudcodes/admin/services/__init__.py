"""The console's own services: what only staff do and no feature package owns (staff accounts)."""
