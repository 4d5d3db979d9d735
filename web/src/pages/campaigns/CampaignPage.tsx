import { useCallback, useEffect, useState } from "react";
import { api, ApiError, errorText } from "../../api/client";
import { can, useMe } from "../../api/me";
import type { Template } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { useI18n } from "../../i18n";
import type { MessageKey } from "../../i18n/messages";
import { Link } from "../../router";
import { canDo, formatInZone, isLive, type Action, type Campaign } from "./campaignModel";
import { CampaignStatusPill, PauseNotice, ProgressBar } from "./CampaignParts";
import { CampaignRecipients } from "./CampaignRecipients";
import { useOrgTimezone } from "./orgTimezone";
import { ErrorBanner } from "../../components/ErrorBanner";

const POLL_MS = 2000; // while its counters may change (isLive)
const ACTIONS: Action[] = ["start", "pause", "resume", "cancel"];
const COUNTERS: [keyof Campaign, MessageKey][] = [
  ["total_recipients", "campaigns.recipients"], ["sent_count", "campaigns.sent"], ["delivered_count", "campaigns.delivered"],
  ["read_count", "campaigns.read"], ["replied_count", "campaigns.replied"], ["failed_count", "campaigns.failedCount"],
  ["skipped_count", "campaigns.skipped"],
];

/** Changes when a recipient may have changed: the recipients table reloads then. */
const recipientsVersion = (c: Campaign) =>
  [c.status, c.total_recipients, c.sent_count, c.delivered_count, c.read_count, c.failed_count, c.skipped_count].join(":");

/** One campaign: live counters while it sends, and the actions its state allows. */
export function CampaignPage({ campaignId }: { campaignId: string }) {
  const { t, lang } = useI18n();
  const me = useMe();
  const zone = useOrgTimezone();
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [template, setTemplate] = useState<Template | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => setCampaign(await api<Campaign>("GET", `/campaigns/${campaignId}`)), [campaignId]);
  useEffect(() => {
    load().catch((err) => setError(err instanceof ApiError && err.status === 404 ? t("campaigns.notFound") : errorText(err)));
  }, [load]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (campaign?.template_id && template?.id !== campaign.template_id)
      api<Template>("GET", `/templates/${campaign.template_id}`).then(setTemplate).catch(() => undefined);
  }, [campaign?.template_id, template?.id]);
  const live = campaign !== null && isLive(campaign);
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => load().catch(() => undefined), POLL_MS);
    return () => clearInterval(timer);
  }, [live, load]);

  async function act(action: Action) {
    if (!campaign) return;
    if (action === "cancel" && !confirm(t("campaigns.confirmCancel", { name: campaign.name }))) return;
    setError(null);
    setBusy(true);
    try {
      setCampaign(await api<Campaign>("POST", `/campaigns/${campaign.id}/${action}`, {}));
    } catch (err) {
      // the API's refusal (409 from the wrong state, 403 plan limit, 422) as it says it
      setError(t("campaigns.actionRefused", { message: errorText(err) }));
      await load().catch(() => undefined);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="page">
      <AppHeader />
      <main className="content wide">
        <div className="breadcrumb"><Link to="/app/campaigns">{t("campaigns.title")}</Link><span className="muted">/</span>
          <span>{campaign?.name ?? "…"}</span></div>
        {error && <ErrorBanner message={error} onDismiss={() => setError(null)} />}
        {campaign && (
          <section className="card stack campaign-detail">
            <div className="card-head">
              <h1>{campaign.name}</h1>
              <CampaignStatusPill status={campaign.status} />
            </div>
            <PauseNotice campaign={campaign} canResume={can(me, "campaigns:write")} />
            {can(me, "campaigns:write") && <div className="row" role="toolbar" aria-label={t("templates.actions")}>
              {ACTIONS.map((action) => (
                <button key={action} type="button" className={action === "cancel" ? "danger" : action === "start" ? "primary" : ""}
                  disabled={busy || !canDo(action, campaign.status)} onClick={() => act(action)}>
                  {t(`campaigns.${action}`)}</button>
              ))}
            </div>}
            <ProgressBar campaign={campaign} />
            <dl className="counters" aria-label={t("campaigns.progress")}>
              {COUNTERS.map(([key, label]) => (
                <div key={key} className="counter" data-counter={key}>
                  <dt>{t(label)}</dt><dd>{(campaign[key] as number | null | undefined) ?? 0}</dd>
                </div>
              ))}
            </dl>
            <p className="muted small" role="status">{live ? t("campaigns.live") : ""}</p>
            <dl className="facts">
              <dt>{t("campaigns.template")}</dt><dd>{template?.name ?? "—"}</dd>
              <dt>{t("campaigns.scheduled")}</dt><dd>{formatInZone(campaign.scheduled_at, zone, lang)} <span className="muted small">({zone})</span></dd>
              <dt>{t("campaigns.started")}</dt><dd>{formatInZone(campaign.started_at, zone, lang)}</dd>
              <dt>{t("campaigns.ended")}</dt><dd>{formatInZone(campaign.completed_at, zone, lang)}</dd>
            </dl>
          </section>
        )}
        {campaign && <CampaignRecipients campaignId={campaign.id} zone={zone} version={recipientsVersion(campaign)} />}
      </main>
    </div>
  );
}
