"""Web: the FastAPI app (public pages, admin, hooks, health)."""
