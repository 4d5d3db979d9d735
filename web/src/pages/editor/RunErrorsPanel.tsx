import { useCallback, useEffect, useState } from "react";
import { api, errorText } from "../../api/client";
import { useI18n } from "../../i18n";

export type RunProblem = {
  message_id: string; conversation_id: string; at: string; kind: "error" | "failed_call";
  node?: string | null; event?: string | null; message: string;
};

/** The live flow's recent failures (GET /flows/{id}/errors), each naming its node;
 *  a click shows the node on the canvas. */
export function RunErrorsPanel({ flowId, onPick }: { flowId: string; onPick: (node: string) => void }) {
  const { t, lang } = useI18n();
  const [items, setItems] = useState<RunProblem[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    setError(null);
    try {
      setItems((await api<{ items: RunProblem[] }>("GET", `/flows/${flowId}/errors`)).items);
    } catch (err) {
      setError(errorText(err));
    }
  }, [flowId]);
  useEffect(() => { load(); }, [load]);

  return (
    <section className="side-section run-errors" aria-label={t("runErrors.title")}>
      <div className="row">
        <h2 className="grow">{t("runErrors.title")}</h2>
        <button type="button" onClick={load}>{t("runErrors.refresh")}</button>
      </div>
      <p className="muted small">{t("runErrors.hint")}</p>
      {error && <p role="alert" className="error small">{error}</p>}
      {items === null ? <p className="muted small">{t("common.loading")}</p>
        : items.length === 0 ? <p className="muted small">{t("runErrors.none")}</p> : (
        <ul className="run-error-list">
          {items.map((p, i) => (
            <li key={i}>
              <button type="button" className="problem error" disabled={!p.node} onClick={() => p.node && onPick(p.node)}>
                <span className="sev error">{t(p.kind === "error" ? "runErrors.error" : "runErrors.failedCall")}</span>
                {p.node && <code>{p.node}</code>}
                <span className="problem-message">{p.message}</span>
                <span className="muted small">{new Date(p.at).toLocaleString(lang)}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
