// A value per node id that the canvas's nodes read, each its own entry: a change
// re-renders only the nodes whose entry changed, not every node on the canvas (as a
// React context's value would).
import { useSyncExternalStore } from "react";

export class PerNode<V> {
  private entries: ReadonlyMap<string, V> = new Map();
  private readonly listeners = new Set<() => void>();

  /** Replaces the entries; `same` keeps an entry's old value when the new one is equal,
   *  so that its node does not re-render. */
  set(next: ReadonlyMap<string, V>, same?: (a: V, b: V) => boolean): void {
    if (same) {
      const kept = new Map(next);
      for (const [id, value] of next) {
        const old = this.entries.get(id);
        if (old !== undefined && same(old, value)) kept.set(id, old);
      }
      next = kept;
    }
    this.entries = next;
    this.listeners.forEach((listener) => listener());
  }

  get(id: string): V | undefined {
    return this.entries.get(id);
  }

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };
}

/** The entry of one node, `fallback` when it has none (keep `fallback` one constant). */
export function usePerNode<V, F = V>(store: PerNode<V>, id: string, fallback: F): V | F {
  return useSyncExternalStore(store.subscribe, () => store.get(id) ?? fallback);
}
