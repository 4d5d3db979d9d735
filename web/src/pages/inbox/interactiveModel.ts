// The composer's interactive-message builder: reply buttons or a one-section list,
// WhatsApp's limits (engine/whatsapp_limits.py) counted live, and the reply body the
// API takes (docs/replies.md). Pure, so the limits are unit tested.

export const LIMITS = {
  body: 1024,
  header: 60,
  footer: 60,
  buttons: 3,
  buttonTitle: 20,
  listButton: 20,
  sectionTitle: 24,
  rows: 10,
  rowTitle: 24,
  rowDescription: 72,
  caption: 1024,
} as const;

export type Option = { title: string; description: string };
export type Draft = {
  kind: "button" | "list";
  text: string;
  header: string;
  footer: string;
  buttons: Option[];
  /** the list's button text */
  button: string;
  sectionTitle: string;
  rows: Option[];
};

/** What a problem is, for the page to translate: `{ key, limit }`, or the API's words in `message`. */
export type Problem = { key: "required" | "tooLong" | "duplicate"; limit?: number } | { key: "api"; message: string };

export function emptyDraft(kind: Draft["kind"] = "button"): Draft {
  return { kind, text: "", header: "", footer: "", buttons: [{ title: "", description: "" }], button: "",
    sectionTitle: "", rows: [{ title: "", description: "" }] };
}

/** Characters as WhatsApp (and the API, in Python) count them: code points, not UTF-16 units. */
export function length(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function check(problems: Record<string, Problem>, field: string, value: string, limit: number, required: boolean) {
  if (required && !value.trim()) problems[field] = { key: "required" };
  else if (length(value) > limit) problems[field] = { key: "tooLong", limit };
}

/** The draft's problems by field, named as the API names them (`buttons.1.title`, `rows.0.description`). */
export function problems(draft: Draft): Record<string, Problem> {
  const out: Record<string, Problem> = {};
  check(out, "text", draft.text, LIMITS.body, true);
  check(out, "header", draft.header, LIMITS.header, false);
  check(out, "footer", draft.footer, LIMITS.footer, false);
  if (draft.kind === "button") {
    const seen = new Set<string>();
    draft.buttons.forEach((b, i) => {
      check(out, `buttons.${i}.title`, b.title, LIMITS.buttonTitle, true);
      const title = b.title.trim();
      if (title && seen.has(title) && !out[`buttons.${i}.title`]) out[`buttons.${i}.title`] = { key: "duplicate" };
      seen.add(title);
    });
  } else {
    check(out, "button", draft.button, LIMITS.listButton, true);
    check(out, "section_title", draft.sectionTitle, LIMITS.sectionTitle, false);
    draft.rows.forEach((r, i) => {
      check(out, `rows.${i}.title`, r.title, LIMITS.rowTitle, true);
      check(out, `rows.${i}.description`, r.description, LIMITS.rowDescription, false);
    });
  }
  return out;
}

export function canAdd(draft: Draft): boolean {
  return draft.kind === "button" ? draft.buttons.length < LIMITS.buttons : draft.rows.length < LIMITS.rows;
}

/** An id for an option from its title (unique within the message; what the customer's answer carries back). */
export function optionId(title: string, index: number, taken: Set<string>): string {
  const slug = title.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40) || `option_${index + 1}`;
  let id = slug;
  for (let n = 2; taken.has(id); n++) id = `${slug}_${n}`;
  taken.add(id);
  return id;
}

/** The reply body for `POST /conversations/{id}/messages`. */
export function toReply(draft: Draft): Record<string, unknown> {
  const body: Record<string, unknown> = { type: draft.kind, text: draft.text.trim() };
  if (draft.header.trim()) body.header = draft.header.trim();
  if (draft.footer.trim()) body.footer = draft.footer.trim();
  const taken = new Set<string>();
  if (draft.kind === "button") {
    body.buttons = draft.buttons.map((b, i) => ({ id: optionId(b.title, i, taken), title: b.title.trim() }));
  } else {
    body.button = draft.button.trim();
    if (draft.sectionTitle.trim()) body.section_title = draft.sectionTitle.trim();
    body.rows = draft.rows.map((r, i) => {
      const row: Record<string, string> = { id: optionId(r.title, i, taken), title: r.title.trim() };
      if (r.description.trim()) row.description = r.description.trim();
      return row;
    });
  }
  return body;
}

/** The builder's field a problem the API named belongs to (`buttons.1.id` shows on that button's title). */
export function fieldOf(apiField: string): string {
  const m = /^(buttons|rows)\.(\d+)\.id$/.exec(apiField);
  return m ? `${m[1]}.${m[2]}.title` : apiField;
}

/** The reply type a picked file goes as, by its MIME type (the API's `/uploads` answer has the final word). */
export function mediaKind(mime: string): "image" | "video" | "audio" | "document" {
  const top = mime.split("/")[0];
  return top === "image" || top === "video" || top === "audio" ? top : "document";
}

/** WhatsApp shows a caption under an image, a video or a document, never with an audio. */
export function takesCaption(kind: string): boolean {
  return kind === "image" || kind === "video" || kind === "document";
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
