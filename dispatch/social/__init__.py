"""Social: accounts, per-network rendering and publishing."""
