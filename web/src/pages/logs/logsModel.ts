// The log store's pages (GET /logs/messages, GET /logs/api-requests; docs/logs.md): the queries the
// Logs page sends, its keyset pages, and what it writes about a row.

export const MESSAGE_STATUSES = ["received", "pending", "sent", "delivered", "read", "failed"] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];
export const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"] as const;
export const PAGE_SIZES = [10, 25, 50, 100, 200] as const; // the API's limit: 1-200, default 50

export type StatusEntry = { status: string; timestamp?: string | null; error?: string | null };

export type MessageLog = {
  message_id: string;
  conversation_id?: string | null;
  contact_id?: string | null;
  direction?: "inbound" | "outbound" | string | null;
  sender_type?: string | null;
  type?: string | null;
  content?: Record<string, unknown> | null;
  text?: string | null;
  whatsapp_message_id?: string | null;
  status?: string | null;
  status_history: StatusEntry[];
  created_at: string;
};

export type RequestLog = {
  id: string;
  user_id?: string | null;
  method: string;
  path: string;
  query_params?: Record<string, unknown> | null;
  status_code: number;
  response_time_ms?: number | null;
  ip_address?: string | null;
  user_agent?: string | null;
  success: boolean;
  error_message?: string | null;
  created_at: string;
};

export type LogPage<T> = { items: T[]; next_before: string | null };

/** Keyset pages as the API pages them: the `before` of every page opened so far, the current one last
 *  (`null`: the newest page). Older pushes the page's `next_before`; newer goes back one. */
export type Pager = readonly (string | null)[];
export const FIRST_PAGE: Pager = [null];
export const currentBefore = (p: Pager): string | null => p[p.length - 1];
export const older = (p: Pager, nextBefore: string): Pager => [...p, nextBefore];
export const newer = (p: Pager): Pager => (p.length > 1 ? p.slice(0, -1) : p);

export type MessageFilters = { q: string; direction: "" | "inbound" | "outbound"; status: "" | MessageStatus };
export type RequestFilters = { method: "" | (typeof METHODS)[number]; path: string; status_code: string; user_id: string };

function withPage(query: URLSearchParams, before: string | null, limit: number): string {
  if (before) query.set("before", before);
  query.set("limit", String(limit));
  return query.toString();
}

/** GET /logs/messages' query: the words (`q`, as typed: "a phrase", -word), the direction and the
 *  status. */
export function messageQuery(f: MessageFilters, before: string | null, limit: number): string {
  const query = new URLSearchParams();
  if (f.q.trim()) query.set("q", f.q.trim());
  if (f.direction) query.set("direction", f.direction);
  if (f.status) query.set("status", f.status);
  return withPage(query, before, limit);
}

/** GET /logs/api-requests' query; the status code goes as typed (the API says when it is not one). */
export function requestQuery(f: RequestFilters, before: string | null, limit: number): string {
  const query = new URLSearchParams();
  if (f.method) query.set("method", f.method);
  if (f.path.trim()) query.set("path", f.path.trim());
  if (f.status_code.trim()) query.set("status_code", f.status_code.trim());
  if (f.user_id) query.set("user_id", f.user_id);
  return withPage(query, before, limit);
}

/** What a message said: its text, else its content's text or caption, else its type in brackets, else
 *  nothing (a send refused at once has a log of its status only). */
export function messagePreview(m: MessageLog): string {
  if (m.text) return m.text;
  const content = m.content ?? {};
  for (const key of ["text", "caption", "body"]) {
    const value = content[key];
    if (typeof value === "string" && value) return value;
    if (value && typeof value === "object" && typeof (value as { body?: unknown }).body === "string")
      return (value as { body: string }).body;
  }
  return m.type ? `[${m.type}]` : "";
}

// the lifecycle's order (api/logstore/store.py's STATUS_RANK): Meta stamps statuses to the second, so a
// `delivered` can carry an earlier time than the `sent` PyTake stamped to the microsecond
const RANK: Record<string, number> = { received: 1, pending: 1, sent: 2, delivered: 3, read: 4, failed: 5 };

/** The status timeline in the lifecycle's order (sent, delivered, read; failed last), then by time;
 *  a status this page does not know goes after the known ones. */
export function timeline(m: MessageLog): StatusEntry[] {
  const timed = (e: StatusEntry) => (e.timestamp ? Date.parse(e.timestamp) : Number.POSITIVE_INFINITY);
  return m.status_history.map((e, i) => ({ e, i }))
    .sort((a, b) => (RANK[a.e.status] ?? 9) - (RANK[b.e.status] ?? 9) || timed(a.e) - timed(b.e) || a.i - b.i)
    .map(({ e }) => e);
}

/** A message status' pill colour. */
export function messageStatusKind(status: string | null | undefined): "ok" | "wait" | "error" | "" {
  if (status === "delivered" || status === "read" || status === "received") return "ok";
  if (status === "failed") return "error";
  return status === "sent" || status === "pending" ? "wait" : "";
}

/** An HTTP status' pill colour: 2xx fine, 4xx the caller's mistake, 5xx ours. */
export function httpStatusKind(code: number): "ok" | "wait" | "error" | "" {
  if (code >= 200 && code < 300) return "ok";
  if (code >= 500) return "error";
  return code >= 400 ? "wait" : "";
}

/** A log's time with its seconds, in the reader's language and timezone. */
export function when(iso: string | null | undefined, lang: string): string {
  if (!iso) return "—";
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? "—" : at.toLocaleString(lang, { dateStyle: "short", timeStyle: "medium" });
}

/** A request's latency in ms (the API keeps fractions). */
export function latency(ms: number | null | undefined, lang: string): string {
  return typeof ms === "number" ? `${new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(ms)} ms` : "—";
}
