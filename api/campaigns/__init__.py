"""Campaigns that send: the audience (`audience`), the state machine (`control`),
the runner sending through the outbox (`runner`), the maintenance chore
(`schedule`) and opt-outs (`opt_out`). See docs/campaigns.md."""

from api.campaigns.audience import check_filters, materialise
from api.campaigns.control import begin, cancel, local_time, pause, resume, sending_plan, start
from api.campaigns.runner import CampaignRun, campaign_lease, load_run, run_campaign

__all__ = ["CampaignRun", "begin", "campaign_lease", "cancel", "check_filters", "load_run", "local_time",
           "materialise", "pause", "resume", "run_campaign", "sending_plan", "start"]
