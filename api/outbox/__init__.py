"""Sending: the outbox rows, the sender, sent records, the per-number send rate limit, leases."""
