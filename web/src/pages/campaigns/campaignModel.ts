// A campaign as the pages show and edit it: which actions its state allows
// (the API's state machine, docs/campaigns.md), its progress, when to poll,
// the parameters its template needs, the checks before POST /campaigns and
// the body it takes, and times in the organization's timezone. Pure functions, no React.
import type { MessageKey } from "../../i18n/messages";
import type { Template } from "../../api/types";
import { placeholders, urlHasVariable } from "../templates/templateModel";

export type CampaignStatus = "draft" | "scheduled" | "running" | "paused" | "completed" | "cancelled";
export type Action = "start" | "pause" | "resume" | "cancel";

export type Campaign = {
  id: string;
  name: string;
  status: CampaignStatus;
  template_id?: string | null;
  whatsapp_number_id?: string | null;
  flow_id?: string | null;
  target_type?: string | null;
  target_filters?: { tags?: string[]; contact_ids?: string[] } | null;
  message_content?: Record<string, unknown> | null;
  scheduled_at?: string | null;
  started_at?: string | null;
  completed_at?: string | null;
  total_recipients?: number | null;
  sent_count?: number | null;
  delivered_count?: number | null;
  read_count?: number | null;
  failed_count?: number | null;
  skipped_count?: number | null;
  replied_count?: number | null;
  pause_reason?: string | null; // why PyTake paused it; null when a user did, or not paused
};

// from which states each action moves the campaign (api/campaigns/control.py)
const ALLOWED: Record<Action, CampaignStatus[]> = {
  start: ["draft"],
  pause: ["running"],
  resume: ["paused"],
  cancel: ["draft", "scheduled", "running", "paused"],
};

export function canDo(action: Action, status: CampaignStatus): boolean {
  return ALLOWED[action].includes(status);
}

/** While its counters may change, the pages poll: sending or waiting for its time, and, paused,
 *  completed or cancelled, while messages it sent may still be delivered or read (Meta's statuses
 *  keep coming: a paused campaign's page froze its delivered and read counts). */
export function isLive(c: Pick<Campaign, "status" | "sent_count" | "read_count">): boolean {
  if (c.status === "running" || c.status === "scheduled") return true;
  return c.status !== "draft" && (c.sent_count ?? 0) > (c.read_count ?? 0);
}

export type PauseCause = "number" | "template" | "audience" | "plan" | "other";

/** What a PyTake pause is about, from its reason: the field it names before ": " (the API's
 * error field: `template_id: template 'x' is PAUSED ...`), or the number's own reasons. Picks the
 * hint on what to do; the reason itself is shown as the API says it. */
export function pauseCause(reason: string): PauseCause {
  const field = /^([\w.[\]]+): /.exec(reason)?.[1] ?? "";
  if (field === "whatsapp_number_id" || reason.startsWith("the WhatsApp number ")) return "number";
  if (field === "template_id" || field === "message_type" || field.startsWith("message_content")) return "template";
  if (field.startsWith("target_filters") || field === "target_type") return "audience";
  if (field.startsWith("monthly_")) return "plan";
  return "other";
}

/** What the pause notice tells the reader to do: the cause's fix and resume, or, to someone who
 * cannot resume (no campaigns:write), who can. */
export function pauseHintKey(reason: string, canResume: boolean): `campaigns.pauseHint.${PauseCause | "readOnly"}` {
  return canResume ? `campaigns.pauseHint.${pauseCause(reason)}` : "campaigns.pauseHint.readOnly";
}

/** The reason to show: only while paused, and only when PyTake paused it. */
export function pauseReasonOf(c: Campaign): string | null {
  return c.status === "paused" && c.pause_reason ? c.pause_reason : null;
}

export type Progress = { sent: number; total: number; percent: number; done: number };

/** Sent out of the audience (failed and skipped recipients are done too, but not sent). */
export function progressOf(c: Campaign): Progress {
  const total = c.total_recipients ?? 0;
  const sent = c.sent_count ?? 0;
  const done = Math.min(total, sent + (c.failed_count ?? 0) + (c.skipped_count ?? 0));
  const percent = total > 0 ? Math.min(100, Math.round((sent / total) * 100)) : 0;
  return { sent, total, percent, done };
}

/** What a template's send needs filled: its body's {{n}} in order, a TEXT header's {{1}}, a media
 *  header's URL, a LOCATION header's place (``headerLocation``), ``urlButtons`` the positions of URL
 *  buttons with a ``{{1}}``, ``coupons`` those of COPY_CODE buttons (their coupon code). */
export type Needs = {
  body: string[]; headerText: boolean; headerMedia: boolean; headerLocation: boolean; urlButtons: number[]; coupons: number[];
};

/** A LOCATION header's place as typed in a form (Meta's ``location`` parameter: latitude and
 *  longitude, and an optional name and address). */
export type Place = { latitude: string; longitude: string; name: string; address: string };

export function emptyPlace(): Place {
  return { latitude: "", longitude: "", name: "", address: "" };
}

const DECIMAL = /^[-+]?(\d+(\.\d*)?|\.\d+)$/;

/** Whether ``value`` is a decimal number within ±``limit`` (a comma taken for the decimal point). */
function coordinate(value: string, limit: number): number | null {
  const typed = value.trim().replace(",", ".");
  if (!DECIMAL.test(typed)) return null;
  const n = Number(typed);
  return Math.abs(n) <= limit ? n : null;
}

/** Which part of the place the API would refuse: "latitude" or "longitude" (out of range, or not
 *  a number), else null. */
export function placeProblem(place: Place): "latitude" | "longitude" | null {
  if (coordinate(place.latitude, 90) === null) return "latitude";
  if (coordinate(place.longitude, 180) === null) return "longitude";
  return null;
}

/** The API's ``header_location`` of a valid place (name and address only when given). */
export function toLocation(place: Place): Record<string, unknown> {
  const out: Record<string, unknown> = {
    latitude: coordinate(place.latitude, 90), longitude: coordinate(place.longitude, 180),
  };
  if (place.name.trim()) out.name = place.name.trim();
  if (place.address.trim()) out.address = place.address.trim();
  return out;
}

/** The positions of the buttons that take a value (URL variables and coupons), in order. */
export function valueButtons(needs: Needs): number[] {
  return [...needs.urlButtons, ...needs.coupons].sort((a, b) => a - b);
}

export function needsOf(tpl: Template | undefined): Needs {
  if (!tpl) return { body: [], headerText: false, headerMedia: false, headerLocation: false, urlButtons: [], coupons: [] };
  const header = (tpl.header_type ?? "NONE").toUpperCase();
  const buttons = (tpl.buttons ?? []) as { type?: string; url?: string }[];
  return {
    body: [...new Set(placeholders(tpl.body_text ?? ""))],
    headerText: header === "TEXT" && placeholders(tpl.header_content ?? "").length > 0,
    headerMedia: ["IMAGE", "VIDEO", "DOCUMENT"].includes(header),
    headerLocation: header === "LOCATION",
    urlButtons: buttons.flatMap((b, i) => (b.type === "URL" && urlHasVariable(b.url ?? "") ? [i] : [])),
    coupons: buttons.flatMap((b, i) => (b.type === "COPY_CODE" ? [i] : [])),
  };
}

export type Audience = "tags" | "contacts" | "csv" | "all";

export type Draft = {
  name: string;
  whatsapp_number_id: string;
  template_id: string;
  body: Record<string, string>; // variable name -> value
  header: string;
  header_media_url: string;
  header_location: Place;
  buttons: Record<number, string>; // URL button position -> its {{1}}
  audience: Audience;
  csv_name: string; // the CSV file chosen (audience "csv"): imported into the draft before it starts
  tags: string[];
  contact_ids: string[];
  flow_id: string;
  when: "now" | "later";
  date: string; // YYYY-MM-DD, the organization's local date
  time: string; // HH:MM
};

export function emptyDraft(): Draft {
  return {
    name: "", whatsapp_number_id: "", template_id: "", body: {}, header: "", header_media_url: "",
    header_location: emptyPlace(), buttons: {},
    audience: "tags", csv_name: "", tags: [], contact_ids: [], flow_id: "", when: "now", date: "", time: "",
  };
}

export type Problem = { field: string; key: MessageKey; values?: Record<string, string | number> };

/** What the API would refuse, field by field (the fields are named as the API names them). */
export function checkDraft(d: Draft, tpl: Template | undefined, now: string): Problem[] {
  const out: Problem[] = [];
  if (!d.name.trim()) out.push({ field: "name", key: "campaigns.check.name" });
  if (!d.whatsapp_number_id) out.push({ field: "whatsapp_number_id", key: "campaigns.check.number" });
  if (!d.template_id) out.push({ field: "template_id", key: "campaigns.check.template" });
  const needs = needsOf(tpl);
  needs.body.forEach((name, i) => {
    if (!(d.body[name] ?? "").trim())
      out.push({ field: `message_content.body[${i}]`, key: "campaigns.check.param", values: { name: `{{${name}}}` } });
  });
  if (needs.headerText && !d.header.trim()) out.push({ field: "message_content.header", key: "campaigns.check.header" });
  if (needs.headerMedia && !/^https?:\/\/\S+$/.test(d.header_media_url.trim()))
    out.push({ field: "message_content.header_media_url", key: "campaigns.check.media" });
  const wrong = needs.headerLocation ? placeProblem(d.header_location) : null;
  if (wrong) out.push({ field: `message_content.header_location.${wrong}`, key: `campaigns.check.${wrong}` });
  valueButtons(needs).forEach((i, j) => {
    if (!(d.buttons[i] ?? "").trim())
      out.push({ field: `message_content.buttons[${j}]`, key: needs.coupons.includes(i) ? "campaigns.check.coupon"
        : "campaigns.check.button", values: { n: i + 1 } });
  });
  if (d.audience === "tags" && d.tags.length === 0) out.push({ field: "target_filters", key: "campaigns.check.tags" });
  if (d.audience === "csv" && !d.csv_name) out.push({ field: "target_filters", key: "campaigns.check.csv" });
  if (d.audience === "contacts" && d.contact_ids.length === 0)
    out.push({ field: "target_filters", key: "campaigns.check.contacts" });
  if (d.when === "later") {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(d.date) || !/^\d{2}:\d{2}$/.test(d.time))
      out.push({ field: "scheduled_at", key: "campaigns.check.when" });
    else if (`${d.date}T${d.time}` <= now) out.push({ field: "scheduled_at", key: "campaigns.check.past" });
  }
  return out;
}

/** A recipients import's report (POST /campaigns/{id}/recipients/import). */
export type ImportReport = {
  added: number; contact_ids: number; rejected: number; variables: string[];
  errors: { row: number; field: string; message: string }[];
};

/** Why a CSV's import keeps the campaign from starting (each rejected row, by line and column;
 *  at most ``shown`` of them, then how many more), or null when every row was taken. */
export function importProblem(report: ImportReport, shown = 5): { rows: string[]; more: number; none: boolean } | null {
  if (report.rejected === 0 && report.contact_ids > 0) return null;
  const rows = report.errors.slice(0, shown).map((e) => `${e.row} (${e.field}): ${e.message}`);
  return { rows, more: Math.max(0, report.errors.length - shown), none: report.contact_ids === 0 };
}

/** The body of POST /campaigns (a CSV audience: no criterion, so only the contacts its import adds). */
export function toCreateBody(d: Draft, tpl: Template | undefined): Record<string, unknown> {
  const needs = needsOf(tpl);
  const content: Record<string, unknown> = { body: needs.body.map((name) => (d.body[name] ?? "").trim()) };
  if (needs.headerText) content.header = d.header.trim();
  if (needs.headerMedia) content.header_media_url = d.header_media_url.trim();
  if (needs.headerLocation) content.header_location = toLocation(d.header_location);
  const positions = valueButtons(needs);
  if (positions.length) content.buttons = positions.map((i) => ({ index: i, text: (d.buttons[i] ?? "").trim() }));
  const body: Record<string, unknown> = {
    name: d.name.trim(), template_id: d.template_id, whatsapp_number_id: d.whatsapp_number_id,
    message_type: "template", message_content: content,
    target_type: d.audience === "all" ? "all" : d.audience === "tags" ? "tags" : "custom",
    target_filters: d.audience === "tags" ? { tags: d.tags } : d.audience === "contacts" ? { contact_ids: d.contact_ids } : {},
  };
  if (d.flow_id) body.flow_id = d.flow_id;
  return body;
}

/** The body of POST /campaigns/{id}/start: now, or the local date and time (no offset: the API
 * reads it in the organization's timezone). */
export function toStartBody(d: Draft): Record<string, unknown> {
  return d.when === "later" ? { scheduled_at: `${d.date}T${d.time}:00` } : {};
}

/** "YYYY-MM-DDTHH:MM" of `instant` in `timeZone` (to compare with the form's local date and time). */
export function localNow(instant: Date, timeZone: string): string {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-CA", {
    timeZone, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(instant).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}T${parts.hour}:${parts.minute}`;
}

/** An API time shown in the organization's timezone, in the UI's language. */
export function formatInZone(iso: string | null | undefined, timeZone: string, lang: string): string {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(lang, { timeZone, dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

/** Where the API's problem shows on the form: body[i]/buttons[i] paths kept, audience keys on the audience. */
export function formField(apiField: string | undefined): string {
  if (!apiField) return "";
  apiField = apiField.replace(/\.(\d+)(?=\.|$)/g, "[$1]"); // start's checks say body.1 where create's say body[1]
  // the audience's criteria, and a CSV file the import refused whole (too large, not CSV)
  if (apiField.startsWith("target_filters") || apiField === "target_type" || apiField === "file") return "target_filters";
  const button = apiField.match(/^message_content\.buttons\[(\d+)\]/);
  if (button) return `message_content.buttons[${button[1]}]`;
  return apiField.replace(/\.text$/, "");
}
