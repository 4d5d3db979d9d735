// Live diagnostics: the real compiler (POST /flows/lint) checks the canvas
// ~300 ms after the last edit; an answer for an older canvas is dropped.
import { useEffect, useRef, useState } from "react";
import { api } from "../../api/client";
import type { Canvas, Diagnostic } from "../../api/types";

export const LINT_DELAY_MS = 300;

/** The compiler may report one problem twice (two schema rules failing alike): show it once. */
export function distinct(diagnostics: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  return diagnostics.filter((d) => {
    const key = JSON.stringify([d.code, d.node_id, d.path, d.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function useDiagnostics(flowId: string, canvas: Canvas | null) {
  const [diagnostics, setDiagnostics] = useState<Diagnostic[]>([]);
  const [checking, setChecking] = useState(false);
  const latest = useRef(0);

  useEffect(() => {
    if (!canvas) return;
    const ticket = ++latest.current;
    setChecking(true);
    const timer = setTimeout(async () => {
      try {
        const result = await api<{ diagnostics: Diagnostic[] }>("POST", "/flows/lint",
          { flow_id: flowId, canvas_data: canvas });
        if (ticket === latest.current) setDiagnostics(distinct(result.diagnostics));
      } catch {
        // A failed check keeps the last diagnostics; saving reports errors itself.
      } finally {
        if (ticket === latest.current) setChecking(false);
      }
    }, LINT_DELAY_MS);
    return () => clearTimeout(timer);
  }, [flowId, canvas]);

  return { diagnostics, setDiagnostics, checking };
}
