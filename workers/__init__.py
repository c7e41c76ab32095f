"""Celery app and thin tasks: ids in, a dispatch service call, commit."""
