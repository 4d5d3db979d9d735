import { useState } from "react";
import type { Flow } from "../../api/types";
import { useI18n } from "../../i18n";
import { Link } from "../../router";

/** One flow in the list, with its actions; Rename edits the name in place. Without `onRename` or
 *  `onDelete` (a role that may not) that button is left out. */
export function FlowRow(props: { flow: Flow; onRename?: (name: string) => void; onDelete?: () => void; onExport: () => void }) {
  const { t } = useI18n();
  const { flow } = props;
  const [editing, setEditing] = useState<string | null>(null);
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
        <form className="row grow" onSubmit={(e) => { e.preventDefault(); props.onRename?.(editing); setEditing(null); }}>
          <label className="field grow">
            <span className="visually-hidden">{t("common.name")}</span>
            <input aria-label={t("common.name")} value={editing} autoFocus onChange={(e) => setEditing(e.target.value)} />
          </label>
          <button type="submit" className="primary">{t("common.save")}</button>
          <button type="button" onClick={() => setEditing(null)}>{t("common.cancel")}</button>
        </form>
      )}
      {editing === null && (
        <div className="row">
          <Link to={`/app/flows/${flow.id}`} className="button">{t("flows.open")}</Link>
          {props.onRename && <button type="button" onClick={() => setEditing(flow.name)}>{t("common.rename")}</button>}
          <button type="button" onClick={props.onExport}>{t("flows.export")}</button>
          {props.onDelete && <button type="button" className="danger" onClick={props.onDelete}>{t("common.delete")}</button>}
        </div>
      )}
    </li>
  );
}
