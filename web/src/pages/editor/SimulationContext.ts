import { createContext, useContext } from "react";
import { PerNode, usePerNode } from "./perNode";

/** The node the simulated conversation is at (highlighted on the canvas), if any:
 *  an entry for that node only, so a step re-renders the two nodes it concerns. */
export const SimulationContext = createContext(new PerNode<true>());

export function simulatedAt(nodeId: string | null): Map<string, true> {
  return nodeId === null ? new Map() : new Map([[nodeId, true]]);
}

export function useIsSimulated(nodeId: string): boolean {
  return usePerNode(useContext(SimulationContext), nodeId, false);
}
