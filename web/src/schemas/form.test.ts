import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fieldsFor, humanize, parseLooseValue, setField, type Field, type JsonSchema } from "./form";
import { handlesOf } from "./handles";

const DIR = join(__dirname, "../../../flow_schemas/nodes");
const schema = (type: string): JsonSchema =>
  JSON.parse(readFileSync(join(DIR, `${type}.schema.json`), "utf8"));
const byKey = (fields: Field[], key: string) => fields.find((f) => f.key === key)!;

describe("fieldsFor", () => {
  it("has a field for every property of every node schema", () => {
    for (const file of readdirSync(DIR)) {
      const s = JSON.parse(readFileSync(join(DIR, file), "utf8")) as JsonSchema;
      const keys = fieldsFor(s, {}).map((f) => f.key);
      expect(keys).toEqual(Object.keys(s.properties ?? {}));
    }
  });

  it("maps strings, enums, numbers, integers and booleans", () => {
    const q = fieldsFor(schema("question"), {});
    expect(byKey(q, "text").kind).toBe("longtext");
    expect(byKey(q, "variable")).toMatchObject({ kind: "text", required: true, label: "Variable" });
    expect(byKey(q, "validation")).toMatchObject({ kind: "enum", defaultValue: "text" });
    expect(byKey(q, "validation").options).toContain("option");
    expect(byKey(q, "max_retries")).toMatchObject({ kind: "integer", min: 0, max: 10 });
    expect(byKey(q, "min").kind).toBe("number");
    const ai = fieldsFor(schema("ai_prompt"), {});
    expect(byKey(ai, "send_response").kind).toBe("boolean");
  });

  it("maps arrays of objects to item sub-forms (options, cases, rows)", () => {
    const options = byKey(fieldsFor(schema("question"), {}), "options");
    expect(options.kind).toBe("objectList");
    expect(options.maxItems).toBe(10);
    expect(options.fields!.map((f) => f.key)).toEqual(["id", "title", "description"]);
    const cases = byKey(fieldsFor(schema("condition"), {}), "cases");
    expect(cases.fields!.map((f) => f.key)).toContain("expression");
    // $ref'd definitions are followed: the case operator is an enum.
    expect(byKey(cases.fields!, "operator").kind).toBe("enum");
  });

  it("maps nested objects to a fieldset with their own fields", () => {
    const list = byKey(fieldsFor(schema("message"), {}), "list");
    expect(list.kind).toBe("object");
    expect(list.fields!.map((f) => f.key)).toEqual(["button", "rows"]);
    expect(byKey(list.fields!, "rows").kind).toBe("objectList");
  });

  it("gives a message's template its own fieldset: name, language, parameters, header media and place", () => {
    const template = byKey(fieldsFor(schema("message"), {}), "template");
    expect(template.kind).toBe("object");
    expect(template.fields!.map((f) => f.key)).toEqual([
      "name", "language", "parameters", "header", "header_media_url", "header_location", "buttons",
    ]);
    const place = byKey(template.fields!, "header_location");
    expect(place.fields!.map((f) => [f.key, f.kind, f.required])).toEqual([
      ["latitude", "number", true], ["longitude", "number", true], ["name", "longtext", false], ["address", "longtext", false]]);
    expect(byKey(template.fields!, "name").required).toBe(true);
    expect(byKey(template.fields!, "language").defaultValue).toBe("pt_BR");
    expect(byKey(template.fields!, "parameters").kind).toBe("stringList");
    expect(byKey(template.fields!, "buttons").kind).toBe("objectList");
  });

  it("adds the fields a conditional schema gives for the chosen value", () => {
    const action = schema("action");
    expect(byKey(fieldsFor(action, {}), "params").kind).toBe("json");
    const tag = byKey(fieldsFor(action, { action: "add_tag" }), "params");
    expect(tag.kind).toBe("object");
    expect(tag.fields!.map((f) => f.key)).toEqual(["tag"]);
    const priority = byKey(fieldsFor(action, { action: "set_priority" }), "params");
    expect(byKey(priority.fields!, "priority").options).toEqual(["low", "normal", "high", "urgent"]);
  });

  it("uses title, else a humanized key, as the label and description as help", () => {
    const custom: JsonSchema = {
      type: "object",
      properties: {
        greeting_text: { type: "string", title: "Greeting", description: "Said first." },
        retry_count: { type: "integer" },
      },
    };
    const fields = fieldsFor(custom, {});
    expect(fields[0]).toMatchObject({ label: "Greeting", help: "Said first.", kind: "text" });
    expect(fields[1]).toMatchObject({ label: "Retry count", kind: "integer" });
    expect(humanize("api_call")).toBe("Api call");
  });
});

describe("values", () => {
  it("drops empty optional values instead of saving empty strings", () => {
    expect(setField({ a: 1, b: "x" }, "b", "")).toEqual({ a: 1 });
    expect(setField({}, "c", [])).toEqual({});
    expect(setField({}, "c", 0)).toEqual({ c: 0 });
  });

  it("parses free values as JSON when they are JSON", () => {
    expect(parseLooseValue("18")).toBe(18);
    expect(parseLooseValue("[\"a\", \"b\"]")).toEqual(["a", "b"]);
    expect(parseLooseValue("vip")).toBe("vip");
    expect(parseLooseValue("")).toBeUndefined();
  });
});

describe("handlesOf", () => {
  it("draws one handle per option or case plus the built-in ones", () => {
    expect(handlesOf("question", { options: [{ id: "yes" }, { id: "no" }] }))
      .toEqual(["next", "invalid", "timeout", "yes", "no"]);
    expect(handlesOf("condition", { expression: "x" })).toEqual(["true", "false"]);
    expect(handlesOf("condition", { cases: [{ id: "vip" }] })).toEqual(["vip", "default"]);
    expect(handlesOf("end", {})).toEqual([]);
    expect(handlesOf("api_call", {})).toEqual(["success", "error"]);
  });
});
