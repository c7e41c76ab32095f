"""Tasks for audience: ids in, one session, a service call."""

from __future__ import annotations

from workers.app import app

__all__ = ["app"]
