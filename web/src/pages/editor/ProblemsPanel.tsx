import { memo } from "react";
import type { Diagnostic } from "../../api/types";
import { useI18n } from "../../i18n";

/** Every diagnostic of the canvas; a click selects and shows its node. */
export const ProblemsPanel = memo(function ProblemsPanel({ diagnostics, checking, onPick }: {
  diagnostics: Diagnostic[]; checking: boolean; onPick: (d: Diagnostic) => void;
}) {
  const { t } = useI18n();
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  return (
    <section className="problems" aria-label={t("editor.problems")}>
      <header>
        <h2>{t("editor.problems")}</h2>
        <span className="muted small">
          {checking ? t("editor.checking")
            : `${t("editor.errors", { count: errors })} · ${t("editor.warnings", { count: diagnostics.length - errors })}`}
        </span>
      </header>
      {diagnostics.length === 0 ? <p className="muted small">{t("editor.noProblems")}</p> : (
        <ul>
          {diagnostics.map((d, i) => (
            <li key={i}>
              <button type="button" className={`problem ${d.severity}`} onClick={() => onPick(d)}>
                <span className={`sev ${d.severity}`}>{t(d.severity === "error" ? "editor.severity.error" : "editor.severity.warning")}</span>
                {d.node_id && <code>{d.node_id}</code>}
                <span className="problem-message">{d.message}</span>
                <span className="muted small">{d.code}{d.hint ? ` — ${d.hint}` : ""}</span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
});
