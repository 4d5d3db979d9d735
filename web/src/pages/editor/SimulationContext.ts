import { createContext, useContext } from "react";

/** The node the simulated conversation is at (highlighted on the canvas), if any. */
export const SimulationContext = createContext<string | null>(null);

export function useIsSimulated(nodeId: string): boolean {
  return useContext(SimulationContext) === nodeId;
}
