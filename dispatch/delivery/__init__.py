"""Delivery: the recipients ledger, batching, mail paths, throttling and bounces."""
