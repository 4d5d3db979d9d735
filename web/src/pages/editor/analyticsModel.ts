// Path analytics on the canvas: the API's report (GET /flows/{id}/analytics) turned into
// the figures each node and each edge shows. Pure: no React, no fetching.
import type { Edge } from "@xyflow/react";

export type AnalyticsReport = {
  flow_id: string;
  version: number;
  from: string | null;
  to: string | null;
  nodes: { node_id: string; count: number }[];
  edges: { source: string; handle: string | null; target: string; count: number }[];
  drop_off: { node_id: string; reason: string; count: number }[];
};

export type NodeFigures = {
  entries: number;
  dropped: number;
  /** Dropped as a whole percentage of entries (0 when nothing entered). */
  dropPct: number;
  /** Drop-offs by reason (timeout, error, idle), most first. */
  reasons: { reason: string; count: number }[];
};

export type EdgeFigures = {
  count: number;
  /** Stroke width: 1.5 for an idle edge up to 6 for the busiest of the flow. */
  width: number;
};

export type Period = "24h" | "7d" | "30d";
export const PERIODS: Period[] = ["24h", "7d", "30d"];
const PERIOD_HOURS: Record<Period, number> = { "24h": 24, "7d": 24 * 7, "30d": 24 * 30 };

/** The `from` of a period ending now: its start, down to the hour (the counts are kept
 *  in hour buckets, and a bucket counts when it starts in the period). */
export function periodStart(period: Period, now: Date): string {
  const start = new Date(now.getTime() - PERIOD_HOURS[period] * 3_600_000);
  start.setUTCMinutes(0, 0, 0);
  return start.toISOString();
}

export function percent(part: number, whole: number): number {
  return whole > 0 ? Math.round((part / whole) * 100) : 0;
}

/** Each node's entries and drop-off; a node with neither has no entry. */
export function nodeFigures(report: AnalyticsReport): Map<string, NodeFigures> {
  const out = new Map<string, NodeFigures>();
  const entry = (id: string): NodeFigures => {
    let f = out.get(id);
    if (!f) out.set(id, (f = { entries: 0, dropped: 0, dropPct: 0, reasons: [] }));
    return f;
  };
  for (const n of report.nodes) entry(n.node_id).entries += n.count;
  for (const d of report.drop_off) {
    const f = entry(d.node_id);
    f.dropped += d.count;
    const same = f.reasons.find((r) => r.reason === d.reason);
    if (same) same.count += d.count;
    else f.reasons.push({ reason: d.reason, count: d.count });
  }
  for (const f of out.values()) {
    f.dropPct = Math.min(100, percent(f.dropped, f.entries));
    f.reasons.sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
  }
  return out;
}

/** The exit a canvas edge leaves by, as the runtime names it (an edge without a handle
 *  leaves by the node's one way out, `next`). */
function exitOf(handle: string | null | undefined): string {
  return handle || "next";
}

const key = (source: string, handle: string, target: string) => `${source}\u0000${handle}\u0000${target}`;

/** Each canvas edge's count, by edge id: the report's edge with the same source, handle and
 *  target; one the report names without a handle goes to the first edge (by handle name)
 *  from that source to that target. Edges nobody took count 0. */
export function edgeFigures(report: AnalyticsReport, edges: Edge[]): Map<string, EdgeFigures> {
  const byKey = new Map<string, Edge>();
  const byPair = new Map<string, Edge>();
  for (const e of edges) {
    const exit = exitOf(e.sourceHandle);
    byKey.set(key(e.source, exit, e.target), e);
    const pair = key(e.source, "", e.target);
    const first = byPair.get(pair);
    if (!first || exit < exitOf(first.sourceHandle)) byPair.set(pair, e);
  }
  const counts = new Map<string, number>(edges.map((e) => [e.id, 0]));
  for (const r of report.edges) {
    const e = byKey.get(key(r.source, exitOf(r.handle), r.target)) ?? (r.handle ? undefined : byPair.get(key(r.source, "", r.target)));
    if (e) counts.set(e.id, (counts.get(e.id) ?? 0) + r.count);
  }
  const busiest = Math.max(0, ...counts.values());
  const out = new Map<string, EdgeFigures>();
  for (const [id, count] of counts) out.set(id, { count, width: strokeWidth(count, busiest) });
  return out;
}

export function strokeWidth(count: number, busiest: number): number {
  if (busiest <= 0 || count <= 0) return 1.5;
  return Math.round((1.5 + 4.5 * Math.sqrt(count / busiest)) * 10) / 10;
}

/** The drop-off scale of the legend: up to each bound (inclusive), its colour class. */
export const DROP_SCALE: { upTo: number; level: DropLevel }[] = [
  { upTo: 0, level: "none" }, { upTo: 10, level: "low" }, { upTo: 30, level: "mid" }, { upTo: 100, level: "high" },
];
export type DropLevel = "none" | "low" | "mid" | "high";

export function dropLevel(pct: number): DropLevel {
  return (DROP_SCALE.find((s) => pct <= s.upTo) ?? DROP_SCALE[DROP_SCALE.length - 1]).level;
}

export function sameNodeFigures(a: NodeFigures, b: NodeFigures): boolean {
  return a.entries === b.entries && a.dropped === b.dropped && a.reasons.length === b.reasons.length
    && a.reasons.every((r, i) => r.reason === b.reasons[i].reason && r.count === b.reasons[i].count);
}

export function sameEdgeFigures(a: EdgeFigures, b: EdgeFigures): boolean {
  return a.count === b.count && a.width === b.width;
}
