import { useEffect, useState } from "react";
import { api, errorText } from "../../api/client";
import { can, useMe } from "../../api/me";
import type { Page, Template } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { useI18n } from "../../i18n";
import { Link } from "../../router";
import { formatInZone, isLive, type Campaign } from "./campaignModel";
import { CampaignStatusPill, PauseLine, ProgressBar } from "./CampaignParts";
import { useOrgTimezone } from "./orgTimezone";
import { ErrorBanner } from "../../components/ErrorBanner";

const POLL_MS = 2000; // while one's counters may change (isLive)

/** The organization's campaigns: status, template, when, and how far each has gone. */
export function CampaignsPage() {
  const { t, lang } = useI18n();
  const me = useMe();
  const zone = useOrgTimezone();
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [error, setError] = useState<string | null>(null);
  const report = (err: unknown) => setError(errorText(err));

  const load = () => api<Page<Campaign>>("GET", "/campaigns?per_page=100&sort=-created_at").then((p) => setCampaigns(p.items));
  useEffect(() => {
    load().catch(report);
    api<Page<Template>>("GET", "/templates?per_page=100").then((p) => setTemplates(p.items)).catch(report);
  }, []);
  const live = (campaigns ?? []).some((c) => isLive(c));
  useEffect(() => {
    if (!live) return;
    const timer = setInterval(() => load().catch(() => undefined), POLL_MS);
    return () => clearInterval(timer);
  }, [live]);

  return (
    <div className="page">
      <AppHeader />
      <main className="content wide">
        {error && <ErrorBanner message={error} onDismiss={() => setError(null)} />}
        <section className="card">
          <div className="card-head">
            <h1>{t("campaigns.title")}</h1>
            {can(me, "campaigns:write") &&
              <Link to="/app/campaigns/new" className="button primary-link">{t("campaigns.new")}</Link>}
          </div>
          {campaigns === null ? <p className="muted">{t("common.loading")}</p>
            : campaigns.length === 0 ? <p className="muted">{t("campaigns.empty")}</p>
              : (
                <table className="templates-table campaigns-table">
                  <thead>
                    <tr>
                      <th>{t("common.name")}</th><th>{t("campaigns.status")}</th><th>{t("campaigns.template")}</th>
                      <th>{t("campaigns.scheduled")}</th><th>{t("campaigns.progress")}</th>
                    </tr>
                  </thead>
                  <tbody>
                    {campaigns.map((c) => (
                      <tr key={c.id} className="campaign-row" data-name={c.name}>
                        <td><Link to={`/app/campaigns/${c.id}`}><strong>{c.name}</strong></Link></td>
                        <td><CampaignStatusPill status={c.status} /><PauseLine campaign={c} /></td>
                        <td>{templates.find((tpl) => tpl.id === c.template_id)?.name ?? "—"}</td>
                        <td>{formatInZone(c.scheduled_at, zone, lang)}</td>
                        <td><ProgressBar campaign={c} /></td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
        </section>
      </main>
    </div>
  );
}
