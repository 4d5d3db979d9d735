import { useCallback, useEffect, useState } from "react";
import { api, errorText } from "../../api/client";
import type { Canvas, Page } from "../../api/types";
import { useI18n } from "../../i18n";

export type FlowVersion = {
  version: number; compiled_at: string; created_by?: string | null;
  published_at?: string | null; published_by?: string | null; current: boolean;
};
type User = { id: string; full_name?: string | null; email?: string | null };

/** The flow's saved versions (who saved / published each, when), one opened
 *  read-only on the canvas, and rollback: publish an older version again (not for a `readOnly` role). */
export function VersionsPanel({ flowId, refreshKey, viewing, onView, onPublished, readOnly = false }: {
  flowId: string; refreshKey: number; viewing: number | null; readOnly?: boolean;
  onView: (version: number | null, canvas: Canvas | null) => void; onPublished: (version: number) => void;
}) {
  const { t, lang } = useI18n();
  const [versions, setVersions] = useState<FlowVersion[] | null>(null);
  const [people, setPeople] = useState<Map<string, string>>(new Map());
  const [confirming, setConfirming] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const report = (err: unknown) => setError(errorText(err));

  const load = useCallback(async () => {
    const page = await api<Page<FlowVersion>>("GET", `/flows/${flowId}/versions?per_page=100`);
    setVersions(page.items);
  }, [flowId]);

  useEffect(() => { load().catch(report); }, [load, refreshKey]);
  useEffect(() => {
    api<Page<User>>("GET", "/users?per_page=100")
      .then((page) => setPeople(new Map(page.items.map((u) => [u.id, u.full_name || u.email || u.id]))))
      .catch(() => undefined); // names are a nicety; ids stay
  }, []);

  const live = versions?.find((v) => v.current)?.version ?? null;
  const who = (id?: string | null) => (id ? (people.get(id) ?? id.slice(0, 8)) : "—");
  const when = (iso?: string | null) => (iso ? new Date(iso).toLocaleString(lang) : "");

  async function view(version: number) {
    try {
      const detail = await api<{ canvas: Canvas }>("GET", `/flows/${flowId}/versions/${version}`);
      onView(version, detail.canvas);
    } catch (err) {
      report(err);
    }
  }

  async function rollback(version: number) {
    setConfirming(null);
    try {
      await api("POST", `/flows/${flowId}/publish`, { version });
      await load();
      onPublished(version);
    } catch (err) {
      report(err);
    }
  }

  return (
    <section className="side-section versions" aria-label={t("versions.title")}>
      <h2>{t("versions.title")}</h2>
      {error && <p role="alert" className="error small">{error}</p>}
      {versions === null ? <p className="muted small">{t("common.loading")}</p>
        : versions.length === 0 ? <p className="muted small">{t("versions.none")}</p> : (
        <ul className="version-list">
          {versions.map((v) => (
            <li key={v.version} className={`version${v.current ? " live" : ""}${viewing === v.version ? " viewing" : ""}`}
              aria-label={t("versions.version", { version: v.version })}>
              <div className="row">
                <strong className="grow">{t("versions.version", { version: v.version })}</strong>
                {v.current && <span className="pill ok small">{t("versions.live")}</span>}
              </div>
              <div className="small muted">{t("versions.saved", { who: who(v.created_by), when: when(v.compiled_at) })}</div>
              {v.published_at && (
                <div className="small muted">{t("versions.publishedBy", { who: who(v.published_by), when: when(v.published_at) })}</div>
              )}
              {confirming === v.version ? (
                <div className="confirm" role="alertdialog" aria-label={t("versions.confirmTitle")}>
                  <p className="small">{t("versions.confirm", { version: v.version })}</p>
                  <div className="row">
                    <button type="button" className="primary" onClick={() => rollback(v.version)}>{t("versions.confirmYes")}</button>
                    <button type="button" onClick={() => setConfirming(null)}>{t("common.cancel")}</button>
                  </div>
                </div>
              ) : (
                <div className="row">
                  {viewing === v.version
                    ? <button type="button" onClick={() => onView(null, null)}>{t("versions.close")}</button>
                    : <button type="button" onClick={() => view(v.version)}>{t("versions.view")}</button>}
                  {!v.current && !readOnly && (
                    <button type="button" onClick={() => setConfirming(v.version)}>{t(live !== null && v.version < live ? "versions.rollback" : "versions.publishThis")}</button>
                  )}
                </div>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
