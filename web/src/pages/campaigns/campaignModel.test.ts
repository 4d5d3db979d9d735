import { describe, expect, it } from "vitest";
import type { Template } from "../../api/types";
import { en, ptBR } from "../../i18n/messages";
import {
  canDo, checkDraft, emptyDraft, emptyPlace, formatInZone, importProblem, formField, isLive, localNow, needsOf, pauseCause, placeProblem, pauseHintKey, pauseReasonOf,
  progressOf, toCreateBody, toLocation, toStartBody, type Campaign, type CampaignStatus, type Draft,
} from "./campaignModel";

const promo: Template = {
  id: "tpl-1", whatsapp_number_id: "num-1", name: "promo_week", body_text: "Oi {{1}}, {{2}} de desconto! {{1}}",
  header_type: "TEXT", header_content: "Semana {{1}}",
  buttons: [{ type: "QUICK_REPLY", text: "Quero" }, { type: "URL", text: "Ver", url: "https://loja.example/{{1}}" }],
};
const draft = (patch: Partial<Draft> = {}): Draft => ({
  ...emptyDraft(), name: "Black Friday", whatsapp_number_id: "num-1", template_id: "tpl-1",
  body: { 1: "Ana", 2: "10%" }, header: "42", buttons: { 1: "bf" }, tags: ["vip"], ...patch,
});
const fields = (d: Draft, now = "2026-12-02T10:00") => checkDraft(d, promo, now).map((p) => p.field);

describe("the state machine's actions", () => {
  const all: CampaignStatus[] = ["draft", "scheduled", "running", "paused", "completed", "cancelled"];
  const allowed = (action: "start" | "pause" | "resume" | "cancel") => all.filter((s) => canDo(action, s));
  it("match the API's transitions", () => {
    expect(allowed("start")).toEqual(["draft"]);
    expect(allowed("pause")).toEqual(["running"]);
    expect(allowed("resume")).toEqual(["paused"]);
    expect(allowed("cancel")).toEqual(["draft", "scheduled", "running", "paused"]);
  });
  it("poll while running or scheduled, and while what was sent may still be delivered or read", () => {
    expect(all.filter((status) => isLive({ status }))).toEqual(["scheduled", "running"]);
    const sent = { sent_count: 10, read_count: 4 };
    expect(all.filter((status) => isLive({ status, ...sent }))).toEqual(
      ["scheduled", "running", "paused", "completed", "cancelled"]);
    expect(isLive({ status: "paused", sent_count: 10, read_count: 10 })).toBe(false);
  });
});

describe("progress", () => {
  it("is sent out of the recipients, capped at 100%", () => {
    expect(progressOf({ id: "c", name: "x", status: "running", total_recipients: 20, sent_count: 5, failed_count: 1, skipped_count: 2 }))
      .toEqual({ sent: 5, total: 20, percent: 25, done: 8 });
    expect(progressOf({ id: "c", name: "x", status: "draft" })).toEqual({ sent: 0, total: 0, percent: 0, done: 0 });
  });
});

describe("the template's parameters", () => {
  it("are its distinct body variables, a text header's {{1}} and URL buttons with a variable", () => {
    expect(needsOf(promo)).toEqual(
      { body: ["1", "2"], headerText: true, headerMedia: false, headerLocation: false, urlButtons: [1], coupons: [] });
    expect(needsOf({ ...promo, header_type: "IMAGE", buttons: [], body_text: "Hi" }))
      .toEqual({ body: [], headerText: false, headerMedia: true, headerLocation: false, urlButtons: [], coupons: [] });
  });
  it("of a LOCATION header are a place", () => {
    expect(needsOf({ ...promo, header_type: "LOCATION", header_content: null, buttons: [], body_text: "Aqui" }))
      .toEqual({ body: [], headerText: false, headerMedia: false, headerLocation: true, urlButtons: [], coupons: [] });
  });
});

describe("a LOCATION header's place", () => {
  const place = (latitude: string, longitude: string) => ({ ...emptyPlace(), latitude, longitude });
  it("needs a latitude within ±90 and a longitude within ±180, a comma taken for the point", () => {
    expect(placeProblem(place("-8.0631", "-34.8711"))).toBeNull();
    expect(placeProblem(place("-8,0631", "-34,8711"))).toBeNull();
    expect(placeProblem(place("90", "-180"))).toBeNull();
    expect(placeProblem(place("", "10"))).toBe("latitude");
    expect(placeProblem(place("91", "10"))).toBe("latitude");
    expect(placeProblem(place("1e2", "10"))).toBe("latitude");
    expect(placeProblem(place("10", "180.5"))).toBe("longitude");
    expect(placeProblem(place("10", "leste"))).toBe("longitude");
  });
  it("is sent as numbers, its name and address only when given", () => {
    expect(toLocation({ latitude: " -8,0631 ", longitude: "-34.8711", name: " Loja Recife ", address: "" }))
      .toEqual({ latitude: -8.0631, longitude: -34.8711, name: "Loja Recife" });
  });
  it("is checked, and sent, by the campaign form", () => {
    const visit: Template = { ...promo, header_type: "LOCATION", header_content: null, buttons: [], body_text: "Aqui" };
    const located = draft({ header_location: { latitude: "-8.0631", longitude: "-34.8711", name: "", address: "Rua 1" } });
    expect(checkDraft(draft(), visit, "2026-12-02T10:00").map((p) => p.field))
      .toEqual(["message_content.header_location.latitude"]);
    expect(checkDraft(located, visit, "2026-12-02T10:00")).toEqual([]);
    expect(toCreateBody(located, visit).message_content).toEqual(
      { body: [], header_location: { latitude: -8.0631, longitude: -34.8711, address: "Rua 1" } });
  });
});

describe("client checks", () => {
  it("accept a complete campaign", () => {
    expect(fields(draft())).toEqual([]);
  });
  it("name each missing part as the API names it", () => {
    expect(fields(draft({ name: " ", body: { 1: "Ana" }, header: "", buttons: {}, tags: [] }))).toEqual(
      ["name", "message_content.body[1]", "message_content.header", "message_content.buttons[0]", "target_filters"]);
    expect(fields(draft({ audience: "contacts" }))).toEqual(["target_filters"]);
    expect(fields(draft({ audience: "all", tags: [] }))).toEqual([]);
    expect(fields(draft({ audience: "csv" }))).toEqual(["target_filters"]);
    expect(fields(draft({ audience: "csv", csv_name: "clientes.csv" }))).toEqual([]);
  });
  it("want a future date and time when scheduled", () => {
    expect(fields(draft({ when: "later" }))).toEqual(["scheduled_at"]);
    expect(fields(draft({ when: "later", date: "2026-12-02", time: "09:59" }))).toEqual(["scheduled_at"]);
    expect(fields(draft({ when: "later", date: "2026-12-02", time: "10:01" }))).toEqual([]);
  });
});

describe("what the API gets", () => {
  it("the create body: parameters in order, the audience as filters", () => {
    expect(toCreateBody(draft({ flow_id: "flow-1" }), promo)).toEqual({
      name: "Black Friday", template_id: "tpl-1", whatsapp_number_id: "num-1", message_type: "template",
      message_content: { body: ["Ana", "10%"], header: "42", buttons: [{ index: 1, text: "bf" }] },
      target_type: "tags", target_filters: { tags: ["vip"] }, flow_id: "flow-1",
    });
    expect(toCreateBody(draft({ audience: "contacts", contact_ids: ["c1"] }), promo).target_filters).toEqual({ contact_ids: ["c1"] });
    expect(toCreateBody(draft({ audience: "all" }), promo)).toMatchObject({ target_type: "all", target_filters: {} });
  });
  it("the start body: now, or the local time without offset (the organization's timezone)", () => {
    expect(toStartBody(draft())).toEqual({});
    expect(toStartBody(draft({ when: "later", date: "2026-12-24", time: "18:30" }))).toEqual({ scheduled_at: "2026-12-24T18:30:00" });
  });
  it("the API's problem lands on the form's field", () => {
    expect(formField("target_filters.tags")).toBe("target_filters");
    expect(formField("file")).toBe("target_filters");
    expect(formField("message_content.body[1]")).toBe("message_content.body[1]");
    expect(formField("message_content.buttons[0].text")).toBe("message_content.buttons[0]");
    expect(formField("template_id")).toBe("template_id");
    expect(formField("message_content.body.0")).toBe("message_content.body[0]");
    expect(formField("message_content.buttons.0.text")).toBe("message_content.buttons[0]");
  });
});

describe("a CSV audience", () => {
  it("is only the contacts its import adds", () => {
    expect(toCreateBody(draft({ audience: "csv", csv_name: "c.csv" }), promo))
      .toMatchObject({ target_type: "custom", target_filters: {} });
  });
  it("starts nothing while the import refused rows, or found no contact", () => {
    const report = { added: 2, contact_ids: 2, rejected: 0, variables: [], errors: [] };
    expect(importProblem(report)).toBeNull();
    const errors = Array.from({ length: 7 }, (_, i) => ({ row: i + 2, field: "whatsapp_id", message: "not a number" }));
    expect(importProblem({ ...report, rejected: 7, errors })).toEqual({
      rows: [2, 3, 4, 5, 6].map((r) => `${r} (whatsapp_id): not a number`), more: 2, none: false });
    expect(importProblem({ ...report, added: 0, contact_ids: 0 })).toEqual({ rows: [], more: 0, none: true });
  });
});

describe("times in the organization's timezone", () => {
  it("now, and an API time, as that zone's wall clock", () => {
    const instant = new Date("2026-12-02T13:05:00Z");
    expect(localNow(instant, "America/Sao_Paulo")).toBe("2026-12-02T10:05");
    expect(localNow(instant, "UTC")).toBe("2026-12-02T13:05");
    expect(formatInZone("2026-12-02T13:05:00Z", "America/Sao_Paulo", "en")).toMatch(/10:05/);
    expect(formatInZone(null, "UTC", "en")).toBe("—");
  });
});

describe("why PyTake paused a campaign", () => {
  it("tells the cause from the reason's field, as the API writes it", () => {
    expect(pauseCause("the WhatsApp number was deactivated")).toBe("number");
    expect(pauseCause("the WhatsApp number was deleted")).toBe("number");
    expect(pauseCause("whatsapp_number_id: the WhatsApp number is deactivated: activate it")).toBe("number");
    expect(pauseCause("template_id: template 'promo_week' is PAUSED: only APPROVED, active templates can be sent"))
      .toBe("template");
    expect(pauseCause("template_id: Meta refused the template: (#132015) Template is paused")).toBe("template");
    expect(pauseCause("message_content.body[0]: body parameter {{1}} is empty")).toBe("template");
    expect(pauseCause("target_filters: the audience is empty: no contact ...")).toBe("audience");
    expect(pauseCause("monthly_message_limit: plan limit exceeded")).toBe("plan");
    expect(pauseCause("something new")).toBe("other");
  });

  it("shows the reason only while paused, and only PyTake's", () => {
    const c: Campaign = { id: "c", name: "Semana", status: "paused", pause_reason: "the WhatsApp number was deleted" };
    expect(pauseReasonOf(c)).toBe("the WhatsApp number was deleted");
    expect(pauseReasonOf({ ...c, pause_reason: null })).toBeNull(); // a user paused it
    expect(pauseReasonOf({ ...c, status: "running" })).toBeNull();
  });
});

describe("translations", () => {
  it("every campaigns string exists in both languages", () => {
    const keys = Object.keys(en).filter((k) => k.startsWith("campaigns.") || k === "nav.campaigns");
    expect(keys.length).toBeGreaterThan(50);
    for (const k of keys) expect(ptBR[k as keyof typeof en], k).toBeTruthy();
  });
});

describe("pauseHintKey", () => {
  it("tells who can resume what to fix, and a read-only reader who can resume", () => {
    const reason = "template_id: Meta refused the template: Template is paused due to low quality (error 132015)";
    expect(pauseHintKey(reason, true)).toBe("campaigns.pauseHint.template");
    expect(pauseHintKey("the WhatsApp number was deleted", true)).toBe("campaigns.pauseHint.number");
    expect(pauseHintKey(reason, false)).toBe("campaigns.pauseHint.readOnly");
  });
});
