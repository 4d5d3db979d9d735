// The size and handle positions a node will have on the canvas, estimated from its
// type and data (the layout of `.flow-node` in styles.css) before it is drawn.
//
// React Flow draws every node it has not measured yet, even with
// `onlyRenderVisibleElements`, to measure it: opening a 1,000-node canvas would draw
// (and then drop) all 1,000. A node given a size and handles up front
// (`measured` + `handles`, as React Flow documents for server-side rendering) is only
// drawn once it is on screen, and its edges from nodes on screen end near the right
// place. The estimate is never a whole number of pixels, unlike any measurement
// (offsetWidth/offsetHeight), so a drawn node always differs from it and is measured:
// its real size and handles replace the estimate (see `measuredNodes`).
import { Position, type NodeChange, type NodeHandle } from "@xyflow/react";
import { handlesOf, NO_TARGET } from "../../schemas/handles";
import type { FlowNodeT } from "./canvasModel";

// styles.css: .flow-node (borders 4 + 1, padding 6 10 8, 12px text), its head, label,
// summary (one line), and the handle rows (18px each, under a 6 + 1 + 4px rule).
const MIN_WIDTH = 180;
const MAX_WIDTH = 240;
const SIDE = 2 * (10 + 1);
const HEAD_AND_LABEL = 4 + 6 + 11 + 2 + 14 + 8 + 1;
const LABEL_LINE = 14;
const SUMMARY = 2 + 14;
const HANDLES_RULE = 6 + 1 + 4;
const HANDLE_ROW = 18;
const CHAR = 7; // an average 12px character, bold labels included
const HANDLE_BOX = 10;
/** Added to every estimate: no measurement is ever this far from a whole pixel. */
const NOT_MEASURED = 0.5;

/** A node's estimated size and handles, from its type, data, and the label and summary it shows. */
export function estimatedGeometry(type: string, data: Record<string, unknown>, label: string, summary: string):
  { measured: { width: number; height: number }; handles: NodeHandle[] } {
  const content = Math.max(label.length, summary.length) * CHAR;
  const width = Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, content + SIDE));
  const labelLines = Math.max(1, Math.ceil((label.length * CHAR) / (MAX_WIDTH - SIDE)));
  const sources = handlesOf(type, data);
  const rows = sources.length ? HANDLES_RULE + HANDLE_ROW * sources.length : 0;
  const height = HEAD_AND_LABEL + LABEL_LINE * (labelLines - 1) + (summary ? SUMMARY : 0) + rows;
  const handles: NodeHandle[] = sources.map((id, i) => ({
    id, type: "source", position: Position.Right, x: width, width: HANDLE_BOX, height: HANDLE_BOX,
    // row i's middle, counted from the bottom padding (8) and border (1)
    y: height - 9 - HANDLE_ROW * (sources.length - i) + (HANDLE_ROW - HANDLE_BOX) / 2,
  }));
  if (!NO_TARGET.has(type)) {
    handles.push({ id: null, type: "target", position: Position.Left, x: -11, y: height / 2 - HANDLE_BOX / 2, width: HANDLE_BOX, height: HANDLE_BOX });
  }
  return { measured: { width: width + NOT_MEASURED, height: height + NOT_MEASURED }, handles };
}

/** Whether a node's size is still the estimate (it has not been drawn and measured since). */
export function isEstimated(width: number | undefined): boolean {
  return width !== undefined && !Number.isInteger(width);
}

/** The nodes after React Flow measured some: a measured node drops the estimated handles,
 *  so that its real ones (which React Flow keeps when `handles` is absent) are used. */
export function measuredNodes(changes: NodeChange<FlowNodeT>[], nodes: FlowNodeT[]): FlowNodeT[] {
  const measured = new Set(changes.filter((c) => c.type === "dimensions").map((c) => c.id));
  if (!measured.size) return nodes;
  return nodes.map((n) => {
    if (!measured.has(n.id) || !n.handles) return n;
    const { handles: _estimate, ...rest } = n;
    return rest;
  });
}
