"""Relational data: models, sessions, partitions (see docs/data-layer.md)."""
