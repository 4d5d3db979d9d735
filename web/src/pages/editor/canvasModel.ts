// Between the saved canvas JSON (flow_schemas/canvas.schema.json) and
// React Flow's node/edge objects.
import type { Edge, Node, Viewport } from "@xyflow/react";
import type { Canvas, Diagnostic } from "../../api/types";
import { estimatedGeometry } from "./nodeGeometry";

export type NodeData = Record<string, unknown>;
export type FlowNodeT = Node<NodeData>;

export function edgeLabel(handle: string | null | undefined): string {
  return handle ?? "next";
}

/** From this many nodes on, the canvas draws only the nodes and edges on screen. */
export const LARGE_CANVAS = 200;

/** What a node shows as its title: its label, else its id. */
export function nodeLabel(id: string, data: NodeData): string {
  return typeof data.label === "string" && data.label ? data.label : id;
}

/** The one line a node shows under its title: the first of its main fields that is set. */
export function nodeSummary(data: NodeData): string {
  for (const key of ["text", "message", "expression", "prompt", "url", "action", "target_node", "flow", "variable"]) {
    const value = data[key];
    if (typeof value === "string" && value) return value;
  }
  const template = data.template as { name?: unknown } | undefined;
  if (template && typeof template.name === "string" && template.name) return `template: ${template.name}`;
  return "";
}

/** React Flow's nodes and edges of a saved canvas. A large canvas's nodes come with an
 *  estimated size and handles (nodeGeometry.ts): only those on screen are drawn. */
export function toFlow(canvas: Canvas | null | undefined): { nodes: FlowNodeT[]; edges: Edge[] } {
  const large = (canvas?.nodes?.length ?? 0) > LARGE_CANVAS;
  const nodes = (canvas?.nodes ?? []).map((n): FlowNodeT => {
    const data = { ...(n.data ?? {}) };
    const node: FlowNodeT = { id: n.id, type: n.type, position: n.position ?? { x: 0, y: 0 }, data };
    return large ? { ...node, ...estimatedGeometry(n.type, data, nodeLabel(n.id, data), nodeSummary(data)) } : node;
  });
  const edges = (canvas?.edges ?? []).map((e) => ({
    id: e.id, source: e.source, target: e.target,
    sourceHandle: e.sourceHandle ?? null, targetHandle: e.targetHandle ?? null,
    label: edgeLabel(e.sourceHandle),
  }));
  return { nodes, edges };
}

export function toCanvas(nodes: FlowNodeT[], edges: Edge[], viewport?: Viewport, name?: string): Canvas {
  return {
    ...(name ? { name } : {}),
    nodes: nodes.map((n) => ({
      id: n.id, type: n.type ?? "message",
      position: { x: Math.round(n.position.x), y: Math.round(n.position.y) }, data: n.data,
    })),
    edges: edges.map((e) => ({
      id: e.id, source: e.source, target: e.target,
      sourceHandle: e.sourceHandle ?? null, targetHandle: e.targetHandle ?? null,
    })),
    ...(viewport ? { viewport } : {}),
  };
}

/** A node id not yet used: `question_1`, `question_2`, ... */
export function freshId(type: string, taken: Set<string>): string {
  for (let i = 1; ; i++) {
    const id = `${type}_${i}`;
    if (!taken.has(id)) return id;
  }
}

/** The data field a diagnostic points at, as a path inside the node's data
 *  (`options/0/title`), or null when it is about the node as a whole. */
export function dataPath(d: Diagnostic): string | null {
  const match = d.path?.match(/^\/nodes\/\d+\/data\/(.+)$/);
  return match ? match[1] : null;
}

/** The fields a diagnostic is about: its path inside the data, or, for one about
 *  the data as a whole ("missing required field `text`, `variable`"), the
 *  fields it names in backticks. Empty: it is about the node. */
export function fieldPaths(d: Diagnostic, fields: string[]): string[] {
  const path = dataPath(d);
  if (path !== null) return [path];
  if (!d.path?.match(/^\/nodes\/\d+\/data$/)) return [];
  const named = [...d.message.matchAll(/`([A-Za-z_][A-Za-z0-9_]*)`/g)].map((m) => m[1]);
  return named.filter((name) => fields.includes(name));
}

/** The edges with ``source``'s way out ``handle`` going to ``target`` (null: to nowhere). One edge
 *  per way out: one already leaving that handle is replaced. An edge saved without a handle is the
 *  node's `next`, as the compiler reads it. */
export function withConnection(edges: Edge[], source: string, handle: string, target: string | null): Edge[] {
  const others = edges.filter((e) => !(e.source === source && edgeLabel(e.sourceHandle) === handle));
  if (target === null) return others;
  return [...others, {
    id: `e_${source}_${handle}_${target}`, source, target, sourceHandle: handle, targetHandle: null,
    label: edgeLabel(handle),
  }];
}

/** Where each of a node's ways out (`handles`, in drawing order) leads: the target's id, or null. */
export function waysOut(edges: Edge[], source: string, handles: string[]): { handle: string; target: string | null }[] {
  return handles.map((handle) => ({
    handle,
    target: edges.find((e) => e.source === source && edgeLabel(e.sourceHandle) === handle)?.target ?? null,
  }));
}
