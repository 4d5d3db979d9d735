// The inbox's state and what the live channel (docs/live.md) does to it: pure
// functions, so the reducer, the lists and the quick-reply expansion are unit tested.

export type Conversation = {
  id: string;
  contact_id: string;
  whatsapp_number_id?: string | null;
  status?: string | null;
  department_id?: string | null;
  assigned_to?: string | null;
  is_bot_active?: boolean | null;
  last_message_at?: string | null;
  entered_queue_at?: string | null;
  twenty_four_hour_window_expires_at?: string | null;
  tags?: string[] | null;
};

export type MetaError = { code?: number; title?: string; message?: string; error_data?: { details?: string } };

export type Message = {
  id: string;
  conversation_id: string;
  direction: "inbound" | "outbound" | string;
  sender_type?: string | null;
  type?: string | null;
  content?: unknown;
  status?: string | null;
  error_message?: string | null;
  meta_errors?: MetaError[] | null;
  /** a media message's file (docs/replies.md): stored (fetch `url` with the token) or failed */
  media?: MessageMedia | null;
  created_at: string;
};

export type MessageMedia = { status: string; url?: string | null; mime_type?: string | null; size?: number | null;
  filename?: string | null; error?: string | null };

/** ``status``: the agent's availability (online: automatic assignment may give them conversations) */
export type Me = { user_id: string; scope: "organization" | "departments" | string; department_ids: string[];
  status?: string };
export type Typing = { user_name: string; until: number };

export type InboxState = {
  me: Me | null;
  cursor: string | null;
  conversations: Record<string, Conversation>;
  /** the newest message known of each conversation (the list rows' snippet) */
  last: Record<string, Message>;
  /** messages loaded (the open conversation's history), oldest first */
  messages: Record<string, Message[]>;
  unread: Record<string, number>;
  selected: string | null;
  typing: Record<string, Record<string, Typing>>;
};

export const emptyState: InboxState = {
  me: null, cursor: null, conversations: {}, last: {}, messages: {}, unread: {}, selected: null, typing: {},
};

export const CLOSED = new Set(["closed", "resolved"]);
const STATUS_RANK: Record<string, number> = { pending: 0, sent: 1, delivered: 2, read: 3 };

/** Whether a status may replace another: ticks only move forward; a failure always shows. */
export function statusAdvances(current: string | null | undefined, next: string): boolean {
  if (next === "failed") return true;
  if (current === "failed") return false;
  return (STATUS_RANK[next] ?? 0) >= (STATUS_RANK[current ?? "pending"] ?? 0);
}

export type LiveMessage =
  | { type: "ready"; cursor: string; user_id: string; scope: string; department_ids: string[]; status?: string }
  | { type: "status"; status: string; assigned_conversation_ids?: string[] }
  | { type: "event"; cursor: string; event: { type: string; data: Record<string, unknown> } }
  | { type: "typing"; conversation_id: string; user_id: string; user_name: string; expires_in: number }
  | { type: string; [key: string]: unknown };

export type Action =
  | { kind: "live"; message: LiveMessage; now: number }
  | { kind: "loaded"; conversations: Conversation[]; last: Message[] }
  | { kind: "conversation"; conversation: Conversation }
  | { kind: "history"; conversation_id: string; messages: Message[] }
  | { kind: "select"; conversation_id: string | null }
  | { kind: "message"; message: Message };

function withMessage(state: InboxState, message: Message, countUnread: boolean): InboxState {
  const cid = message.conversation_id;
  const history = state.messages[cid];
  const messages = history
    ? { ...state.messages, [cid]: upsert(history, message) }
    : state.messages;
  const previous = state.last[cid];
  const newer = !previous || previous.id === message.id || previous.created_at <= message.created_at;
  const last = newer ? { ...state.last, [cid]: { ...previous, ...message } } : state.last;
  const conversation = state.conversations[cid];
  const conversations = conversation && newer && (!conversation.last_message_at || conversation.last_message_at < message.created_at)
    ? { ...state.conversations, [cid]: { ...conversation, last_message_at: message.created_at,
        ...(message.direction === "inbound" ? { twenty_four_hour_window_expires_at: windowEnd(message.created_at) } : {}) } }
    : state.conversations;
  const unread = countUnread && message.direction === "inbound" && state.selected !== cid
    ? { ...state.unread, [cid]: (state.unread[cid] ?? 0) + 1 } : state.unread;
  const typing = message.direction === "outbound" && message.sender_type === "agent" && state.typing[cid]
    ? { ...state.typing, [cid]: {} } : state.typing;  // the reply ends "typing…"
  return { ...state, messages, last, conversations, unread, typing };
}

/** WhatsApp's customer service window: 24 hours after the customer's last message. */
export function windowEnd(inboundAt: string): string {
  return new Date(new Date(inboundAt).getTime() + 24 * 3600_000).toISOString();
}

/** Whether only a template can reach the customer now (no message from them in the last 24 hours). */
export function windowClosed(conversation: Conversation, now: number): boolean {
  const end = conversation.twenty_four_hour_window_expires_at;
  return !end || new Date(end).getTime() <= now;
}

function upsert(history: Message[], message: Message): Message[] {
  const at = history.findIndex((m) => m.id === message.id);
  if (at < 0) return [...history, message].sort((a, b) => a.created_at.localeCompare(b.created_at));
  const merged = { ...history[at], ...message };
  if (!statusAdvances(history[at].status, message.status ?? "pending")) merged.status = history[at].status;
  return history.map((m, i) => (i === at ? merged : m));
}

function withStatus(state: InboxState, data: Record<string, unknown>): InboxState {
  const cid = String(data.conversation_id);
  const id = String(data.message_id);
  const status = String(data.status);
  const patch = (m: Message): Message => {
    if (m.id !== id || !statusAdvances(m.status, status)) return m;
    return status === "failed"
      ? { ...m, status, error_message: (data.error as string | null) ?? m.error_message,
          meta_errors: (data.meta_errors as MetaError[] | null) ?? m.meta_errors }
      : { ...m, status };
  };
  const history = state.messages[cid];
  const last = state.last[cid];
  return {
    ...state,
    messages: history ? { ...state.messages, [cid]: history.map(patch) } : state.messages,
    last: last ? { ...state.last, [cid]: patch(last) } : state.last,
  };
}

/** A conversation event's payload as the REST shape (`assigned_agent_id` is `assigned_to` over HTTP). */
export function conversationOf(data: Record<string, unknown>): Conversation {
  const c = (data.conversation ?? data) as Record<string, unknown>;
  const out: Record<string, unknown> = { ...c };
  if ("assigned_agent_id" in c) out.assigned_to = c.assigned_agent_id;
  delete out.assigned_agent_id;
  return out as unknown as Conversation;
}

function withConversation(state: InboxState, conversation: Conversation): InboxState {
  const known = state.conversations[conversation.id];
  return { ...state, conversations: { ...state.conversations, [conversation.id]: { ...known, ...conversation } } };
}

export function reduce(state: InboxState, action: Action): InboxState {
  switch (action.kind) {
    case "loaded": {
      let next: InboxState = state;
      for (const c of action.conversations) next = withConversation(next, c);
      for (const m of action.last) next = withMessage(next, m, false);
      return next;
    }
    case "conversation":
      return withConversation(state, action.conversation);
    case "history": {
      const sorted = [...action.messages].sort((a, b) => a.created_at.localeCompare(b.created_at));
      // anything that arrived live while the page was loading stays
      const live = state.messages[action.conversation_id] ?? [];
      let merged = sorted;
      for (const m of live) merged = upsert(merged, m);
      const next = { ...state, messages: { ...state.messages, [action.conversation_id]: merged } };
      return merged.length ? withMessage(next, merged[merged.length - 1], false) : next;
    }
    case "select":
      return { ...state, selected: action.conversation_id,
        unread: action.conversation_id ? { ...state.unread, [action.conversation_id]: 0 } : state.unread };
    case "message":
      return withMessage(state, action.message, false);
    case "live":
      return applyLive(state, action.message, action.now);
  }
}

export function applyLive(state: InboxState, message: LiveMessage, now: number): InboxState {
  if (message.type === "ready") {
    const m = message as Extract<LiveMessage, { type: "ready" }>;
    return { ...state, cursor: m.cursor,
      me: { user_id: m.user_id, scope: m.scope, department_ids: m.department_ids ?? [], status: m.status } };
  }
  if (message.type === "status") {  // changed from anywhere: this tab, another one, the API, the server
    const m = message as Extract<LiveMessage, { type: "status" }>;
    return state.me ? { ...state, me: { ...state.me, status: m.status } } : state;
  }
  if (message.type === "typing") {
    const m = message as Extract<LiveMessage, { type: "typing" }>;
    const current = state.typing[m.conversation_id] ?? {};
    return { ...state, typing: { ...state.typing, [m.conversation_id]: {
      ...current, [m.user_id]: { user_name: m.user_name, until: now + m.expires_in * 1000 } } } };
  }
  if (message.type !== "event") return state;
  const { cursor, event } = message as Extract<LiveMessage, { type: "event" }>;
  const next = { ...state, cursor };
  switch (event.type) {
    case "message.received":
    case "message.sent":
      return withMessage(next, event.data.message as Message, event.type === "message.received");
    case "message.status": {
      // a message never recorded as sent (failed before it was sent, or its sender died after
      // Meta accepted it) has no message.sent: its status carries it
      const carried = event.data.message as Message | undefined;
      const base = carried
        ? withMessage(next, { ...carried, error_message: (event.data.error as string | null) ?? null,
            meta_errors: (event.data.meta_errors as MetaError[] | null) ?? null }, false)
        : next;
      return withStatus(base, event.data);
    }
    case "conversation.created":
    case "conversation.handoff":
    case "conversation.assigned":
    case "conversation.transferred":
    case "conversation.closed":
    case "conversation.returned_to_bot":
      return withConversation(next, conversationOf(event.data));
    default:
      return next;
  }
}

/** Who is typing in a conversation now (their names). */
export function typingNames(state: InboxState, conversationId: string, now: number): string[] {
  return Object.values(state.typing[conversationId] ?? {}).filter((t) => t.until > now).map((t) => t.user_name);
}

const byRecent = (a: Conversation, b: Conversation) =>
  (b.last_message_at ?? "").localeCompare(a.last_message_at ?? "");

/** "Mine": open conversations assigned to me. "Queue": waiting in one of my departments' queues
 * (every department's for an organization-wide user). Newest activity first. */
export function lists(state: InboxState): { mine: Conversation[]; queue: Conversation[] } {
  const me = state.me;
  if (!me) return { mine: [], queue: [] };
  const all = Object.values(state.conversations);
  const mine = all.filter((c) => c.assigned_to === me.user_id && !CLOSED.has(c.status ?? "")).sort(byRecent);
  const queue = all.filter((c) => c.status === "waiting_in_queue" &&
    (me.scope === "organization" || (c.department_id != null && me.department_ids.includes(c.department_id))))
    .sort(byRecent);
  return { mine, queue };
}

// ---- quick replies -------------------------------------------------------

export type QuickReply = { id: string; shortcut: string; title: string; content: string };

const bare = (shortcut: string) => shortcut.replace(/^\//, "").toLowerCase();

/** The `/word` being typed at the end of the composer's text, without its slash; null when none. */
export function shortcutQuery(text: string): string | null {
  const m = text.match(/(?:^|\s)\/([\w-]*)$/);
  return m ? m[1].toLowerCase() : null;
}

/** The quick replies whose shortcut starts with what is typed after `/` (exact match first). */
export function matchingQuickReplies(text: string, replies: QuickReply[]): QuickReply[] {
  const query = shortcutQuery(text);
  if (query === null) return [];
  return replies.filter((r) => bare(r.shortcut).startsWith(query))
    .sort((a, b) => Number(bare(b.shortcut) === query) - Number(bare(a.shortcut) === query) ||
      bare(a.shortcut).localeCompare(bare(b.shortcut)));
}

/** The text with the trailing `/word` replaced by the quick reply's content. */
export function expandQuickReply(text: string, reply: QuickReply): string {
  return text.replace(/(^|\s)\/[\w-]*$/, (_, lead: string) => lead + reply.content);
}

/** What is sent: a text ending in an exact `/shortcut` gets it expanded. */
export function expandOnSend(text: string, replies: QuickReply[]): string {
  const query = shortcutQuery(text);
  const exact = query ? replies.find((r) => bare(r.shortcut) === query) : undefined;
  return exact ? expandQuickReply(text, exact) : text;
}

/** What the composer's text is sent as. A quick reply as it was saved (picked and not edited, or
 *  its exact `/shortcut` alone) goes as `quick_reply`: the API fills its `{{variables}}`, adds its
 *  media and counts its use. Text holding a quick reply's `{{variable}}` still is not sent at all
 *  (`unfilled`, naming them): the customer would read it raw. Anything else is text. */
export type Outgoing =
  | { type: "quick_reply"; shortcut: string }
  | { type: "text"; text: string }
  | { type: "unfilled"; names: string[] };

export function outgoing(text: string, picked: QuickReply | null, replies: QuickReply[]): Outgoing {
  const typed = text.trim();
  const alone = /^\/[\w-]+$/.test(typed) ? replies.find((r) => bare(r.shortcut) === bare(typed)) : undefined;
  if (alone) return { type: "quick_reply", shortcut: alone.shortcut };
  if (picked && typed === picked.content.trim()) return { type: "quick_reply", shortcut: picked.shortcut };
  const expanded = expandOnSend(text, replies).trim();
  if (picked || expanded !== typed) {
    const names = [...new Set([...expanded.matchAll(/\{\{\s*([\w.]+)\s*\}\}/g)].map((m) => m[1]))];
    if (names.length) return { type: "unfilled", names };
  }
  return { type: "text", text: expanded };
}

// ---- small helpers -------------------------------------------------------

/** A function that runs `fn` at most once every `ms` (the first call at once). */
export function throttle<A extends unknown[]>(fn: (...args: A) => void, ms: number, clock = () => Date.now()) {
  let last = -Infinity;
  return (...args: A) => {
    const now = clock();
    if (now - last >= ms) {
      last = now;
      fn(...args);
    }
  };
}

/** A message's text for a bubble or a list row's snippet. */
export function messageText(m: Message | undefined): string {
  if (!m) return "";
  const c = (m.content ?? {}) as Record<string, unknown>;
  if (typeof c.text === "string") return c.text;
  if (typeof c.body === "string") return c.body;
  if (typeof c.caption === "string" && c.caption) return c.caption;
  if (m.type === "location") {
    const place = placeOf(m);
    return place ? `[location] ${place.name || place.address || `${place.latitude}, ${place.longitude}`}` : "[location]";
  }
  if (m.type === "template") {
    const t = (c.template ?? c) as Record<string, unknown>;
    return `[${String(t.name ?? "template")}]`;
  }
  return `[${m.type ?? "message"}]`;
}

/** Where the inbox shows a file sent by URL from: the `media_url` (or Meta's `link`) of an outbound
 *  media message without a stored file (WhatsApp fetched it; PyTake keeps no copy), when it is an
 *  absolute http(s) address. Anything else (`javascript:`, `data:`, a relative path) is none: never put
 *  in the page. A bot's content is rendered from variables, so it may hold any text. */
export function mediaLink(m: Message): string | null {
  if (m.media || m.direction !== "outbound") return null;
  const c = (m.content ?? {}) as Record<string, unknown>;
  return httpLink(typeof c.media_url === "string" ? c.media_url : c.link);
}

/** A template message's other parts as the customer saw them (`content.shown`, written at the send). */
export type TemplateShown = { header?: string; header_media?: { type: string; link: string };
  header_location?: Place; footer?: string; buttons?: string[] };

export function templateShown(m: Message): TemplateShown {
  if (m.type !== "template") return {};
  const shown = ((m.content ?? {}) as { shown?: unknown }).shown;
  if (!shown || typeof shown !== "object") return {};
  const s = shown as Record<string, unknown>;
  const media = s.header_media as { type?: unknown; link?: unknown } | undefined;
  const link = httpLink(media?.link);
  return {
    header: typeof s.header === "string" && s.header ? s.header : undefined,
    header_media: media && typeof media.type === "string" && link ? { type: media.type, link } : undefined,
    header_location: place(s.header_location) ?? undefined,
    footer: typeof s.footer === "string" && s.footer ? s.footer : undefined,
    buttons: Array.isArray(s.buttons) ? s.buttons.filter((b): b is string => typeof b === "string" && !!b) : undefined,
  };
}

/** A place: a customer's shared location, or a template's location header. */
export type Place = { latitude: number; longitude: number; name?: string; address?: string };

/** The place a message shows: a location message's, or its template's location header
 *  (``shown``: the message's `templateShown`, when the caller has it already). */
export function placeOf(m: Message, shown?: TemplateShown): Place | null {
  if (m.type === "location") return place(m.content);
  return (shown ?? templateShown(m)).header_location ?? null;
}

function place(value: unknown): Place | null {
  if (!value || typeof value !== "object") return null;
  const v = value as Record<string, unknown>;
  const latitude = coordinate(v.latitude), longitude = coordinate(v.longitude);
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180) {
    return null;
  }
  const text = (x: unknown) => (typeof x === "string" && x.trim() ? x : undefined);
  return { latitude, longitude, name: text(v.name), address: text(v.address) };
}

/** A coordinate: a number, or a string holding only one ("-8.05"); anything else NaN (Number()
 *  would read " ", [] and true as numbers). */
function coordinate(x: unknown): number {
  if (typeof x === "number") return x;
  return typeof x === "string" && /^-?\d+(\.\d+)?$/.test(x.trim()) ? Number(x) : NaN;
}

/** Where a place opens: OpenStreetMap, the pin at the place. */
export function mapLink(p: Place): string {
  return `https://www.openstreetmap.org/?mlat=${p.latitude}&mlon=${p.longitude}#map=16/${p.latitude}/${p.longitude}`;
}

function httpLink(raw: unknown): string | null {
  if (typeof raw !== "string") return null;
  try {
    const url = new URL(raw);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/** Meta's error for a failed message, as a person reads it. */
export function failureText(m: Message): string {
  const meta = m.meta_errors?.[0];
  const detail = meta ? [meta.title ?? meta.message, meta.error_data?.details].filter(Boolean).join(": ") : "";
  const code = meta?.code && !detail.includes(String(meta.code)) ? ` (${meta.code})` : "";
  return (detail ? detail + code : m.error_message) || "";
}
