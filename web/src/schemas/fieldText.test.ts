import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { hasTranslation, translatedField } from "./fieldText";
import { fieldsFor, humanize, type JsonSchema } from "./form";

const DIR = join(__dirname, "../../../flow_schemas/nodes");

/** Every property's label (title, or its key made readable) and help, anywhere in ``s``:
 *  nested objects, list items, $defs, conditional parts. */
function texts(s: unknown, out: { label: Set<string>; help: Set<string> }) {
  if (Array.isArray(s)) s.forEach((x) => texts(x, out));
  if (!s || typeof s !== "object") return out;
  const props = (s as JsonSchema).properties ?? {};
  for (const [key, prop] of Object.entries(props)) {
    if (typeof prop !== "object") continue;
    out.label.add(prop.title ?? humanize(key));
    if (prop.description) out.help.add(prop.description);
  }
  Object.values(s).forEach((v) => texts(v, out));
  return out;
}

describe("the node properties form in Portuguese", () => {
  it("has every label and help of every node schema translated", () => {
    const found = { label: new Set<string>(), help: new Set<string>() };
    for (const file of readdirSync(DIR)) texts(JSON.parse(readFileSync(join(DIR, file), "utf8")), found);
    expect([...found.label].filter((l) => !hasTranslation(l, "label"))).toEqual([]);
    expect([...found.help].filter((h) => !hasTranslation(h, "help"))).toEqual([]);
    expect(found.label.size).toBeGreaterThan(40);
    const nodes = readdirSync(DIR).map((file) => (JSON.parse(readFileSync(join(DIR, file), "utf8")) as JsonSchema).description!);
    expect(nodes.filter((d) => !hasTranslation(d, "node"))).toEqual([]);
  });

  it("translates a form's fields, nested ones too, and leaves English alone", () => {
    const question = JSON.parse(readFileSync(join(DIR, "question.schema.json"), "utf8")) as JsonSchema;
    const fields = fieldsFor(question, {});
    const pt = fields.map((f) => translatedField(f, "pt-BR"));
    const variable = pt.find((f) => f.key === "variable")!;
    expect(variable.label).toBe("Variável");
    const retry = pt.find((f) => f.key === "retry_message")!;
    expect(retry.help).toBe("Aceita {{variáveis}}. Se vazio: um texto padrão de nova tentativa, no idioma do chatbot.");
    expect(pt.find((f) => f.key === "options")!.fields!.map((f) => f.label)).toEqual(["Id", "Título", "Descrição"]);
    expect(fields.map((f) => translatedField(f, "en"))).toEqual(fields);
  });
});
