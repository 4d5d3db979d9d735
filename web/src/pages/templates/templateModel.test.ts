import { describe, expect, it } from "vitest";
import { en, ptBR } from "../../i18n/messages";
import {
  checkDraft, emptyDraft, formField, placeholders, previewOf, toCreateBody, variables, withButton, type ButtonDraft, type Draft,
} from "./templateModel";

const order = (patch: Partial<Draft> = {}): Draft => ({
  ...emptyDraft("num-1"),
  name: "order_shipped", category: "UTILITY",
  header_type: "TEXT", header_content: "Pedido {{1}}", header_example: "A-17",
  body_text: "Olá {{1}}, seu pedido {{2}} saiu.", body_examples: { 1: "João", 2: "A-17" },
  footer_text: "Loja Napoli",
  buttons: [{ type: "URL", text: "Rastrear", url: "https://loja.example/r/{{1}}", example: "https://loja.example/r/A-17" }],
  ...patch,
});
const fields = (d: Draft) => checkDraft(d).map((p) => p.field);

describe("variables", () => {
  it("are found in order of appearance, spaces inside the braces allowed", () => {
    expect(placeholders("Oi {{1}}, {{ 2 }} e {{1}}")).toEqual(["1", "2", "1"]);
    expect(variables("Oi {{1}}, {{ 2 }} e {{1}}")).toEqual(["1", "2"]);
    expect(variables("no variables { {1} }")).toEqual([]);
  });
});

describe("client checks mirror the API's", () => {
  it("accept a complete template", () => {
    expect(checkDraft(order())).toEqual([]);
  });

  it("name: lowercase, digits and underscores", () => {
    expect(fields(order({ name: "Order Shipped" }))).toEqual(["name"]);
    expect(fields(order({ name: "" }))).toEqual(["name"]);
  });

  it("ask for one example per body variable, named on that variable", () => {
    const d = order({ body_examples: { 1: "João", 2: " " } });
    expect(fields(d)).toEqual(["variables.2"]);
    expect(checkDraft(d)[0].values).toEqual({ name: "{{2}}" });
  });

  it("refuse variables out of order", () => {
    const [problem] = checkDraft(order({ body_text: "Oi {{2}}", body_examples: { 2: "x" } }));
    expect(problem).toMatchObject({ field: "body_text", key: "templates.check.sequential", values: { found: "{{2}}" } });
  });

  it("refuse a body variable where Meta refuses it: at the start, at the end, side by side", () => {
    const key = (body_text: string) => checkDraft(order({ body_text })).find((p) => p.field === "body_text")?.key;
    expect(key("Olá {{1}}, seu pedido {{2}}.")).toBe("templates.check.dangling.end");
    expect(key("{{1}}, seu pedido {{2}} saiu")).toBe("templates.check.dangling.start");
    expect(key("Olá {{1}} {{2}}, seu pedido saiu")).toBe("templates.check.dangling.adjacent");
    expect(key("Olá {{1}}, seu pedido {{2}} saiu 😊")).toBeUndefined();
  });

  it("header: text with one example; media needs a URL", () => {
    expect(fields(order({ header_example: "" }))).toEqual(["variables.header"]);
    expect(fields(order({ header_content: "{{1}} {{2}}" }))).toEqual(["header_content"]);
    expect(fields(order({ header_content: "x".repeat(61) }))).toEqual(["header_content"]);
    expect(fields(order({ header_type: "IMAGE", header_content: "cat.png" }))).toEqual(["header_content"]);
    expect(fields(order({ header_type: "IMAGE", header_content: "https://img.example/cat.png" }))).toEqual([]);
  });

  it("header: a location has no content, and is for Utility and Marketing only", () => {
    expect(fields(order({ header_type: "LOCATION", header_content: "" }))).toEqual([]);
    expect(fields(order({ header_type: "LOCATION", header_content: "", category: "AUTHENTICATION" }))).toEqual(["header_type"]);
    const body = toCreateBody(order({ header_type: "LOCATION", header_content: "" }));
    expect(body.header_type).toBe("LOCATION");
    expect("header_content" in body).toBe(false);
    expect(previewOf(order({ header_type: "LOCATION", header_content: "" })).header).toEqual({ kind: "LOCATION" });
  });

  it("buttons: URL variable only at the end, with an example URL; phone in E.164; kinds counted", () => {
    const url = (u: string, example = "") => order({ buttons: [{ type: "URL", text: "Go", url: u, example }] });
    expect(fields(url("https://a.example/{{1}}/x", "https://a.example/1/x"))).toEqual(["buttons[0].url"]);
    expect(fields(url("https://a.example/{{1}}"))).toEqual(["buttons[0].example"]);
    expect(fields(url("ftp://a.example"))).toEqual(["buttons[0].url"]);
    expect(fields(url("https://a.example"))).toEqual([]);
    expect(fields(order({ buttons: [{ type: "PHONE_NUMBER", text: "Call", phone_number: "1234" }] })))
      .toEqual(["buttons[0].phone_number"]);
    expect(fields(order({ buttons: [{ type: "QUICK_REPLY", text: "x".repeat(26) }] }))).toEqual(["buttons[0].text"]);
    const phone = { type: "PHONE_NUMBER" as const, text: "Call", phone_number: "+5511999990000" };
    expect(fields(order({ buttons: [phone, phone] }))).toEqual(["buttons"]);
  });

  it("buttons: quick replies and the others are two groups, each in one piece", () => {
    const quick: ButtonDraft = { type: "QUICK_REPLY", text: "Sim" };
    const link: ButtonDraft = { type: "URL", text: "Ver", url: "https://a.example", example: "" };
    const phone: ButtonDraft = { type: "PHONE_NUMBER", text: "Ligar", phone_number: "+5511999990000" };
    expect(fields(order({ buttons: [quick, link, quick] }))).toEqual(["buttons"]);
    expect(fields(order({ buttons: [link, quick, phone] }))).toEqual(["buttons"]);
    expect(fields(order({ buttons: [quick, quick, link, phone] }))).toEqual([]);
    expect(fields(order({ buttons: [link, phone, quick] }))).toEqual([]);
    // a button added goes after the last of its group, so the form never mixes them
    const kinds = (bs: ButtonDraft[]) => bs.map((b) => b.type);
    expect(kinds(withButton([quick, link], quick))).toEqual(["QUICK_REPLY", "QUICK_REPLY", "URL"]);
    expect(kinds(withButton([link, quick], phone))).toEqual(["URL", "PHONE_NUMBER", "QUICK_REPLY"]);
    expect(kinds(withButton([link], quick))).toEqual(["URL", "QUICK_REPLY"]);
    expect(kinds(withButton([], link))).toEqual(["URL"]);
  });

  it("every problem has a message in both languages", () => {
    const all = [order({ name: "X", category: "", body_text: "" }), order({ body_text: "{{2}}" }),
      order({ body_text: "{{1}} x {{2}}" }), order({ body_text: "x {{1}} {{2}} x" }), order({ body_text: "x {{1}} x {{2}}!" }),
      order({ header_example: "", footer_text: "x".repeat(61) }),
      order({ buttons: [{ type: "QUICK_REPLY", text: "a" }, { type: "PHONE_NUMBER", text: "b", phone_number: "+5511999990000" },
        { type: "QUICK_REPLY", text: "c" }] })].flatMap(checkDraft);
    expect(all.length).toBeGreaterThan(4);
    for (const p of all) { expect(en[p.key]).toBeTruthy(); expect(ptBR[p.key]).toBeTruthy(); }
  });
});

describe("the API body", () => {
  it("carries each example as the API's variables, the header's named by component", () => {
    const body = toCreateBody(order());
    expect(body.variables).toEqual([{ name: "1", example: "João" }, { name: "2", example: "A-17" },
      { component: "header", name: "1", example: "A-17" }]);
    expect(body.header_type).toBe("TEXT");
    expect(body.buttons).toEqual([{ type: "URL", text: "Rastrear", url: "https://loja.example/r/{{1}}",
      example: "https://loja.example/r/A-17" }]);
  });

  it("leaves out what the form does not use", () => {
    const body = toCreateBody(order({ header_type: "NONE", footer_text: " ", buttons: [], body_text: "Hi", body_examples: {} }));
    expect(Object.keys(body).sort()).toEqual(["body_text", "category", "language", "name", "whatsapp_number_id"]);
  });
});

describe("the preview", () => {
  it("shows the examples in place of the variables", () => {
    const p = previewOf(order());
    expect(p.header).toEqual({ kind: "TEXT", text: "Pedido A-17" });
    expect(p.body).toBe("Olá João, seu pedido A-17 saiu.");
    expect(p.footer).toBe("Loja Napoli");
    expect(p.buttons).toEqual([{ kind: "URL", text: "Rastrear", target: "https://loja.example/r/A-17" }]);
  });

  it("keeps a variable without example visible", () => {
    expect(previewOf(order({ body_examples: { 1: "João" } })).body).toBe("Olá João, seu pedido {{2}} saiu.");
  });
});

describe("a 422's field on the form", () => {
  it("lands `variables` on the first example missing, and keeps named fields", () => {
    expect(formField("variables", order({ body_examples: { 1: "x" } }))).toBe("variables.2");
    expect(formField("variables", order())).toBe("variables.header");
    expect(formField("buttons[0].url", order())).toBe("buttons[0].url");
    expect(formField(undefined, order())).toBe("form");
  });
});
