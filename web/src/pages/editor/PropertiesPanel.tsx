import type { Diagnostic } from "../../api/types";
import { useI18n } from "../../i18n";
import { NODE_SCHEMAS } from "../../schemas/catalog";
import { fieldPaths, type FlowNodeT, type NodeData } from "./canvasModel";
import { nodeTypeLabel } from "./nodeTypeLabel";
import { SchemaForm, type FieldProblems } from "./SchemaForm";

/** The selected node's form, generated from its type's schema, with its problems. */
export function PropertiesPanel({ node, diagnostics, onChange, onDelete }: {
  node: FlowNodeT | null; diagnostics: Diagnostic[]; onChange: (id: string, data: NodeData) => void;
  onDelete: (id: string) => void;
}) {
  const { t } = useI18n();
  if (!node) {
    return (
      <aside className="properties" aria-label={t("editor.properties")}>
        <h2>{t("editor.properties")}</h2>
        <p className="muted small">{t("editor.noSelection")}</p>
      </aside>
    );
  }
  const schema = NODE_SCHEMAS[node.type ?? ""];
  const problems: FieldProblems = new Map();
  const general: Diagnostic[] = [];
  const fieldNames = Object.keys(schema?.properties ?? {});
  for (const d of diagnostics) {
    if (d.node_id !== node.id) continue;
    const paths = fieldPaths(d, fieldNames);
    if (paths.length === 0) general.push(d);
    for (const path of paths) problems.set(path, [...(problems.get(path) ?? []), d]);
  }
  return (
    <aside className="properties" aria-label={t("editor.properties")}>
      <h2>{nodeTypeLabel(node.type ?? "", t)}</h2>
      <p className="muted small">{schema?.description}</p>
      <p className="small">{t("editor.nodeId")}: <code>{node.id}</code></p>
      {general.map((d, i) => <p key={i} className={`field-problem ${d.severity}`} role="note">{d.message}</p>)}
      {schema && (
        <SchemaForm key={node.id} schema={schema} data={node.data} problems={problems}
          onChange={(data) => onChange(node.id, data)} />
      )}
      <button type="button" className="danger" onClick={() => onDelete(node.id)}>{t("editor.deleteNode")}</button>
    </aside>
  );
}
