"""dispatch: newsletters, alerts, digests and social posts from what an organisation publishes."""

__version__ = "0.1.0"
