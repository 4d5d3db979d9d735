"""Analytics (docs/analytics.md): flow path counts (per node, per edge, drop-off),
counted on every step and flushed into PostgreSQL; ``chatbots.statistics`` kept
current from the domain events; analytics snapshots per organization and period."""

from api.analytics.chatbot_statistics import update_chatbot_statistics
from api.analytics.flush import flush_path_counts
from api.analytics.path import Path, PathCounter, path_of, record_path
from api.analytics.periods import PERIODS
from api.analytics.report import flow_analytics
from api.analytics.snapshots import backfill_snapshots, list_snapshots, refresh_snapshots

__all__ = ["Path", "PathCounter", "path_of", "record_path", "flush_path_counts", "flow_analytics", "update_chatbot_statistics",
           "PERIODS", "backfill_snapshots", "list_snapshots", "refresh_snapshots"]
