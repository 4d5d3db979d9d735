// Analytics snapshots (GET /analytics/snapshots) and the arithmetic of their charts.

export type Period = "hour" | "day" | "week" | "month";

export interface Snapshot {
  period: Period;
  start: string;
  end: string;
  timezone: string;
  conversations: { total: number; new: number; resolved: number; open: number; avg_resolution_time: number | null };
  messages: { total: number; inbound: number; outbound: number; by_type: Record<string, number> };
  contacts: { total: number; new: number; active: number };
  chatbots: { total_executions: number; completion_rate: number | null; avg_completion_time: number | null;
              handoff_rate: number | null;
              // AI calls of ai_prompt nodes and the tokens their providers reported (absent in snapshots
              // stored before they were counted)
              ai_calls?: number | null; ai_prompt_tokens?: number | null; ai_completion_tokens?: number | null;
              ai_tokens?: number | null };
  agents: { total: number; active: number; avg_response_time: number | null; conversations_per_agent: number | null };
}

/** How far back the page looks for each period kind (the number of periods shown). */
export const SPAN: Record<Period, number> = { hour: 48, day: 30, week: 12, month: 12 };
const MS: Record<Period, number> = { hour: 3600e3, day: 86400e3, week: 7 * 86400e3, month: 31 * 86400e3 };

/** The `from` of the query: `SPAN` periods before `now` (a little more for months: they differ in length). */
export function rangeStart(period: Period, now: Date): Date {
  return new Date(now.getTime() - SPAN[period] * MS[period]);
}

export interface Point { x: number; y: number; value: number | null }

/** Points of a series scaled into a `width` x `height` box (y grows downwards; null values stay null, at the bottom). */
export function scale(values: (number | null)[], width: number, height: number, max?: number): Point[] {
  const top = max ?? Math.max(0, ...values.map((v) => v ?? 0));
  const step = values.length > 1 ? width / (values.length - 1) : 0;
  return values.map((value, i) => ({
    x: values.length > 1 ? i * step : width / 2,
    y: top > 0 && value !== null ? height - (value / top) * height : height,
    value,
  }));
}

/** An SVG path through the points that have a value (a gap where one is null). */
export function linePath(points: Point[]): string {
  let path = "";
  let drawing = false;
  for (const p of points) {
    if (p.value === null) { drawing = false; continue; }
    path += `${drawing ? "L" : "M"}${p.x.toFixed(1)},${p.y.toFixed(1)} `;
    drawing = true;
  }
  return path.trim();
}

/** A period's label in the organization's timezone. */
export function periodLabel(s: Snapshot, lang: string): string {
  const opts: Intl.DateTimeFormatOptions = s.period === "hour" ? { day: "2-digit", month: "2-digit", hour: "2-digit" }
    : s.period === "month" ? { month: "short", year: "numeric" } : { day: "2-digit", month: "2-digit" };
  return new Intl.DateTimeFormat(lang, { ...opts, timeZone: s.timezone }).format(new Date(s.start));
}

/** AI calls and tokens (the provider's own counts) of a period or a range of them. */
export interface AiFigures { calls: number; prompt: number; completion: number; total: number }

const count = (v: number | null | undefined) => (typeof v === "number" && Number.isFinite(v) ? v : 0);

/** A snapshot's AI figures: 0 for a figure it lacks (stored before AI usage was counted); the total is
 *  the snapshot's own `ai_tokens`, or prompt + completion when it has none. */
export function aiOf(s: Snapshot): AiFigures {
  const c = s.chatbots;
  const prompt = count(c.ai_prompt_tokens);
  const completion = count(c.ai_completion_tokens);
  return { calls: count(c.ai_calls), prompt, completion,
           total: typeof c.ai_tokens === "number" ? c.ai_tokens : prompt + completion };
}

/** The AI figures of every period shown, added up. */
export function aiTotals(items: Snapshot[]): AiFigures {
  return items.map(aiOf).reduce((sum, f) => ({ calls: sum.calls + f.calls, prompt: sum.prompt + f.prompt,
    completion: sum.completion + f.completion, total: sum.total + f.total }),
  { calls: 0, prompt: 0, completion: 0, total: 0 });
}

/** A count as people read it in their language (12,345 / 12.345). */
export function formatCount(v: number | null, lang: string): string {
  return v === null ? "—" : new Intl.NumberFormat(lang, { maximumFractionDigits: 0 }).format(v);
}

/** A count short enough for an axis (950, 1.2K, 48K; pt-BR: 1,2 mil). */
export function compactCount(v: number | null, lang: string): string {
  return v === null ? "—" : new Intl.NumberFormat(lang, { notation: "compact", maximumFractionDigits: 1 }).format(v);
}
