// The properties form of a node, generated from its JSON Schema (schemas/form.ts).
import { useId, useState } from "react";
import type { Diagnostic } from "../../api/types";
import { useI18n } from "../../i18n";
import { translatedField } from "../../schemas/fieldText";
import { fieldsFor, formatLooseValue, parseLooseValue, setField, type Field, type JsonSchema } from "../../schemas/form";

type Data = Record<string, unknown>;
/** Diagnostics of this node by data path (`options/0/title`). */
export type FieldProblems = Map<string, Diagnostic[]>;

export function SchemaForm({ schema, data, onChange, problems }: {
  schema: JsonSchema; data: Data; onChange: (data: Data) => void; problems: FieldProblems;
}) {
  const { lang } = useI18n();
  const fields = fieldsFor(schema, data).map((f) => translatedField(f, lang));
  return (
    <div className="schema-form">
      {fields.map((field) => (
        <FieldInput key={field.key} field={field} path={field.key} value={data[field.key]} problems={problems}
          onChange={(value) => onChange(setField(data, field.key, value))} />
      ))}
    </div>
  );
}

function Problems({ path, problems }: { path: string; problems: FieldProblems }) {
  const list = problems.get(path) ?? [];
  if (!list.length) return null;
  return (
    <>
      {list.map((d, i) => (
        <span key={i} className={`field-problem ${d.severity}`} role="note">{d.message}</span>
      ))}
    </>
  );
}

function FieldInput({ field, path, value, onChange, problems }: {
  field: Field; path: string; value: unknown; onChange: (value: unknown) => void; problems: FieldProblems;
}) {
  const { t } = useI18n();
  const id = useId();
  const invalid = (problems.get(path) ?? []).some((d) => d.severity === "error");
  const label = (
    <label htmlFor={id} className="field-label">
      {field.label}{field.required && <span className="required" aria-hidden="true"> *</span>}
    </label>
  );
  const help = field.help && <span className="field-help">{field.help}</span>;
  const common = { id, "aria-invalid": invalid || undefined, "aria-required": field.required || undefined };

  switch (field.kind) {
    case "boolean":
      return (
        <div className={`field checkbox${invalid ? " invalid" : ""}`}>
          <label>
            <input type="checkbox" {...common} checked={value === true || (value === undefined && field.defaultValue === true)}
              onChange={(e) => onChange(e.target.checked)} />
            {" "}{field.label}
          </label>
          {help}<Problems path={path} problems={problems} />
        </div>
      );
    case "enum":
      return (
        <div className={`field${invalid ? " invalid" : ""}`}>
          {label}
          <select {...common} value={typeof value === "string" ? value : ""}
            onChange={(e) => onChange(e.target.value || undefined)}>
            <option value="">{field.defaultValue !== undefined ? `${t("form.none")} (${String(field.defaultValue)})` : t("form.none")}</option>
            {field.options!.map((o) => <option key={o} value={o}>{o}</option>)}
          </select>
          {help}<Problems path={path} problems={problems} />
        </div>
      );
    case "number":
    case "integer":
      return (
        <div className={`field${invalid ? " invalid" : ""}`}>
          {label}
          <input type="number" {...common} min={field.min} max={field.max} step={field.kind === "integer" ? 1 : "any"}
            placeholder={field.defaultValue !== undefined ? String(field.defaultValue) : undefined}
            value={typeof value === "number" ? value : ""}
            onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
          {help}<Problems path={path} problems={problems} />
        </div>
      );
    case "text":
    case "longtext": {
      const Input = field.kind === "longtext" ? "textarea" : "input";
      return (
        <div className={`field${invalid ? " invalid" : ""}`}>
          {label}
          <Input {...common} value={typeof value === "string" ? value : ""} maxLength={field.maxLength}
            placeholder={typeof field.defaultValue === "string" ? field.defaultValue : undefined}
            rows={field.kind === "longtext" ? 3 : undefined}
            onChange={(e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) => onChange(e.target.value)} />
          {help}<Problems path={path} problems={problems} />
        </div>
      );
    }
    case "stringList":
      return (
        <div className={`field${invalid ? " invalid" : ""}`}>
          {label}
          <textarea {...common} rows={3} value={Array.isArray(value) ? value.join("\n") : ""}
            onChange={(e) => onChange(e.target.value.split("\n").filter((line, i, all) => line !== "" || i < all.length - 1))} />
          <span className="field-help">{field.help ? `${field.help} ` : ""}{t("form.listHint")}</span>
          <Problems path={path} problems={problems} />
        </div>
      );
    case "object": {
      const inner = value && typeof value === "object" && !Array.isArray(value) ? (value as Data) : {};
      return (
        <fieldset className={`field-group${invalid ? " invalid" : ""}`}>
          <legend>{field.label}</legend>
          {help}<Problems path={path} problems={problems} />
          {field.fields!.map((sub) => (
            <FieldInput key={sub.key} field={sub} path={`${path}/${sub.key}`} value={inner[sub.key]} problems={problems}
              onChange={(v) => { const next = setField(inner, sub.key, v); onChange(Object.keys(next).length ? next : undefined); }} />
          ))}
        </fieldset>
      );
    }
    case "objectList": {
      const items = Array.isArray(value) ? (value as Data[]) : [];
      const full = field.maxItems !== undefined && items.length >= field.maxItems;
      return (
        <fieldset className={`field-group${invalid ? " invalid" : ""}`}>
          <legend>{field.label}</legend>
          {help}<Problems path={path} problems={problems} />
          {items.map((item, index) => (
            <div key={index} className="list-item">
              <div className="list-item-head">
                <span>{t("form.item", { index: index + 1 })}</span>
                <button type="button" className="link danger" onClick={() => onChange(items.filter((_, i) => i !== index))}
                  aria-label={`${t("common.remove")} ${field.label} ${index + 1}`}>{t("common.remove")}</button>
              </div>
              <Problems path={`${path}/${index}`} problems={problems} />
              {field.fields!.map((sub) => (
                <FieldInput key={sub.key} field={sub} path={`${path}/${index}/${sub.key}`} value={item?.[sub.key]}
                  problems={problems}
                  onChange={(v) => onChange(items.map((it, i) => (i === index ? setField(it ?? {}, sub.key, v) : it)))} />
              ))}
            </div>
          ))}
          <button type="button" disabled={full} onClick={() => onChange([...items, {}])}>
            {t("common.add")} — {field.label}
          </button>
        </fieldset>
      );
    }
    default:
      return <JsonInput field={field} path={path} value={value} onChange={onChange} problems={problems} id={id} />;
  }
}

/** A value of any JSON type (condition `value`, free `params`): JSON when it parses, else text. */
function JsonInput({ field, path, value, onChange, problems, id }: {
  field: Field; path: string; value: unknown; onChange: (v: unknown) => void; problems: FieldProblems; id: string;
}) {
  const { t } = useI18n();
  const [text, setText] = useState(() => formatLooseValue(value));
  return (
    <div className="field">
      <label htmlFor={id} className="field-label">{field.label}{field.required && <span className="required"> *</span>}</label>
      <input id={id} value={text} onChange={(e) => { setText(e.target.value); onChange(parseLooseValue(e.target.value)); }} />
      <span className="field-help">{field.help ? `${field.help} ` : ""}{t("form.jsonHint")}</span>
      <Problems path={path} problems={problems} />
    </div>
  );
}
