import type { Edge } from "@xyflow/react";
import { describe, expect, it } from "vitest";
import { dropLevel, edgeFigures, nodeFigures, percent, periodStart, strokeWidth, type AnalyticsReport } from "./analyticsModel";

function report(part: Partial<AnalyticsReport>): AnalyticsReport {
  return { flow_id: "f", version: 2, from: null, to: null, nodes: [], edges: [], drop_off: [], ...part };
}

const edge = (source: string, handle: string | null, target: string): Edge =>
  ({ id: `e_${source}_${handle ?? "next"}_${target}`, source, target, sourceHandle: handle });

describe("nodeFigures", () => {
  it("gives each node its entries and drop-off summed over reasons, as a percentage of entries", () => {
    const figures = nodeFigures(report({
      nodes: [{ node_id: "menu", count: 8 }, { node_id: "pizza", count: 3 }],
      drop_off: [{ node_id: "menu", reason: "timeout", count: 1 }, { node_id: "menu", reason: "idle", count: 2 }],
    }));
    expect(figures.get("menu")).toEqual({ entries: 8, dropped: 3, dropPct: 38,
      reasons: [{ reason: "idle", count: 2 }, { reason: "timeout", count: 1 }] });
    expect(figures.get("pizza")).toEqual({ entries: 3, dropped: 0, dropPct: 0, reasons: [] });
    expect(figures.has("end")).toBe(false);
  });

  it("never divides by zero nor goes over 100% (an idle drop whose entry is outside the period)", () => {
    const figures = nodeFigures(report({ drop_off: [{ node_id: "ask", reason: "idle", count: 4 }] }));
    expect(figures.get("ask")).toMatchObject({ entries: 0, dropped: 4, dropPct: 0 });
    const more = nodeFigures(report({ nodes: [{ node_id: "ask", count: 1 }], drop_off: [{ node_id: "ask", reason: "idle", count: 3 }] }));
    expect(more.get("ask")?.dropPct).toBe(100);
    expect(percent(1, 3)).toBe(33);
  });
});

describe("edgeFigures", () => {
  const edges = [edge("start", null, "menu"), edge("menu", "pizza", "pizza"), edge("menu", "human", "handoff"),
    edge("ask", "invalid", "sorry"), edge("ask", "timeout", "sorry")];

  it("matches the report's edges by source, handle and target; untaken edges count 0", () => {
    const figures = edgeFigures(report({ edges: [
      { source: "start", handle: "next", target: "menu", count: 5 },
      { source: "menu", handle: "pizza", target: "pizza", count: 4 },
      { source: "ask", handle: "timeout", target: "sorry", count: 2 },
    ] }), edges);
    expect(figures.get("e_start_next_menu")?.count).toBe(5);
    expect(figures.get("e_menu_pizza_pizza")?.count).toBe(4);
    expect(figures.get("e_menu_human_handoff")?.count).toBe(0);
    expect(figures.get("e_ask_timeout_sorry")?.count).toBe(2);
    expect(figures.get("e_ask_invalid_sorry")?.count).toBe(0);
  });

  it("gives an edge reported without a handle to the first edge by handle name between the two nodes", () => {
    const figures = edgeFigures(report({ edges: [
      { source: "start", handle: null, target: "menu", count: 1 },
      { source: "ask", handle: null, target: "sorry", count: 3 },
      { source: "menu", handle: "gone", target: "pizza", count: 9 },
    ] }), edges);
    expect(figures.get("e_start_next_menu")?.count).toBe(1);
    expect(figures.get("e_ask_invalid_sorry")?.count).toBe(3);
    expect(figures.get("e_ask_timeout_sorry")?.count).toBe(0);
    // a handle the canvas does not have (another version's) counts nowhere
    expect(figures.get("e_menu_pizza_pizza")?.count).toBe(0);
  });

  it("draws busier edges thicker, the busiest at 6", () => {
    const figures = edgeFigures(report({ edges: [
      { source: "menu", handle: "pizza", target: "pizza", count: 16 },
      { source: "menu", handle: "human", target: "handoff", count: 4 },
    ] }), edges);
    expect(figures.get("e_menu_pizza_pizza")?.width).toBe(6);
    expect(figures.get("e_menu_human_handoff")?.width).toBe(3.8);
    expect(figures.get("e_start_next_menu")?.width).toBe(1.5);
    expect(strokeWidth(0, 0)).toBe(1.5);
  });
});

describe("scales and periods", () => {
  it("colours drop-off by its share of entries", () => {
    expect([0, 1, 10, 11, 30, 31, 100].map(dropLevel)).toEqual(["none", "low", "low", "mid", "mid", "high", "high"]);
  });

  it("starts a period on the hour bucket it reaches into", () => {
    const now = new Date("2026-12-02T07:35:12Z");
    expect(periodStart("24h", now)).toBe("2026-12-01T07:00:00.000Z");
    expect(periodStart("7d", now)).toBe("2026-11-25T07:00:00.000Z");
    expect(periodStart("30d", now)).toBe("2026-11-02T07:00:00.000Z");
  });
});
