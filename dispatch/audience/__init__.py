"""Audience: subscribers, preferences, consent ledger, suppression and signed links."""
