import { useCallback, useEffect, useState } from "react";
import { api, errorText } from "../../api/client";
import { can, useMe } from "../../api/me";
import type { Page, Template, TemplateStatus, WhatsAppNumber } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { useI18n } from "../../i18n";
import { Link } from "../../router";
import { numberLabel } from "./numbers";
import { ErrorBanner } from "../../components/ErrorBanner";

const STATUSES: TemplateStatus[] = ["APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED"];
const POLL_MS = 2000; // while a template waits for Meta's review

type SyncState = { state: "running" } | { state: "done"; numbers: number; templates: number } | null;

/** The organization's templates per WhatsApp number: status at Meta, sync, delete (sync, create,
 *  submit and delete only for a role that may: not an agent or a viewer, docs/permissions.md). */
export function TemplatesPage() {
  const { t } = useI18n();
  const me = useMe();
  const mayWrite = can(me, "templates:write");
  const mayDelete = can(me, "templates:delete");
  const [numbers, setNumbers] = useState<WhatsAppNumber[]>([]);
  const [templates, setTemplates] = useState<Template[] | null>(null);
  const [status, setStatus] = useState<TemplateStatus | "">("");
  const [error, setError] = useState<string | null>(null);
  const [sync, setSync] = useState<SyncState>(null);

  const report = (err: unknown) => setError(errorText(err));

  const load = useCallback(async () => {
    const query = `/templates?per_page=100&sort=name${status ? `&meta_status=${status}` : ""}`;
    const page = await api<Page<Template>>("GET", query);
    setTemplates(page.items);
  }, [status]);

  useEffect(() => {
    api<Page<WhatsAppNumber>>("GET", "/whatsapp-numbers?per_page=100").then((p) => setNumbers(p.items)).catch(report);
  }, []);
  useEffect(() => { load().catch(report); }, [load]);

  // a row not sent to Meta yet (no Meta id) is a draft, though its meta_status says PENDING (the
  // column's default, SCHEMA.md): no review to wait for
  const waiting = (templates ?? []).some((tpl) => tpl.meta_template_id && tpl.meta_status === "PENDING");
  useEffect(() => {
    if (!waiting) return;
    const timer = setInterval(() => load().catch(() => undefined), POLL_MS);
    return () => clearInterval(timer);
  }, [waiting, load]);

  async function syncNow() {
    setSync({ state: "running" });
    setError(null);
    try {
      const result = await api<{ numbers: number; templates: number }>("POST", "/templates/sync", {});
      setSync({ state: "done", ...result });
      await load();
    } catch (err) {
      setSync(null);
      report(err);
    }
  }

  async function remove(tpl: Template) {
    const question = tpl.meta_template_id ? "templates.confirmDeleteMeta" : "templates.confirmDelete";
    if (!confirm(t(question, { name: tpl.name }))) return;
    setError(null);
    await api("DELETE", `/templates/${tpl.id}`).catch(report);
    await load().catch(report);
  }

  async function submitDraft(tpl: Template) {
    setError(null);
    await api("POST", `/templates/${tpl.id}/submit`, {}).catch(report);
    await load().catch(report);
  }

  const groups = groupByNumber(templates ?? [], numbers);
  return (
    <div className="page">
      <AppHeader />
      <main className="content wide">
        {error && <ErrorBanner message={error} onDismiss={() => setError(null)} />}
        <section className="card">
          <div className="card-head">
            <h1>{t("templates.title")}</h1>
            <div className="row">
              <label className="row inline-field">
                <span className="field-label">{t("templates.status")}</span>
                <select aria-label={t("templates.filterStatus")} value={status}
                  onChange={(e) => setStatus(e.target.value as TemplateStatus | "")}>
                  <option value="">{t("templates.allStatuses")}</option>
                  {STATUSES.map((s) => <option key={s} value={s}>{t(`templates.status.${s}`)}</option>)}
                </select>
              </label>
              {mayWrite && <>
                <button type="button" onClick={syncNow} disabled={sync?.state === "running"}>
                  {sync?.state === "running" ? t("templates.syncing") : t("templates.sync")}</button>
                <Link to="/app/templates/new" className="button primary-link">{t("templates.new")}</Link>
              </>}
            </div>
          </div>
          <p className="muted small" role="status">
            {sync?.state === "running" && t("templates.syncRunning")}
            {sync?.state === "done" && t("templates.syncDone", { templates: sync.templates, numbers: sync.numbers })}
            {!sync && waiting && t("templates.waitingReview")}
          </p>
          {templates === null || me === undefined ? <p className="muted">{t("common.loading")}</p>
            : templates.length === 0 ? <p className="muted">{status ? t("templates.noneWithStatus") : t(mayWrite ? "templates.empty" : "templates.emptyReadOnly")}</p>
              : groups.map(({ key, label, items }) => (
                <div key={key} className="template-group">
                  <h2>{label ?? t("templates.noNumber")}</h2>
                  <table className="templates-table">
                    <thead>
                      <tr>
                        <th>{t("common.name")}</th><th>{t("templates.language")}</th><th>{t("templates.category")}</th>
                        <th>{t("templates.status")}</th><th>{t("templates.quality")}</th><th><span className="visually-hidden">{t("templates.actions")}</span></th>
                      </tr>
                    </thead>
                    <tbody>
                      {items.map((tpl) => (
                        <tr key={tpl.id} className="template-row" data-name={tpl.name}>
                          <td><strong>{tpl.name}</strong><div className="muted small clamp">{tpl.body_text}</div></td>
                          <td>{tpl.language}</td>
                          <td>{tpl.category ? t(`templates.category.${tpl.category as "MARKETING"}`) : "—"}</td>
                          <td>
                            <StatusPill status={tpl.meta_template_id ? tpl.meta_status ?? null : null} />
                            {tpl.rejection_reason && <div className="small error">{t("templates.reason", { reason: tpl.rejection_reason })}</div>}
                            {!tpl.meta_status && tpl.sync_error && <div className="small error">{tpl.sync_error}</div>}
                          </td>
                          <td>{qualityText(tpl, t)}</td>
                          <td className="actions">
                            {!tpl.meta_template_id && mayWrite && (
                              <button type="button" onClick={() => submitDraft(tpl)}>{t("templates.submit")}</button>)}
                            {mayDelete && <button type="button" className="danger" onClick={() => remove(tpl)}>{t("common.delete")}</button>}
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              ))}
        </section>
      </main>
    </div>
  );
}

function StatusPill({ status }: { status: TemplateStatus | null }) {
  const { t } = useI18n();
  const kind = status === "APPROVED" ? "ok" : status === "REJECTED" || status === "DISABLED" ? "error"
    : status === "PENDING" || status === "PAUSED" ? "wait" : "";
  return <span className={`pill status-pill ${kind}`} data-status={status ?? "DRAFT"}>
    {status ? t(`templates.status.${status}`) : t("templates.status.DRAFT")}</span>;
}

function qualityText(tpl: Template, t: ReturnType<typeof useI18n>["t"]): string {
  const score = tpl.quality_score?.score;
  if (score === "GREEN" || score === "YELLOW" || score === "RED") return t(`templates.quality.${score}`);
  return score && score !== "UNKNOWN" ? score : "—";
}

function groupByNumber(templates: Template[], numbers: WhatsAppNumber[]) {
  const groups = new Map<string, { key: string; label: string | null; items: Template[] }>();
  for (const tpl of templates) {
    const key = tpl.whatsapp_number_id ?? "";
    const number = numbers.find((n) => n.id === key);
    if (!groups.has(key)) {
      groups.set(key, { key, label: number ? `${numberLabel(number)} · WABA ${number.whatsapp_business_account_id ?? "—"}` : null, items: [] });
    }
    groups.get(key)!.items.push(tpl);
  }
  return [...groups.values()];
}
