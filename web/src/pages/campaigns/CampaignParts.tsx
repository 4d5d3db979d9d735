import { useI18n } from "../../i18n";
import type { Campaign, CampaignStatus } from "./campaignModel";
import { pauseCause, pauseHintKey, pauseReasonOf, progressOf } from "./campaignModel";

export function CampaignStatusPill({ status }: { status: CampaignStatus }) {
  const { t } = useI18n();
  const kind = status === "completed" ? "ok" : status === "cancelled" ? "error"
    : status === "running" || status === "scheduled" || status === "paused" ? "wait" : "";
  return <span className={`pill status-pill ${kind}`} data-status={status}>{t(`campaigns.status.${status}`)}</span>;
}

/** sent / total as a bar and its numbers. */
export function ProgressBar({ campaign }: { campaign: Campaign }) {
  const { t } = useI18n();
  const p = progressOf(campaign);
  const label = t("campaigns.sentOfTotal", { sent: p.sent, total: p.total });
  return (
    <div className="campaign-progress">
      <div className="progress-track" role="progressbar" aria-label={t("campaigns.progress")} aria-valuemin={0}
        aria-valuemax={p.total} aria-valuenow={p.sent} aria-valuetext={label}>
        <div className="progress-fill" style={{ width: `${p.percent}%` }} />
      </div>
      <span className="small progress-text">{label}</span>
    </div>
  );
}

/** Why PyTake paused the campaign and what to do before resuming; nothing otherwise. */
export function PauseNotice({ campaign, canResume }: { campaign: Campaign; canResume: boolean }) {
  const { t } = useI18n();
  const reason = pauseReasonOf(campaign);
  if (!reason) return null;
  const cause = pauseCause(reason);
  return (
    <div className="pause-notice" role="note" aria-label={t("campaigns.pausedBy")} data-cause={cause}>
      <div><strong>{t("campaigns.pausedBy")}</strong> — {t(`campaigns.pauseCause.${cause}`)}</div>
      <p className="pause-reason">{reason}</p>
      <p className="small">{t(pauseHintKey(reason, canResume))}</p>
    </div>
  );
}

/** The list's second line under a paused campaign's status: what it is about, the reason on hover. */
export function PauseLine({ campaign }: { campaign: Campaign }) {
  const { t } = useI18n();
  const reason = pauseReasonOf(campaign);
  if (!reason) return null;
  return <div className="pause-line small" title={reason}>{t(`campaigns.pauseCause.${pauseCause(reason)}`)}</div>;
}
