import { Handle, Position, type NodeProps } from "@xyflow/react";
import { useI18n } from "../../i18n";
import { handlesOf, NO_TARGET } from "../../schemas/handles";
import type { FlowNodeT } from "./canvasModel";
import { useNodeDiagnostics } from "./DiagnosticsContext";
import { nodeTypeLabel } from "./nodeTypeLabel";
import { useIsSimulated } from "./SimulationContext";

function summary(data: Record<string, unknown>): string {
  for (const key of ["text", "message", "expression", "prompt", "url", "action", "target_node", "flow", "variable"]) {
    const value = data[key];
    if (typeof value === "string" && value) return value;
  }
  const template = data.template as { name?: unknown } | undefined;
  if (template && typeof template.name === "string" && template.name) return `template: ${template.name}`;
  return "";
}

/** A node on the canvas: its type, label and summary, its problems, and one
 *  source handle per way out (named like the edges that leave it). */
export function FlowNode({ id, type, data, selected }: NodeProps<FlowNodeT>) {
  const { t } = useI18n();
  const problems = useNodeDiagnostics(id);
  const simulated = useIsSimulated(id);
  const errors = problems.filter((d) => d.severity === "error").length;
  const warnings = problems.length - errors;
  const handles = handlesOf(type, data);
  const label = typeof data.label === "string" && data.label ? data.label : id;
  const text = summary(data);
  return (
    <div className={`flow-node type-${type}${selected ? " selected" : ""}${errors ? " has-errors" : warnings ? " has-warnings" : ""}${simulated ? " sim-current" : ""}`}
      data-testid={`node-${id}`} aria-current={simulated ? "step" : undefined}>
      {!NO_TARGET.has(type) && <Handle type="target" position={Position.Left} className="target-handle" />}
      <div className="flow-node-head">
        <span className="node-type">{nodeTypeLabel(type, t)}</span>
        {problems.length > 0 && (
          <span className={`node-badge ${errors ? "error" : "warning"}`}
            title={problems.map((d) => d.message).join("\n")}
            aria-label={errors ? t("editor.errors", { count: errors }) : t("editor.warnings", { count: warnings })}>
            {errors || warnings}
          </span>
        )}
      </div>
      <div className="flow-node-label">{label}</div>
      {text && <div className="flow-node-summary">{text}</div>}
      {handles.length > 0 && (
        <div className="flow-node-handles">
          {handles.map((h) => (
            <div key={h} className="handle-row">
              <span className="handle-name">{h}</span>
              <Handle type="source" position={Position.Right} id={h} className={`source-handle handle-${h}`}
                title={h} />
            </div>
          ))}
        </div>
      )}
    </div>
  );
}
