// Undo/redo over snapshots of the canvas (nodes and edges), re-rendering on change.
import { useCallback, useRef, useState } from "react";
import { History } from "./history";

export function useHistory<T>() {
  const stack = useRef(new History<T>()).current;
  const [, bump] = useState(0);
  const changed = useCallback(<R,>(value: R): R => { bump((n) => n + 1); return value; }, []);

  const record = useCallback((snapshot: T) => changed(stack.record(snapshot)), [stack, changed]);
  const undo = useCallback((current: T): T | null => changed(stack.undo(current)), [stack, changed]);
  const redo = useCallback((current: T): T | null => changed(stack.redo(current)), [stack, changed]);

  return { record, undo, redo, canUndo: stack.canUndo, canRedo: stack.canRedo };
}
