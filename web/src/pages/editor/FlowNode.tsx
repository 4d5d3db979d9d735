import { Handle, Position, useStoreApi, useUpdateNodeInternals, type NodeProps } from "@xyflow/react";
import { memo, useEffect } from "react";
import { useI18n } from "../../i18n";
import { handlesOf, NO_TARGET } from "../../schemas/handles";
import { nodeLabel, nodeSummary, type FlowNodeT } from "./canvasModel";
import { useNodeAnalytics } from "./AnalyticsContext";
import { dropLevel, type NodeFigures } from "./analyticsModel";
import { useNodeDiagnostics } from "./DiagnosticsContext";
import { isEstimated } from "./nodeGeometry";
import { nodeTypeLabel } from "./nodeTypeLabel";
import { useIsSimulated } from "./SimulationContext";

/** A node on the canvas: its type, label and summary, its problems, and one
 *  source handle per way out (named like the edges that leave it). Memoized: it
 *  draws again only when its own node, problems or simulation mark change. */
export const FlowNode = memo(function FlowNode({ id, type, data, selected, width }: NodeProps<FlowNodeT>) {
  const { t } = useI18n();
  const problems = useNodeDiagnostics(id);
  const simulated = useIsSimulated(id);
  const figures = useNodeAnalytics(id);
  useMeasuredOnceDrawn(id, width);
  const errors = problems.filter((d) => d.severity === "error").length;
  const warnings = problems.length - errors;
  const handles = handlesOf(type, data);
  const text = nodeSummary(data);
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
      <div className="flow-node-label">{nodeLabel(id, data)}</div>
      {text && <div className="flow-node-summary">{text}</div>}
      {figures && <NodeAnalytics figures={figures} />}
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
});

/** The overlay's figures of a node: entries, and drop-off coloured by its share of them. */
function NodeAnalytics({ figures }: { figures: NodeFigures }) {
  const { t } = useI18n();
  const reasons = figures.reasons.map((r) => {
    const key = `analytics.reason.${r.reason}` as const;
    const name = key === "analytics.reason.timeout" || key === "analytics.reason.error" || key === "analytics.reason.idle" ? t(key) : r.reason;
    return `${name}: ${r.count}`;
  }).join("\n");
  return (
    <div className="node-analytics" data-testid="node-analytics">
      <span className="node-entries">{t("analytics.entries", { count: figures.entries })}</span>
      <span className={`node-drop drop-${dropLevel(figures.dropPct)}`} title={reasons || undefined}>
        {t("analytics.dropped", { count: figures.dropped, pct: figures.dropPct })}
      </span>
    </div>
  );
}

/** A drawn node still sized by its estimate (an undo brought back the node as it was
 *  before it was ever drawn, say) is measured, unless React Flow measured it
 *  meanwhile, as it does any node it draws for the first time. */
function useMeasuredOnceDrawn(id: string, width: number | undefined): void {
  const store = useStoreApi();
  const updateNodeInternals = useUpdateNodeInternals();
  const estimated = isEstimated(width);
  useEffect(() => {
    if (!estimated) return;
    // two frames: the first draw's measurement lands after the next frame's callbacks
    let frame = requestAnimationFrame(() => {
      frame = requestAnimationFrame(() => {
        if (isEstimated(store.getState().nodeLookup.get(id)?.measured.width)) updateNodeInternals(id);
      });
    });
    return () => cancelAnimationFrame(frame);
  }, [estimated, id, store, updateNodeInternals]);
}
