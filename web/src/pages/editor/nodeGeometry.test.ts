import type { NodeChange } from "@xyflow/react";
import { describe, expect, it } from "vitest";
import type { Canvas } from "../../api/types";
import { LARGE_CANVAS, toCanvas, toFlow, type FlowNodeT } from "./canvasModel";
import { estimatedGeometry, isEstimated, measuredNodes } from "./nodeGeometry";

function chain(count: number): Canvas {
  return {
    nodes: Array.from({ length: count }, (_, i) => ({
      id: `n${i}`, type: i === 0 ? "start" : "message", position: { x: i * 260, y: 0 }, data: i ? { text: `Message ${i}` } : {},
    })),
    edges: [],
  };
}

describe("estimated node geometry", () => {
  it("sizes a large canvas's nodes up front, and not a small one's", () => {
    const large = toFlow(chain(LARGE_CANVAS + 1)).nodes;
    expect(large.every((n) => n.measured && n.handles)).toBe(true);
    const small = toFlow(chain(LARGE_CANVAS)).nodes;
    expect(small.some((n) => n.measured || n.handles)).toBe(false);
  });

  it("is never a whole pixel, so the node's first measurement always replaces it", () => {
    const { measured } = estimatedGeometry("question", { text: "Which size?", options: [{ id: "s" }] }, "size", "Which size?");
    expect(isEstimated(measured.width)).toBe(true);
    expect(isEstimated(measured.height)).toBe(true);
    expect(isEstimated(180)).toBe(false);
    expect(isEstimated(undefined)).toBe(false);
  });

  it("has the node's handles: one per way out, top to bottom inside the node, and an entry but on start", () => {
    const { measured, handles } = estimatedGeometry("question", { options: [{ id: "s" }, { id: "l" }] }, "size", "");
    const sources = handles.filter((h) => h.type === "source");
    expect(sources.map((h) => h.id)).toEqual(["next", "invalid", "timeout", "s", "l"]);
    const ys = sources.map((h) => h.y);
    expect(ys).toEqual([...ys].sort((a, b) => a - b));
    expect(Math.max(...ys)).toBeLessThan(measured.height);
    expect(handles.filter((h) => h.type === "target")).toHaveLength(1);
    expect(estimatedGeometry("start", {}, "start", "").handles.filter((h) => h.type === "target")).toHaveLength(0);
  });

  it("grows with more ways out and with a summary line", () => {
    const one = estimatedGeometry("message", {}, "m", "").measured.height;
    expect(estimatedGeometry("message", {}, "m", "Hello").measured.height).toBeGreaterThan(one);
    expect(estimatedGeometry("question", {}, "q", "").measured.height).toBeGreaterThan(one);
  });

  it("is not saved", () => {
    const canvas = toCanvas(toFlow(chain(LARGE_CANVAS + 1)).nodes, []);
    expect(Object.keys(canvas.nodes[1]).sort()).toEqual(["data", "id", "position", "type"]);
  });
});

describe("measuredNodes", () => {
  it("drops the estimated handles of the nodes React Flow measured, and keeps the others as they are", () => {
    const nodes = toFlow(chain(LARGE_CANVAS + 1)).nodes;
    const changes: NodeChange<FlowNodeT>[] = [{ type: "dimensions", id: "n1", dimensions: { width: 180, height: 91 } }];
    const next = measuredNodes(changes, nodes);
    expect(next[1].handles).toBeUndefined();
    expect(next[1].data).toBe(nodes[1].data);
    expect(next[0]).toBe(nodes[0]);
    expect(next[2]).toBe(nodes[2]);
    const moved: NodeChange<FlowNodeT>[] = [{ type: "position", id: "n1", position: { x: 1, y: 1 } }];
    expect(measuredNodes(moved, nodes)).toBe(nodes);
  });
});
