// A conversation's bot log (GET /logs/conversations/{id}, docs/logs.md): its bot sessions, newest
// first, each with the flow path and the AI calls, and what the page writes about them.

export type FlowStep = { node_id?: string | null; node_type?: string | null; timestamp?: string | null };

export type AiCall = {
  node_id?: string | null; provider?: string | null; model?: string | null; ok?: boolean | null;
  error?: string | null; prompt?: string | null; response?: string | null;
  prompt_tokens?: number | null; completion_tokens?: number | null; tokens_used?: number | null;
  latency_ms?: number | null; timestamp?: string | null;
};

export type AiUsage = { calls: number; prompt_tokens: number; completion_tokens: number; tokens_used: number };

export type BotSession = {
  id: string;
  session_start: string;
  session_end?: string | null;
  duration_seconds?: number | null;
  message_count: number;
  bot_message_count: number;
  human_message_count: number;
  flow_path: FlowStep[];
  ai_prompts: AiCall[];
  ai_usage: AiUsage;
  handoff_occurred: boolean;
  handoff_reason?: string | null;
  handoff_timestamp?: string | null;
  outcome?: string | null;
};

export type ConversationLog = { conversation_id: string; sessions: BotSession[]; ai_usage: AiUsage };

/** Where a session stands: its outcome once it ended (`ended`, `closed`, ...); `handoff` while a
 *  person holds the conversation the bot handed over; else `running` (the flow waits or runs). */
export function sessionState(s: BotSession): string {
  if (s.session_end || s.outcome) return s.outcome || "ended";
  return s.handoff_occurred ? "handoff" : "running";
}

/** The pill's colour for a state: a good end, a hand-over, a failure, or still going. */
export function stateKind(state: string): "ok" | "wait" | "error" | "" {
  if (state === "ended" || state === "completed") return "ok";
  if (state === "handoff" || state === "running") return "wait";
  if (state === "error" || state === "failed" || state === "timeout") return "error";
  return "";
}

/** A duration in seconds as `45 s`, `3 min 5 s`, `2 h 10 min` (the units read the same in pt-BR). */
export function durationText(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "—";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return s % 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s / 60} min`;
  const minutes = Math.floor((s % 3600) / 60);
  return minutes ? `${Math.floor(s / 3600)} h ${minutes} min` : `${Math.floor(s / 3600)} h`;
}

/** A call's latency: `850 ms`, `1.2 s` (`1,2 s` in pt-BR). */
export function latencyText(ms: number | null | undefined, lang: string): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(ms / 1000)} s`;
}

/** A token count, or `—` when the provider reported none (the call still counts as a call). */
export function tokens(v: number | null | undefined, lang: string): string {
  return typeof v === "number" ? new Intl.NumberFormat(lang).format(v) : "—";
}

/** A time of the log with its seconds (steps of one session are seconds apart). */
export function logTime(iso: string | null | undefined, lang: string): string {
  if (!iso) return "—";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "—";
  const sameDay = at.toDateString() === new Date().toDateString();
  return sameDay ? at.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", second: "2-digit" })
    : at.toLocaleString(lang, { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
}
