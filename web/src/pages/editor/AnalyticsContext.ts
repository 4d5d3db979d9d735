import { createContext, useContext } from "react";
import type { EdgeFigures, NodeFigures } from "./analyticsModel";
import { PerNode, usePerNode } from "./perNode";

/** The analytics overlay's figures, each node and edge reading only its own entry: turning
 *  the overlay on, or a new period, re-renders the nodes and edges whose figures changed. */
export type AnalyticsStores = {
  /** Entry "on" when the overlay is shown (nodes without figures then show 0). */
  shown: PerNode<true>;
  nodes: PerNode<NodeFigures>;
  edges: PerNode<EdgeFigures>;
};

export function analyticsStores(): AnalyticsStores {
  return { shown: new PerNode(), nodes: new PerNode(), edges: new PerNode() };
}

export const AnalyticsContext = createContext<AnalyticsStores>(analyticsStores());

export const NO_ENTRIES: NodeFigures = { entries: 0, dropped: 0, dropPct: 0, reasons: [] };
const NO_EDGE: EdgeFigures = { count: 0, width: 1.5 };

/** The node's figures while the overlay is on, else null. */
export function useNodeAnalytics(nodeId: string): NodeFigures | null {
  const stores = useContext(AnalyticsContext);
  const shown = usePerNode(stores.shown, "on", false);
  const figures = usePerNode(stores.nodes, nodeId, NO_ENTRIES);
  return shown ? figures : null;
}

/** The edge's figures while the overlay is on, else null. */
export function useEdgeAnalytics(edgeId: string): EdgeFigures | null {
  const stores = useContext(AnalyticsContext);
  const shown = usePerNode(stores.shown, "on", false);
  const figures = usePerNode(stores.edges, edgeId, NO_EDGE);
  return shown ? figures : null;
}
