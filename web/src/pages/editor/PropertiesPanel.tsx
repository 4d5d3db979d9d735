import { memo } from "react";
import type { Diagnostic } from "../../api/types";
import { useI18n } from "../../i18n";
import { nodeHelp } from "../../schemas/fieldText";
import { NODE_SCHEMAS } from "../../schemas/catalog";
import { fieldPaths, type NodeData } from "./canvasModel";
import { nodeTypeLabel } from "./nodeTypeLabel";
import { SchemaForm, type FieldProblems } from "./SchemaForm";
import { WaysOut, type Target, type Way } from "./WaysOut";

/** The selected node's form, generated from its type's schema, with its problems.
 *  Given the node's id, type and data only (memoized): dragging the node, which
 *  changes its position on every frame, does not draw the form again. */
export const PropertiesPanel = memo(function PropertiesPanel({ nodeId, nodeType, data, diagnostics, ways, targets,
  onChange, onConnect, onDelete }: {
  nodeId: string | null; nodeType: string; data: NodeData | null; diagnostics: Diagnostic[];
  ways: Way[]; targets: Target[];
  onChange: (id: string, data: NodeData) => void;
  onConnect: (source: string, handle: string, target: string | null) => void; onDelete: (id: string) => void;
}) {
  const { t, lang } = useI18n();
  if (nodeId === null || data === null) {
    return (
      <aside className="properties" aria-label={t("editor.properties")}>
        <h2>{t("editor.properties")}</h2>
        <p className="muted small">{t("editor.noSelection")}</p>
      </aside>
    );
  }
  const schema = NODE_SCHEMAS[nodeType];
  const problems: FieldProblems = new Map();
  const general: Diagnostic[] = [];
  const fieldNames = Object.keys(schema?.properties ?? {});
  for (const d of diagnostics) {
    if (d.node_id !== nodeId) continue;
    const paths = fieldPaths(d, fieldNames);
    if (paths.length === 0) general.push(d);
    for (const path of paths) problems.set(path, [...(problems.get(path) ?? []), d]);
  }
  return (
    <aside className="properties" aria-label={t("editor.properties")}>
      <h2>{nodeTypeLabel(nodeType, t)}</h2>
      <p className="muted small">{nodeHelp(schema?.description, lang)}</p>
      <p className="small">{t("editor.nodeId")}: <code>{nodeId}</code></p>
      {general.map((d, i) => <p key={i} className={`field-problem ${d.severity}`} role="note">{d.message}</p>)}
      {schema && (
        <SchemaForm key={nodeId} schema={schema} data={data} problems={problems}
          onChange={(next) => onChange(nodeId, next)} />
      )}
      <WaysOut nodeId={nodeId} ways={ways} targets={targets} onConnect={onConnect} />
      <button type="button" className="danger" onClick={() => onDelete(nodeId)}>{t("editor.deleteNode")}</button>
    </aside>
  );
});
