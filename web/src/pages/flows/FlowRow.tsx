import { useState, type FormEvent } from "react";
import type { Flow } from "../../api/types";
import { useI18n } from "../../i18n";
import { Link } from "../../router";
import { errorText } from "../../api/client";

/** One flow in the list, with its actions; Rename edits the name in place, and a name the API refuses
 *  stays in the field with the reason under it (`onRename` rejects), to be corrected or cancelled.
 *  Without `onRename` or `onDelete` (a role that may not) that button is left out. */
export function FlowRow(props: {
  flow: Flow; onRename?: (name: string) => Promise<void>; onDelete?: () => void; onExport: () => void;
}) {
  const { t } = useI18n();
  const { flow } = props;
  const [editing, setEditing] = useState<string | null>(null);
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState(false);
  const edit = (name: string | null) => { setEditing(name); setProblem(""); };

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (editing === null || !props.onRename) return;
    setBusy(true);
    try {
      await props.onRename(editing);
      edit(null);
    } catch (err) {
      setProblem(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  const problemId = `rename-problem-${flow.id}`;
  return (
    <li className="flow-row">
      {editing === null ? (
        <div className="flow-name">
          <Link to={`/app/flows/${flow.id}`}>{flow.name}</Link>
          <span className="muted small">
            {flow.version ? t("flows.version", { version: flow.version }) : t("flows.draft")}
          </span>
        </div>
      ) : (
        <form className="row grow top" onSubmit={submit}>
          <label className={`field grow ${problem ? "invalid" : ""}`}>
            <span className="visually-hidden">{t("common.name")}</span>
            <input aria-label={t("common.name")} value={editing} autoFocus onChange={(e) => setEditing(e.target.value)}
              aria-invalid={problem ? true : undefined} aria-describedby={problem ? problemId : undefined} />
            {problem && <span className="field-problem error" role="alert" id={problemId}>{problem}</span>}
          </label>
          <button type="submit" className="primary" disabled={busy}>{t("common.save")}</button>
          <button type="button" onClick={() => edit(null)}>{t("common.cancel")}</button>
        </form>
      )}
      {editing === null && (
        <div className="row">
          <Link to={`/app/flows/${flow.id}`} className="button">{t("flows.open")}</Link>
          {props.onRename && <button type="button" onClick={() => edit(flow.name)}>{t("common.rename")}</button>}
          <button type="button" onClick={props.onExport}>{t("flows.export")}</button>
          {props.onDelete && <button type="button" className="danger" onClick={props.onDelete}>{t("common.delete")}</button>}
        </div>
      )}
    </li>
  );
}
