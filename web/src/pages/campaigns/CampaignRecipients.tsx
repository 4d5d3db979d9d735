import { useCallback, useEffect, useState } from "react";
import { api, errorText } from "../../api/client";
import { useI18n } from "../../i18n";
import type { MessageKey } from "../../i18n/messages";
import { formatInZone } from "./campaignModel";

/** A row of `GET /campaigns/{id}/recipients`. */
export type Recipient = {
  id: string;
  contact_id: string;
  phone: string | null;
  contact_name: string | null;
  status: RecipientStatus;
  skip_reason: string | null;
  error_message: string | null;
  variables: Record<string, unknown>;
  sent_at: string | null;
  delivered_at: string | null;
  read_at: string | null;
  failed_at: string | null;
};
type RecipientPage = { items: Recipient[]; page: number; per_page: number; total: number };

export const RECIPIENT_STATUSES = ["pending", "sent", "delivered", "read", "failed", "skipped"] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];
const PER_PAGE = 20;

const statusKind = (s: RecipientStatus) =>
  s === "read" || s === "delivered" ? "ok" : s === "failed" ? "error" : s === "skipped" ? "" : "wait";

/** When the recipient last moved: the time of its status. */
function statusTime(r: Recipient): string | null {
  return r.status === "read" ? r.read_at : r.status === "delivered" ? r.delivered_at
    : r.status === "failed" ? r.failed_at : r.sent_at;
}

/** The campaign's recipients, filtered by status, a page at a time; `version` changes when the
 *  campaign's counters do (the page then reloads the rows it shows). */
export function CampaignRecipients({ campaignId, zone, version }: { campaignId: string; zone: string; version: string }) {
  const { t, lang } = useI18n();
  const [status, setStatus] = useState<"" | RecipientStatus>("");
  const [page, setPage] = useState(1);
  const [data, setData] = useState<RecipientPage | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const query = new URLSearchParams({ page: String(page), per_page: String(PER_PAGE) });
    if (status) query.set("status", status);
    setData(await api<RecipientPage>("GET", `/campaigns/${campaignId}/recipients?${query}`));
    setError(null);
  }, [campaignId, status, page]);
  useEffect(() => {
    load().catch((err) => setError(errorText(err)));
  }, [load, version]);

  const pages = data ? Math.max(1, Math.ceil(data.total / PER_PAGE)) : 1;
  return (
    <section className="card stack campaign-recipients" aria-label={t("campaigns.recipients")}>
      <div className="card-head">
        <h2>{t("campaigns.recipients")}</h2>
        <div className="row small recipients-filter">
          <label htmlFor="recipient-status">{t("campaigns.recipientsFilter")}</label>
          <select id="recipient-status" value={status}
            onChange={(e) => { setStatus(e.target.value as "" | RecipientStatus); setPage(1); }}>
            <option value="">{t("campaigns.recipientsAll")}</option>
            {RECIPIENT_STATUSES.map((s) => <option key={s} value={s}>{t(`campaigns.recipient.${s}` as MessageKey)}</option>)}
          </select>
        </div>
      </div>
      {error && <p role="alert" className="error">{error}</p>}
      {data === null ? <p className="muted">{t("common.loading")}</p>
        : data.items.length === 0 ? <p className="muted">{t(status ? "campaigns.recipientsNoneWith" : "campaigns.recipientsNone")}</p>
          : (
            <table className="templates-table recipients-table">
              <thead>
                <tr>
                  <th>{t("campaigns.recipientPhone")}</th><th>{t("common.name")}</th><th>{t("campaigns.status")}</th>
                  <th>{t("campaigns.recipientWhen")}</th><th>{t("campaigns.recipientDetail")}</th>
                  <th>{t("campaigns.recipientVariables")}</th>
                </tr>
              </thead>
              <tbody>
                {data.items.map((r) => (
                  <tr key={r.id} className="recipient-row" data-phone={r.phone ?? ""} data-status={r.status}>
                    <td className="mono">{r.phone ?? "—"}</td>
                    <td>{r.contact_name ?? "—"}</td>
                    <td><span className={`pill ${statusKind(r.status)}`}>{t(`campaigns.recipient.${r.status}` as MessageKey)}</span></td>
                    <td className="when">{formatInZone(statusTime(r), zone, lang)}</td>
                    <td className={r.error_message ? "error small" : "muted small"}>{r.error_message ?? r.skip_reason ?? ""}</td>
                    <td className="small">{Object.entries(r.variables ?? {}).map(([k, v]) => (
                      <span key={k} className="pill variable">{k}: {String(v)}</span>))}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
      {data !== null && data.total > PER_PAGE && (
        <div className="row small recipients-pager" aria-label={t("campaigns.recipientsPages")}>
          <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>{t("campaigns.recipientsPrev")}</button>
          <span>{t("campaigns.recipientsPage", { page, pages, total: data.total })}</span>
          <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)}>{t("campaigns.recipientsNext")}</button>
        </div>
      )}
    </section>
  );
}
