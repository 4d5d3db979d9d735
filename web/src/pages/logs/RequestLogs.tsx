import { useEffect, useState } from "react";
import { api, ApiError, problemsOf, errorText } from "../../api/client";
import type { Page } from "../../api/types";
import { Field } from "../../components/Field";
import { useI18n } from "../../i18n";
import { LogPager } from "./LogPager";
import { currentBefore, FIRST_PAGE, httpStatusKind, latency, type LogPage, METHODS, type Pager, type RequestFilters,
  type RequestLog, requestQuery, when } from "./logsModel";

type Person = { id: string; full_name: string; email?: string };
const NO_FILTERS: RequestFilters = { method: "", path: "", status_code: "", user_id: "" };

/** GET /logs/api-requests (admins): method, path, status, latency and user of the organization's API
 *  requests, newest first a page at a time, filtered as the API filters them. */
export function RequestLogs() {
  const { t, lang } = useI18n();
  const [draft, setDraft] = useState<RequestFilters>(NO_FILTERS);
  const [filters, setFilters] = useState<RequestFilters>(NO_FILTERS);
  const [pager, setPager] = useState<Pager>(FIRST_PAGE);
  const [limit, setLimit] = useState(50);
  // the page shown is the one loaded for the current query (none while it loads: never the previous rows)
  const [round, setRound] = useState(0); // a search asked again: the same query loaded anew
  const [loaded, setLoaded] = useState<{ query: string; page: LogPage<RequestLog> } | null>(null);
  const [error, setError] = useState("");
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [people, setPeople] = useState<Record<string, Person>>({});

  useEffect(() => {
    api<Page<Person>>("GET", "/users?per_page=100")
      .then((p) => setPeople(Object.fromEntries(p.items.map((u) => [u.id, u])))).catch(() => undefined);
  }, []);

  const query = requestQuery(filters, currentBefore(pager), limit);
  useEffect(() => {
    let live = true;
    api<LogPage<RequestLog>>("GET", `/logs/api-requests?${query}`)
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

  const set = (key: keyof RequestFilters) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [key]: e.target.value }));
  const who = (id?: string | null) => (!id ? "—" : people[id]?.full_name ?? id.slice(0, 8));
  const rows = page?.items ?? [];

  return (
    <section className="card stack" aria-label={t("logs.requests")}>
      <form className="row top log-filters" onSubmit={(e) => {
        e.preventDefault(); setFilters(draft); setPager(FIRST_PAGE); setRound((n) => n + 1); }}>
        <Field id="req-method" label={t("logs.method")} problem={problems.method}>
          <select value={draft.method} onChange={set("method")}>
            <option value="">{t("logs.all")}</option>
            {METHODS.map((m) => <option key={m} value={m}>{m}</option>)}
          </select>
        </Field>
        <Field id="req-path" label={t("logs.path")} help={t("logs.pathHelp")} problem={problems.path} className="grow">
          <input value={draft.path} onChange={set("path")} placeholder="/conversations" />
        </Field>
        <Field id="req-status" label={t("logs.statusCode")} problem={problems.status_code}>
          <input inputMode="numeric" value={draft.status_code} onChange={set("status_code")} size={5} />
        </Field>
        <Field id="req-user" label={t("logs.user")} problem={problems.user_id}>
          <select value={draft.user_id} onChange={set("user_id")}>
            <option value="">{t("logs.all")}</option>
            {Object.values(people).map((p) => <option key={p.id} value={p.id}>{p.full_name}</option>)}
          </select>
        </Field>
        <button type="submit" className="primary align-end">{t("logs.searchButton")}</button>
      </form>
      {error && <p role="alert" className="error">{error}</p>}
      {page === null ? <p className="muted">{t("common.loading")}</p>
        : rows.length === 0 ? <p className="muted" data-empty>{t("logs.noRequests")}</p> : (
          <table className="templates-table logs-table" aria-label={t("logs.requests")}>
            <thead>
              <tr>
                <th>{t("logs.when")}</th><th>{t("logs.method")}</th><th>{t("logs.path")}</th>
                <th>{t("logs.statusCode")}</th><th>{t("logs.latency")}</th><th>{t("logs.user")}</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => {
                const params = new URLSearchParams(Object.entries(r.query_params ?? {}).map(([k, v]) => [k, String(v)])).toString();
                return (
                  <tr key={r.id} className="request-log" data-request={r.id} data-method={r.method} data-path={r.path}
                    data-status={r.status_code}>
                    <td className="when">{when(r.created_at, lang)}</td>
                    <td><code>{r.method}</code></td>
                    <td className="log-path">
                      <code>{r.path}</code>{params && <span className="muted small">?{params}</span>}
                      {r.error_message && <p className="error small">{r.error_message}</p>}
                    </td>
                    <td><span className={`pill ${httpStatusKind(r.status_code)}`}>{r.status_code}</span></td>
                    <td className="when">{latency(r.response_time_ms, lang)}</td>
                    <td data-user>{who(r.user_id)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      <LogPager id="requests" pager={pager} next={page?.next_before ?? null} onPager={setPager} limit={limit}
        onLimit={(n) => { setLimit(n); setPager(FIRST_PAGE); }} />
    </section>
  );
}
