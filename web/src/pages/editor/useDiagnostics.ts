// Live diagnostics: the real compiler (POST /flows/lint) checks the canvas
// ~300 ms after the last edit; an answer for an older canvas is dropped.
import { useEffect, useRef, useState } from "react";
import { api } from "../../api/client";
import type { Canvas, Diagnostic } from "../../api/types";

export const LINT_DELAY_MS = 300;

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
        if (ticket === latest.current) setDiagnostics(result.diagnostics);
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
