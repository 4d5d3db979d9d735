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

export type WhatsAppNumber = {
  id: string;
  phone_number: string;
  display_name?: string | null;
  whatsapp_business_account_id?: string | null;
};

export type TemplateStatus = "PENDING" | "APPROVED" | "REJECTED" | "PAUSED" | "DISABLED";

export type Template = {
  id: string;
  whatsapp_number_id?: string | null;
  meta_template_id?: string | null;
  name: string;
  language?: string | null;
  category?: string | null;
  meta_status?: TemplateStatus | null;
  header_type?: string | null;
  header_content?: string | null;
  body_text: string;
  footer_text?: string | null;
  buttons?: unknown[] | null;
  variables?: unknown[] | null;
  sync_status?: string | null;
  sync_error?: string | null;
  rejection_reason?: string | null;
  quality_score?: { score?: string } | null;
  last_synced_at?: string | null;
};
