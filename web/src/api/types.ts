// Shapes of the API's JSON (see /openapi.json) that the app reads.

export type Page<T> = { items: T[]; total?: number | null; next_cursor?: string | null };

export type Chatbot = { id: string; name: string; description?: string | null };

export type Flow = {
  id: string;
  chatbot_id: string;
  name: string;
  description?: string | null;
  version?: number | null;
  canvas_data?: Canvas | null;
  updated_at?: string | null;
};

export type CanvasNode = {
  id: string;
  type: string;
  position: { x: number; y: number };
  data: Record<string, unknown>;
  [key: string]: unknown;
};

export type CanvasEdge = {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
  targetHandle?: string | null;
  [key: string]: unknown;
};

export type Canvas = {
  nodes: CanvasNode[];
  edges: CanvasEdge[];
  viewport?: { x: number; y: number; zoom: number };
  [key: string]: unknown;
};

export type Diagnostic = {
  code: string;
  severity: "error" | "warning";
  node_id?: string | null;
  path?: string | null;
  message: string;
  hint?: string | null;
};
