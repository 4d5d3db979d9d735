import { describe, expect, it } from "vitest";
import { canAdd, type Draft, emptyDraft, fieldOf, formatSize, length, LIMITS, mediaKind, problems, takesCaption,
  toReply } from "./interactiveModel";

const buttons = (...titles: string[]): Draft =>
  ({ ...emptyDraft("button"), text: "Confirma o pedido?", buttons: titles.map((title) => ({ title, description: "" })) });
const list = (extra: Partial<Draft> = {}): Draft =>
  ({ ...emptyDraft("list"), text: "Escolha", button: "Sabores", rows: [{ title: "Margherita", description: "" }], ...extra });

describe("the builder's limits", () => {
  it("counts characters as WhatsApp does: an emoji is one, not two UTF-16 units", () => {
    expect(length("🍕🍕")).toBe(2);
    expect("🍕🍕".length).toBe(4);
    expect(problems(buttons("🍕".repeat(20)))).toEqual({});
    expect(problems(buttons("🍕".repeat(21)))).toEqual({ "buttons.0.title": { key: "tooLong", limit: 20 } });
  });

  it("takes a button title of exactly 20 and refuses 21, named as the API names it", () => {
    expect(problems(buttons("Sim", "x".repeat(20)))).toEqual({});
    expect(problems(buttons("Sim", "x".repeat(21)))).toEqual({ "buttons.1.title": { key: "tooLong", limit: LIMITS.buttonTitle } });
  });

  it("wants a body and a title on every button, and no two buttons alike", () => {
    expect(problems({ ...buttons("Sim", " "), text: "  " })).toEqual({
      text: { key: "required" }, "buttons.1.title": { key: "required" } });
    expect(problems(buttons("Sim", "Não", "Sim"))).toEqual({ "buttons.2.title": { key: "duplicate" } });
  });

  it("checks header, footer and body lengths", () => {
    const p = problems({ ...buttons("Sim"), header: "h".repeat(61), footer: "f".repeat(60), text: "b".repeat(1025) });
    expect(p).toEqual({ header: { key: "tooLong", limit: 60 }, text: { key: "tooLong", limit: 1024 } });
  });

  it("allows at most 3 buttons and 10 rows", () => {
    expect(canAdd(buttons("a", "b"))).toBe(true);
    expect(canAdd(buttons("a", "b", "c"))).toBe(false);
    const rows = Array.from({ length: 10 }, (_, i) => ({ title: `r${i}`, description: "" }));
    expect(canAdd(list({ rows: rows.slice(0, 9) }))).toBe(true);
    expect(canAdd(list({ rows }))).toBe(false);
  });

  it("checks a list's button text, section title, row titles and descriptions", () => {
    expect(problems(list())).toEqual({});
    const p = problems(list({ button: "", sectionTitle: "s".repeat(25),
      rows: [{ title: "t".repeat(25), description: "d".repeat(73) }, { title: "ok", description: "d".repeat(72) }] }));
    expect(p).toEqual({ button: { key: "required" }, section_title: { key: "tooLong", limit: 24 },
      "rows.0.title": { key: "tooLong", limit: 24 }, "rows.0.description": { key: "tooLong", limit: 72 } });
  });
});

describe("the reply body", () => {
  it("is a button message with ids made from the titles, unique", () => {
    expect(toReply({ ...buttons("Sim, confirmo", "Não", "Não!"), header: " Pedido A-17 ", footer: "" })).toEqual({
      type: "button", text: "Confirma o pedido?", header: "Pedido A-17",
      buttons: [{ id: "sim_confirmo", title: "Sim, confirmo" }, { id: "nao", title: "Não" }, { id: "nao_2", title: "Não!" }] });
  });

  it("is a one-section list, optional parts left out", () => {
    expect(toReply(list({ sectionTitle: "Pizzas", rows: [{ title: "Margherita", description: "Tomate e manjericão" },
      { title: "🍕", description: " " }] }))).toEqual({
      type: "list", text: "Escolha", button: "Sabores", section_title: "Pizzas",
      rows: [{ id: "margherita", title: "Margherita", description: "Tomate e manjericão" }, { id: "option_2", title: "🍕" }] });
  });

  it("puts the API's problem with an option's id on that option's title", () => {
    expect(fieldOf("buttons.2.id")).toBe("buttons.2.title");
    expect(fieldOf("rows.0.description")).toBe("rows.0.description");
    expect(fieldOf("text")).toBe("text");
  });
});

describe("attachments", () => {
  it("goes as the kind its MIME type says, with a caption only where WhatsApp shows one", () => {
    expect(mediaKind("image/png")).toBe("image");
    expect(mediaKind("video/mp4")).toBe("video");
    expect(mediaKind("audio/ogg")).toBe("audio");
    expect(mediaKind("application/pdf")).toBe("document");
    expect(mediaKind("")).toBe("document");
    expect(["image", "video", "audio", "document"].map(takesCaption)).toEqual([true, true, false, true]);
  });

  it("shows sizes a person reads", () => {
    expect(formatSize(900)).toBe("900 B");
    expect(formatSize(2048)).toBe("2.0 KB");
    expect(formatSize(6 * 1024 * 1024)).toBe("6.0 MB");
  });
});
