// JSON Schema → form fields. Pure functions (tested in form.test.ts): the
// properties panel renders what `fieldsFor` returns, so a field added to a
// schema in flow_schemas/ shows up in the editor without code changes.

export type JsonSchema = {
  type?: string | string[];
  title?: string;
  description?: string;
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  properties?: Record<string, JsonSchema | boolean>;
  required?: string[];
  items?: JsonSchema;
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  allOf?: JsonSchema[];
  if?: JsonSchema;
  then?: JsonSchema;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  maxItems?: number;
  [key: string]: unknown;
};

export type FieldKind =
  | "text"
  | "longtext"
  | "number"
  | "integer"
  | "boolean"
  | "enum"
  | "object"
  | "objectList"
  | "stringList"
  | "json";

export type Field = {
  key: string;
  kind: FieldKind;
  label: string;
  help?: string;
  required: boolean;
  options?: string[];
  fields?: Field[]; // object: its properties; objectList: each item's
  min?: number;
  max?: number;
  maxLength?: number;
  maxItems?: number;
  defaultValue?: unknown;
};

type Data = Record<string, unknown>;

export function humanize(key: string): string {
  const words = key.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Follow a local `#/$defs/name` reference. */
export function resolve(schema: JsonSchema | boolean, root: JsonSchema): JsonSchema {
  if (typeof schema === "boolean") return {};
  if (schema.$ref?.startsWith("#/$defs/")) {
    const target = root.$defs?.[schema.$ref.slice("#/$defs/".length)] ?? {};
    const { $ref: _ref, ...rest } = schema;
    return { ...resolve(target, root), ...rest };
  }
  return schema;
}

/** Does `data` satisfy an `if` schema? Only the shapes flow_schemas uses:
 *  `required`, and per-property `const` / `enum` / `not`. */
export function matchesIf(cond: JsonSchema, data: Data): boolean {
  for (const key of cond.required ?? []) if (!(key in data)) return false;
  for (const [key, raw] of Object.entries(cond.properties ?? {})) {
    if (typeof raw === "boolean" || !(key in data)) continue;
    if (!matchesValue(raw, data[key])) return false;
  }
  return true;
}

function matchesValue(s: JsonSchema, value: unknown): boolean {
  if ("const" in s && s.const !== value) return false;
  if (s.enum && !s.enum.includes(value)) return false;
  if (s.not && typeof s.not === "object" && matchesValue(s.not as JsonSchema, value)) return false;
  return true;
}

/** The schema's own properties plus those its `allOf` → `if`/`then` add for this data
 *  (e.g. an action's `params` fields once `action` is chosen). */
export function effectiveProperties(schema: JsonSchema, data: Data): Record<string, JsonSchema | boolean> {
  const props: Record<string, JsonSchema | boolean> = { ...(schema.properties ?? {}) };
  for (const part of schema.allOf ?? []) {
    if (!part.if || !part.then || !matchesIf(part.if, data)) continue;
    for (const [key, extra] of Object.entries(part.then.properties ?? {})) {
      const base = props[key];
      if (typeof extra === "object" && extra.properties && typeof base === "object") {
        props[key] = { ...base, ...extra };
      }
    }
  }
  return props;
}

function requiredFor(schema: JsonSchema, data: Data): Set<string> {
  const required = new Set(schema.required ?? []);
  for (const part of schema.allOf ?? []) {
    if (part.if && part.then && matchesIf(part.if, data)) {
      for (const key of part.then.required ?? []) required.add(key);
    }
  }
  return required;
}

function typeOf(s: JsonSchema): string | undefined {
  if (Array.isArray(s.type)) return s.type.find((t) => t !== "null");
  return s.type;
}

const LONG_TEXT_KEYS = new Set(["text", "prompt", "system_prompt", "message", "body", "expression"]);

export function fieldFor(key: string, raw: JsonSchema | boolean, root: JsonSchema,
                         required: boolean, value: unknown): Field {
  const s = resolve(raw, root);
  const base = {
    key,
    label: s.title ?? humanize(key),
    help: s.description,
    required,
    defaultValue: s.default,
  };
  if (s.enum) return { ...base, kind: "enum", options: s.enum.map(String) };
  const type = typeOf(s);
  if (type === "boolean") return { ...base, kind: "boolean" };
  if (type === "number" || type === "integer") {
    return { ...base, kind: type, min: s.minimum, max: s.maximum };
  }
  if (type === "string") {
    const long = LONG_TEXT_KEYS.has(key) || (s.maxLength ?? 0) > 255;
    return { ...base, kind: long ? "longtext" : "text", maxLength: s.maxLength };
  }
  if (type === "array") {
    const items = resolve(s.items ?? {}, root);
    if (typeOf(items) === "object" && items.properties) {
      const first = Array.isArray(value) && value[0] && typeof value[0] === "object" ? (value[0] as Data) : {};
      return { ...base, kind: "objectList", fields: fieldsFor(items, first, root), maxItems: s.maxItems };
    }
    return { ...base, kind: "stringList", maxItems: s.maxItems };
  }
  if (type === "object" && s.properties) {
    const inner = value && typeof value === "object" && !Array.isArray(value) ? (value as Data) : {};
    return { ...base, kind: "object", fields: fieldsFor(s, inner, root) };
  }
  return { ...base, kind: "json" };
}

/** The form fields of an object schema, given the current data (conditional fields). */
export function fieldsFor(schema: JsonSchema, data: Data, root: JsonSchema = schema): Field[] {
  const props = effectiveProperties(schema, data);
  const required = requiredFor(schema, data);
  return Object.entries(props).map(([key, raw]) =>
    fieldFor(key, raw, root, required.has(key), data[key]),
  );
}

/** A form value back into node data: empty optional values are removed, not saved as "". */
export function setField(data: Data, key: string, value: unknown): Data {
  const next = { ...data };
  if (value === undefined || value === "" || (Array.isArray(value) && value.length === 0)) {
    delete next[key];
  } else {
    next[key] = value;
  }
  return next;
}

/** Parse a free "any value" field: JSON when it parses (numbers, lists, true), else the text. */
export function parseLooseValue(text: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function formatLooseValue(value: unknown): string {
  if (value === undefined) return "";
  return typeof value === "string" ? value : JSON.stringify(value);
}
