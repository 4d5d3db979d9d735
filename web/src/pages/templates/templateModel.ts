// A message template as the form edits it: its variables, the checks the API
// makes before submitting (api/templates/lifecycle.py check_definition and
// api/schemas/templates.py), the body POST /templates takes, and what
// WhatsApp shows (the preview). Pure functions, no React.
import type { MessageKey } from "../../i18n/messages";

export type HeaderKind = "NONE" | "TEXT" | "IMAGE" | "VIDEO" | "DOCUMENT" | "LOCATION";
export type MediaKind = "IMAGE" | "VIDEO" | "DOCUMENT";
export type Category = "MARKETING" | "UTILITY" | "AUTHENTICATION";
export type ButtonDraft =
  | { type: "QUICK_REPLY"; text: string }
  | { type: "URL"; text: string; url: string; example: string }
  | { type: "PHONE_NUMBER"; text: string; phone_number: string };

export type Draft = {
  whatsapp_number_id: string;
  name: string;
  language: string;
  category: Category | "";
  header_type: HeaderKind;
  header_content: string;
  header_example: string; // the header text's {{1}}
  body_text: string;
  body_examples: Record<string, string>; // variable name -> example
  footer_text: string;
  buttons: ButtonDraft[];
};

export const NAME_RULE = /^[a-z0-9_]{1,255}$/;
export const LANGUAGE_RULE = /^[a-z]{2,3}(_[A-Z]{2})?$/;
export const BODY_MAX = 1024;
export const HEADER_TEXT_MAX = 60;
export const FOOTER_MAX = 60;
export const BUTTON_TEXT_MAX = 25;
export const BUTTONS_MAX = 10;
export const URL_MAX = 2000;
const PLACEHOLDER = /\{\{\s*([^{}]*?)\s*\}\}/g;

export function emptyDraft(numberId = ""): Draft {
  return {
    whatsapp_number_id: numberId, name: "", language: "pt_BR", category: "", header_type: "NONE",
    header_content: "", header_example: "", body_text: "", body_examples: {}, footer_text: "", buttons: [],
  };
}

/** The variable names of `text` in order of appearance ("Hi {{1}}, {{2}}" → ["1", "2"]). */
export function placeholders(text: string): string[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => m[1]);
}

/** The distinct variables of `text`, each once, in order of first appearance: one example each. */
export function variables(text: string): string[] {
  return [...new Set(placeholders(text))];
}

/** Where Meta refuses a body's variables to stand (as the API checks): at the start, at the end
 * (punctuation after the last one still counts), or side by side with only spaces between. */
export function danglingVariable(body: string): "start" | "end" | "adjacent" | null {
  const text = body.trim();
  const found = [...text.matchAll(PLACEHOLDER)];
  if (!found.length) return null;
  if (found[0].index === 0) return "start";
  const last = found[found.length - 1];
  if (/^[\s\p{P}]*$/u.test(text.slice(last.index! + last[0].length))) return "end";
  for (let i = 1; i < found.length; i++) {
    const prev = found[i - 1];
    if (!text.slice(prev.index! + prev[0].length, found[i].index).trim()) return "adjacent";
  }
  return null;
}

/** A problem on a field: the field's path as the API names it, and the message (key + values). */
export type Problem = { field: string; key: MessageKey; values?: Record<string, string | number> };

function sequential(names: string[]): boolean {
  return names.every((n, i) => n === String(i + 1));
}

/** What the API would refuse, field by field (first problem per field). */
export function checkDraft(d: Draft): Problem[] {
  const out: Problem[] = [];
  const add = (field: string, key: MessageKey, values?: Problem["values"]) => {
    if (!out.some((p) => p.field === field)) out.push({ field, key, values });
  };
  if (!d.whatsapp_number_id) add("whatsapp_number_id", "templates.check.number");
  if (!NAME_RULE.test(d.name)) add("name", "templates.check.name");
  if (!LANGUAGE_RULE.test(d.language)) add("language", "templates.check.language");
  if (!d.category) add("category", "templates.check.category");
  const body = d.body_text;
  if (!body.trim()) add("body_text", "templates.check.bodyRequired");
  else if (body.length > BODY_MAX) add("body_text", "templates.check.bodyLong", { max: BODY_MAX });
  const names = placeholders(body);
  if (!sequential(names)) add("body_text", "templates.check.sequential", { found: names.map((n) => `{{${n}}}`).join(", ") });
  const dangling = danglingVariable(body);
  if (dangling) add("body_text", `templates.check.dangling.${dangling}`);
  for (const name of variables(body)) {
    if (!(d.body_examples[name] ?? "").trim()) add(`variables.${name}`, "templates.check.example", { name: `{{${name}}}` });
  }
  if (d.header_type === "TEXT") {
    const header = d.header_content;
    const hnames = placeholders(header);
    if (!header.trim()) add("header_content", "templates.check.headerText");
    else if (header.length > HEADER_TEXT_MAX) add("header_content", "templates.check.headerLong", { max: HEADER_TEXT_MAX });
    else if (hnames.length > 1 || !sequential(hnames)) add("header_content", "templates.check.headerVariable");
    else if (hnames.length && !d.header_example.trim()) add("variables.header", "templates.check.example", { name: "{{1}}" });
  } else if (d.header_type === "LOCATION") {  // the place is each send's: nothing to give here
    if (d.category === "AUTHENTICATION") add("header_type", "templates.check.locationCategory");
  } else if (d.header_type !== "NONE") {
    if (!/^(https?:\/\/|4::)/.test(d.header_content)) add("header_content", "templates.check.headerMedia");
  }
  if (d.footer_text.length > FOOTER_MAX) add("footer_text", "templates.check.footerLong", { max: FOOTER_MAX });
  let urls = 0;
  let phones = 0;
  d.buttons.forEach((b, i) => {
    const f = `buttons[${i}]`;
    if (!b.text.trim() || b.text.length > BUTTON_TEXT_MAX) add(`${f}.text`, "templates.check.buttonText", { max: BUTTON_TEXT_MAX });
    if (b.type === "URL") {
      urls += 1;
      const vars = placeholders(b.url);
      if (!/^https?:\/\//.test(b.url) || b.url.length > URL_MAX) add(`${f}.url`, "templates.check.url");
      else if (vars.length && (vars.join() !== "1" || !b.url.endsWith("}}"))) add(`${f}.url`, "templates.check.urlVariable");
      else if (vars.length && !/^http/.test(b.example)) add(`${f}.example`, "templates.check.urlExample");
    } else if (b.type === "PHONE_NUMBER") {
      phones += 1;
      const digits = b.phone_number.replace(/^\+/, "");
      if (!/^\d{8,20}$/.test(digits)) add(`${f}.phone_number`, "templates.check.phone");
    }
  });
  if (d.buttons.length > BUTTONS_MAX) add("buttons", "templates.check.buttonsMax", { max: BUTTONS_MAX });
  else if (urls > 2 || phones > 1) add("buttons", "templates.check.buttonKinds");
  else if (ungroupedButton(d.buttons) !== null) add("buttons", "templates.check.buttonGroups");
  return out;
}

const isQuick = (b: ButtonDraft) => b.type === "QUICK_REPLY";

/** The index of the first button that splits a group, or null: Meta takes quick replies and the
 *  other buttons (link, phone) as two groups, each in one piece (api/whatsapp/templates.py). */
export function ungroupedButton(buttons: ButtonDraft[]): number | null {
  let groups = 0;
  for (let i = 0; i < buttons.length; i++) {
    if (i === 0 || isQuick(buttons[i]) !== isQuick(buttons[i - 1])) groups += 1;
    if (groups > 2) return i;
  }
  return null;
}

/** ``buttons`` with ``added`` after the last button of its group (quick replies, or the others),
 *  at the end when its group has none yet: the groups stay in one piece as Meta wants. */
export function withButton(buttons: ButtonDraft[], added: ButtonDraft): ButtonDraft[] {
  const last = buttons.reduce((at, b, i) => (isQuick(b) === isQuick(added) ? i : at), -1);
  const at = last < 0 ? buttons.length : last + 1;
  return [...buttons.slice(0, at), added, ...buttons.slice(at)];
}

/** Does the URL have a variable (so its button needs an example)? */
export function urlHasVariable(url: string): boolean {
  return placeholders(url).length > 0;
}

/** The body of POST /templates for `d` (the API's TemplateCreate). */
export function toCreateBody(d: Draft): Record<string, unknown> {
  const vars: Record<string, string>[] = variables(d.body_text).map((name) => ({ name, example: d.body_examples[name] ?? "" }));
  const body: Record<string, unknown> = {
    whatsapp_number_id: d.whatsapp_number_id, name: d.name, language: d.language, category: d.category,
    body_text: d.body_text,
  };
  if (d.header_type !== "NONE") {
    body.header_type = d.header_type;
    if (d.header_type !== "LOCATION") body.header_content = d.header_content;
    if (d.header_type === "TEXT" && placeholders(d.header_content).length)
      vars.push({ component: "header", name: "1", example: d.header_example });
  }
  if (d.footer_text.trim()) body.footer_text = d.footer_text;
  if (d.buttons.length) {
    body.buttons = d.buttons.map((b) => {
      if (b.type === "URL") return urlHasVariable(b.url) ? { ...b } : { type: b.type, text: b.text, url: b.url };
      return { ...b };
    });
  }
  if (vars.length) body.variables = vars;
  return body;
}

/** `text` with each `{{n}}` replaced by its example (kept as is when it has none). */
export function substitute(text: string, examples: Record<string, string>): string {
  return text.replace(PLACEHOLDER, (whole, name: string) => (examples[name] ?? "").trim() || whole);
}

export type Preview = {
  header: { kind: "TEXT"; text: string } | { kind: MediaKind; url: string } | { kind: "LOCATION" } | null;
  body: string;
  footer: string;
  buttons: { kind: ButtonDraft["type"]; text: string; target: string }[];
};

/** The message as WhatsApp shows it, the examples in place of the variables. */
export function previewOf(d: Draft): Preview {
  let header: Preview["header"] = null;
  if (d.header_type === "TEXT") header = { kind: "TEXT", text: substitute(d.header_content, { 1: d.header_example }) };
  else if (d.header_type === "LOCATION") header = { kind: "LOCATION" };
  else if (d.header_type !== "NONE") header = { kind: d.header_type, url: d.header_content };
  return {
    header,
    body: substitute(d.body_text, d.body_examples),
    footer: d.footer_text,
    buttons: d.buttons.map((b) => ({
      kind: b.type,
      text: b.text,
      target: b.type === "URL" ? (urlHasVariable(b.url) && b.example ? b.example : b.url)
        : b.type === "PHONE_NUMBER" ? b.phone_number : "",
    })),
  };
}

/** A 422's fields mapped onto the form's: `variables` lands on the first body example missing. */
export function formField(apiField: string | undefined, d: Draft): string {
  if (!apiField) return "form";
  if (apiField === "variables") {
    const missing = variables(d.body_text).find((n) => !(d.body_examples[n] ?? "").trim());
    return missing ? `variables.${missing}` : d.header_type === "TEXT" ? "variables.header" : "body_text";
  }
  if (apiField.startsWith("body.")) return apiField.slice(5);
  return apiField;
}
