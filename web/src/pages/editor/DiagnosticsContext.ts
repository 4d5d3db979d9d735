import { createContext, useContext } from "react";
import type { Diagnostic } from "../../api/types";
import { PerNode, usePerNode } from "./perNode";

/** Diagnostics by node id, for the node markers: each node reads only its own. */
export const DiagnosticsContext = createContext(new PerNode<Diagnostic[]>());

const NONE: Diagnostic[] = [];

export function useNodeDiagnostics(nodeId: string): Diagnostic[] {
  return usePerNode(useContext(DiagnosticsContext), nodeId, NONE);
}

/** The diagnostics indexed by node once (not filtered by each node). */
export function byNode(diagnostics: Diagnostic[]): Map<string, Diagnostic[]> {
  const map = new Map<string, Diagnostic[]>();
  for (const d of diagnostics) {
    if (!d.node_id) continue;
    const list = map.get(d.node_id);
    if (list) list.push(d);
    else map.set(d.node_id, [d]);
  }
  return map;
}

/** The same problems (a new check of an unchanged node finds them again). */
export function sameDiagnostics(a: Diagnostic[], b: Diagnostic[]): boolean {
  return a.length === b.length && a.every((d, i) => d.severity === b[i].severity && d.message === b[i].message);
}
