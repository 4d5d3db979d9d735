// Undo/redo over snapshots of the canvas (nodes and edges).
import { useCallback, useRef, useState } from "react";

const LIMIT = 100;

export function useHistory<T>() {
  const past = useRef<T[]>([]);
  const future = useRef<T[]>([]);
  const [, bump] = useState(0);

  const record = useCallback((snapshot: T) => {
    past.current.push(snapshot);
    if (past.current.length > LIMIT) past.current.shift();
    future.current = [];
    bump((n) => n + 1);
  }, []);

  const undo = useCallback((current: T): T | null => {
    const previous = past.current.pop();
    if (previous === undefined) return null;
    future.current.push(current);
    bump((n) => n + 1);
    return previous;
  }, []);

  const redo = useCallback((current: T): T | null => {
    const next = future.current.pop();
    if (next === undefined) return null;
    past.current.push(current);
    bump((n) => n + 1);
    return next;
  }, []);

  return { record, undo, redo, canUndo: past.current.length > 0, canRedo: future.current.length > 0 };
}
