import { Fragment, useEffect, useRef, useState } from "react";
import { api, ApiError, problemsOf, errorText } from "../../api/client";
import { Field } from "../../components/Field";
import { useI18n } from "../../i18n";
import type { MessageKey } from "../../i18n/messages";
import { LogPager } from "./LogPager";
import { currentBefore, FIRST_PAGE, type LogPage, MESSAGE_STATUSES, type MessageFilters, type MessageLog,
  messagePreview, messageQuery, messageStatusKind, type Pager, timeline, when } from "./logsModel";

type Contact = { id: string; name?: string | null; whatsapp_name?: string | null; whatsapp_id: string };
const SENDERS = new Set(["contact", "bot", "agent", "system"]);

function StatusTimeline({ message }: { message: MessageLog }) {
  const { t, lang } = useI18n();
  const entries = timeline(message);
  return (
    <div className="status-timeline">
      {entries.length === 0 ? <p className="muted small">{t("logs.noTimeline")}</p> : (
        <ol aria-label={t("logs.timeline")}>
          {entries.map((e, i) => (
            <li key={i} data-status={e.status}>
              <span className={`pill ${messageStatusKind(e.status)}`}>{statusLabel(e.status, t)}</span>
              <time>{when(e.timestamp, lang)}</time>
              {e.error && <span className="error small">{e.error}</span>}
            </li>
          ))}
        </ol>
      )}
      {message.whatsapp_message_id && <p className="muted small mono">WhatsApp id: {message.whatsapp_message_id}</p>}
    </div>
  );
}

function statusLabel(status: string | null | undefined, t: (k: MessageKey) => string): string {
  return status && (MESSAGE_STATUSES as readonly string[]).includes(status) ? t(`logs.status.${status}` as MessageKey)
    : status ?? "—";
}

/** GET /logs/messages: full-text search, direction and status filters,
 *  newest first a page at a time; a row opens its status timeline. */
export function MessageLogs() {
  const { t, lang } = useI18n();
  const [draft, setDraft] = useState("");
  const [filters, setFilters] = useState<MessageFilters>({ q: "", direction: "", status: "" });
  const [pager, setPager] = useState<Pager>(FIRST_PAGE);
  const [limit, setLimit] = useState(50);
  // the page shown is the one loaded for the current query (none while it loads: never the previous rows)
  const [round, setRound] = useState(0); // a search asked again: the same query loaded anew
  const [loaded, setLoaded] = useState<{ query: string; page: LogPage<MessageLog> } | null>(null);
  const [error, setError] = useState("");
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [open, setOpen] = useState<Set<string>>(new Set());
  const [contacts, setContacts] = useState<Record<string, Contact>>({});
  const asked = useRef(new Set<string>());

  const query = messageQuery(filters, currentBefore(pager), limit);
  useEffect(() => {
    let live = true;
    api<LogPage<MessageLog>>("GET", `/logs/messages?${query}`)
      .then((p) => { if (live) { setLoaded({ query, page: p }); setError(""); setProblems({}); } })
      .catch((err) => {
        if (!live) return;
        const fields = err instanceof ApiError ? problemsOf(err) : [];
        setProblems(Object.fromEntries(fields.map((p) => [p.field, p.message])));
        setError(fields.length ? "" : errorText(err));
        setLoaded({ query, page: { items: [], next_before: null } });
      });
    return () => { live = false; };
  }, [query, round]);
  const page = loaded?.query === query ? loaded.page : null;

  // the contacts of the rows shown, asked once each
  useEffect(() => {
    for (const m of page?.items ?? []) {
      const id = m.contact_id;
      if (!id || asked.current.has(id)) continue;
      asked.current.add(id);
      api<Contact>("GET", `/contacts/${id}`).then((c) => setContacts((all) => ({ ...all, [c.id]: c }))).catch(() => undefined);
    }
  }, [page]);

  const apply = (next: Partial<MessageFilters>) => { setFilters((f) => ({ ...f, ...next })); setPager(FIRST_PAGE); };
  const rows = page?.items ?? [];
  const toggle = (id: string) => setOpen((s) => { const n = new Set(s); if (n.has(id)) n.delete(id); else n.add(id); return n; });
  const contactName = (id?: string | null) => {
    const c = id ? contacts[id] : undefined;
    return c ? c.name || c.whatsapp_name || `+${c.whatsapp_id}` : "—";
  };

  return (
    <section className="card stack" aria-label={t("logs.messages")}>
      <form className="row top log-filters" onSubmit={(e) => { e.preventDefault(); apply({ q: draft }); setRound((n) => n + 1); }}>
        <Field id="log-q" label={t("logs.search")} help={t("logs.searchHelp")} problem={problems.q} className="grow">
          <input type="search" value={draft} onChange={(e) => setDraft(e.target.value)} />
        </Field>
        <Field id="log-direction" label={t("logs.direction")} problem={problems.direction}>
          <select value={filters.direction} onChange={(e) => apply({ direction: e.target.value as MessageFilters["direction"] })}>
            <option value="">{t("logs.all")}</option>
            <option value="inbound">{t("logs.inbound")}</option>
            <option value="outbound">{t("logs.outbound")}</option>
          </select>
        </Field>
        <Field id="log-status" label={t("logs.status")} problem={problems.status}>
          <select value={filters.status} onChange={(e) => apply({ status: e.target.value as MessageFilters["status"] })}>
            <option value="">{t("logs.all")}</option>
            {MESSAGE_STATUSES.map((s) => <option key={s} value={s}>{statusLabel(s, t)}</option>)}
          </select>
        </Field>
        <button type="submit" className="primary align-end">{t("logs.searchButton")}</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {page === null ? <p className="muted">{t("common.loading")}</p>
        : rows.length === 0 ? <p className="muted" data-empty>{t("logs.noMessages")}</p> : (
          <table className="templates-table logs-table" aria-label={t("logs.messages")}>
            <thead>
              <tr>
                <th>{t("logs.when")}</th><th>{t("logs.direction")}</th><th>{t("logs.from")}</th>
                <th>{t("logs.contact")}</th><th>{t("logs.message")}</th><th>{t("logs.status")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((m) => (
                <Fragment key={m.message_id}>
                  <tr className="message-log" data-message={m.message_id} data-direction={m.direction ?? ""} data-status={m.status ?? ""}>
                    <td className="when">{when(m.created_at, lang)}</td>
                    <td>{m.direction === "inbound" ? `↓ ${t("logs.inbound")}` : m.direction === "outbound" ? `↑ ${t("logs.outbound")}` : "—"}</td>
                    <td>{m.sender_type && SENDERS.has(m.sender_type) ? t(`logs.sender.${m.sender_type}` as MessageKey) : m.sender_type ?? "—"}</td>
                    <td>{contactName(m.contact_id)}</td>
                    <td className="log-text">{messagePreview(m) || <span className="muted">—</span>}
                      {m.type && m.type !== "text" && <span className="muted small"> · {m.type}</span>}</td>
                    <td>
                      <button type="button" className={`pill status-toggle ${messageStatusKind(m.status)}`}
                        aria-expanded={open.has(m.message_id)} title={t("logs.timeline")} onClick={() => toggle(m.message_id)}>
                        {statusLabel(m.status, t)} {open.has(m.message_id) ? "▴" : "▾"}
                      </button>
                    </td>
                  </tr>
                  {open.has(m.message_id) && (
                    <tr className="timeline-row" data-timeline={m.message_id}>
                      <td colSpan={6}><StatusTimeline message={m} /></td>
                    </tr>
                  )}
                </Fragment>
              ))}
            </tbody>
          </table>
        )}
      <LogPager id="messages" pager={pager} next={page?.next_before ?? null} onPager={setPager} limit={limit}
        onLimit={(n) => { setLimit(n); setPager(FIRST_PAGE); }} />
    </section>
  );
}
