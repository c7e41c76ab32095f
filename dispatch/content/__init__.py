"""Content: sources, items, topics, sanitising and publication rules."""
