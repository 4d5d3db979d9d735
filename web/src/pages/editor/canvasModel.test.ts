import type { Edge } from "@xyflow/react";
import { describe, expect, it } from "vitest";
import { toCanvas, waysOut, withConnection } from "./canvasModel";

const edge = (source: string, target: string, sourceHandle: string | null): Edge =>
  ({ id: `${source}-${sourceHandle}-${target}`, source, target, sourceHandle });

describe("connecting a way out without a drag", () => {
  const edges = [edge("ask", "thanks", "next"), edge("ask", "ask", "invalid"), edge("start", "ask", null)];

  it("says where each way leads, an edge saved without a handle being the node's next", () => {
    expect(waysOut(edges, "ask", ["next", "invalid", "timeout"])).toEqual([
      { handle: "next", target: "thanks" }, { handle: "invalid", target: "ask" }, { handle: "timeout", target: null },
    ]);
    expect(waysOut(edges, "start", ["next"])).toEqual([{ handle: "next", target: "ask" }]);
  });

  it("replaces the edge already leaving that way, and leaves the others", () => {
    const next = withConnection(edges, "ask", "next", "bye");
    expect(waysOut(next, "ask", ["next", "invalid"])).toEqual([
      { handle: "next", target: "bye" }, { handle: "invalid", target: "ask" },
    ]);
    expect(next).toHaveLength(3);
    expect(withConnection(edges, "start", "next", "bye").filter((e) => e.source === "start")).toHaveLength(1);
  });

  it("disconnects a way with no target, and the canvas saves the new edge with its handle", () => {
    expect(waysOut(withConnection(edges, "ask", "invalid", null), "ask", ["invalid"])).toEqual([
      { handle: "invalid", target: null },
    ]);
    const saved = toCanvas([], withConnection([], "ask", "timeout", "bye")).edges;
    expect(saved).toEqual([{ id: "e_ask_timeout_bye", source: "ask", target: "bye", sourceHandle: "timeout", targetHandle: null }]);
  });
});
