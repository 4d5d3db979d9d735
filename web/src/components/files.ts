// Canvas JSON files: download (export) and read an uploaded one (import).
import type { Canvas } from "../api/types";

export function downloadJson(filename: string, value: unknown): void {
  const blob = new Blob([JSON.stringify(value, null, 2) + "\n"], { type: "application/json" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function fileStem(name: string): string {
  return name.replace(/\.json$/i, "").replace(/[^\p{L}\p{N} _-]+/gu, " ").trim() || "imported";
}

export function slug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "flow";
}

/** The canvas in a file's text, or an Error saying why it is not one (before the compiler's own checks). */
export function parseCanvas(text: string): Canvas {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error("not a JSON file");
  }
  if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("not a canvas: not a JSON object");
  const canvas = parsed as Canvas;
  if (!Array.isArray(canvas.nodes)) throw new Error("not a canvas: no `nodes` list");
  if (canvas.edges !== undefined && !Array.isArray(canvas.edges)) throw new Error("not a canvas: `edges` is not a list");
  canvas.nodes.forEach((n, i) => {
    if (!n || typeof n !== "object" || typeof n.id !== "string" || typeof n.type !== "string") {
      throw new Error(`not a canvas: node ${i + 1} has no \`id\` and \`type\``);
    }
  });
  return { ...canvas, edges: Array.isArray(canvas.edges) ? canvas.edges : [] };
}

/** An uploaded file's canvas; an Error when it is not one. */
export async function readCanvasFile(file: File): Promise<Canvas> {
  return parseCanvas(await file.text());
}

const PENDING_KEY = "pytake.pendingCanvas.";

/** An imported canvas waiting in the editor of `flowId` (unsaved until Save). */
export function setPendingCanvas(flowId: string, canvas: Canvas): void {
  sessionStorage.setItem(PENDING_KEY + flowId, JSON.stringify(canvas));
}

export function takePendingCanvas(flowId: string): Canvas | null {
  const raw = sessionStorage.getItem(PENDING_KEY + flowId);
  if (raw === null) return null;
  sessionStorage.removeItem(PENDING_KEY + flowId);
  return JSON.parse(raw) as Canvas;
}
