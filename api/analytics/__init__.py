"""Analytics: flow path counts (per node, per edge, drop-off), counted in Redis on
every step and flushed into PostgreSQL (docs/analytics.md)."""

from api.analytics.flush import flush_path_counts
from api.analytics.path import Path, PathCounter, path_of, record_path
from api.analytics.report import flow_analytics

__all__ = ["Path", "PathCounter", "path_of", "record_path", "flush_path_counts", "flow_analytics"]
