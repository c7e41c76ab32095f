"""Editions: newsletters, alerts and digests, assembled from items and compiled once."""
