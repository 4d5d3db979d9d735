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

/** An uploaded file's canvas, or an error message. */
export async function readCanvasFile(file: File): Promise<Canvas> {
  const parsed = JSON.parse(await file.text()) as unknown;
  if (!parsed || typeof parsed !== "object" || !Array.isArray((parsed as Canvas).nodes)) {
    throw new Error("not a canvas: no `nodes` list");
  }
  const canvas = parsed as Canvas;
  return { ...canvas, edges: Array.isArray(canvas.edges) ? canvas.edges : [] };
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
