import { createContext, useContext } from "react";
import type { Diagnostic } from "../../api/types";

/** Diagnostics by node id, for the node markers. */
export const DiagnosticsContext = createContext<Map<string, Diagnostic[]>>(new Map());

export function useNodeDiagnostics(nodeId: string): Diagnostic[] {
  return useContext(DiagnosticsContext).get(nodeId) ?? [];
}

export function byNode(diagnostics: Diagnostic[]): Map<string, Diagnostic[]> {
  const map = new Map<string, Diagnostic[]>();
  for (const d of diagnostics) {
    if (!d.node_id) continue;
    map.set(d.node_id, [...(map.get(d.node_id) ?? []), d]);
  }
  return map;
}
