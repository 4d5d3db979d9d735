// An edge of the canvas: a smooth-step path named after the handle it leaves from.
// React Flow's smooth-step edge puts its label halfway between the two ends; two edges
// leaving adjacent handles of one node for the same node (a question's `invalid` and
// `timeout` both going to "sorry") then have their labels 9px apart, one over the other.
// Here the label sits where the path leaves the source's row (its first bend), at the
// source handle's height: labels of one node's edges are as far apart as its handles.
import { BaseEdge, getSmoothStepPath, type EdgeProps } from "@xyflow/react";
import { memo } from "react";
import { useI18n } from "../../i18n";
import { useEdgeAnalytics } from "./AnalyticsContext";

/** Room for half a label (11px text, ~6px a character, 4px padding) and a gap after the handle. */
function halfLabel(label: string): number {
  return (label.length * 6 + 8) / 2 + 6;
}

export const HandleEdge = memo(function HandleEdge({
  id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, label, labelStyle, labelShowBg,
  labelBgStyle, labelBgPadding, labelBgBorderRadius, style, markerEnd, markerStart, interactionWidth,
}: EdgeProps) {
  const { t } = useI18n();
  const figures = useEdgeAnalytics(id);
  const [path, centerX] = getSmoothStepPath({ sourceX, sourceY, sourcePosition, targetX, targetY, targetPosition });
  const name = typeof label === "string" ? label : "";
  // with the analytics overlay on: the count after the handle's name, the stroke by traffic
  const text = figures ? t("analytics.edgeCount", { label: name, count: figures.count }) : name;
  const stroke = figures ? { ...style, strokeWidth: figures.width } : style;
  return (
    <BaseEdge id={id} path={path} labelX={Math.max(centerX, sourceX + halfLabel(text))} labelY={sourceY}
      label={figures ? text : label} labelStyle={labelStyle} labelShowBg={labelShowBg} labelBgStyle={labelBgStyle}
      labelBgPadding={labelBgPadding} labelBgBorderRadius={labelBgBorderRadius} style={stroke}
      markerEnd={markerEnd} markerStart={markerStart} interactionWidth={interactionWidth} />
  );
});
