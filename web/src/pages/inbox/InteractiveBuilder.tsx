import { type ReactElement, useState } from "react";
import { ApiError, problemsOf } from "../../api/client";
import { Field } from "../../components/Field";
import { type MessageKey } from "../../i18n/messages";
import { useI18n } from "../../i18n";
import { canAdd, type Draft, emptyDraft, fieldOf, length, LIMITS, type Option, type Problem, problems,
  toReply } from "./interactiveModel";

/** Reply buttons (1–3) or a one-section list (1–10 rows), WhatsApp's limits counted as the agent
 *  types, a preview, and the API's 422 shown on the field it names. */
export function InteractiveBuilder(props: { disabled: boolean; onCancel: () => void;
  send: (body: Record<string, unknown>) => Promise<ApiError | string | null> }) {
  const { t } = useI18n();
  const [draft, setDraft] = useState<Draft>(emptyDraft());
  const [tried, setTried] = useState(false);
  const [apiProblems, setApiProblems] = useState<Record<string, string>>({});
  const [general, setGeneral] = useState("");
  const local = problems(draft);

  const edit = (patch: Partial<Draft>) => {
    setDraft({ ...draft, ...patch });
    setApiProblems({});
  };
  const words = (p: Problem): string => p.key === "api" ? p.message
    : p.key === "tooLong" ? t("inbox.tooLong", { limit: p.limit ?? 0 }) : t(`inbox.${p.key}` as MessageKey);
  /** a field's problem: over a limit shows at once, a missing value after a send was tried, the API's always */
  const problemOf = (field: string): string | undefined => {
    if (apiProblems[field]) return apiProblems[field];
    const p = local[field];
    return p && (tried || p.key !== "required") ? words(p) : undefined;
  };

  const go = async () => {
    setTried(true);
    setGeneral("");
    if (Object.keys(local).length) return;
    const refused = await props.send(toReply(draft));
    if (refused === null) {
      setDraft(emptyDraft(draft.kind));
      setTried(false);
      return;
    }
    const named = refused instanceof ApiError ? problemsOf(refused) : [];
    const byField: Record<string, string> = {};
    for (const p of named) byField[fieldOf(p.field)] = p.message;
    const shown = named.filter((p) => FIELDS.test(fieldOf(p.field)));
    setApiProblems(byField);
    if (!shown.length) setGeneral(refused instanceof ApiError ? refused.message : String(refused));
  };

  const text = (id: string, label: string, value: string, limit: number, onChange: (v: string) => void,
    long = false): ReactElement => (
    <Field id={`ia-${id}`} label={label} help={`${length(value)}/${limit}`} problem={problemOf(id)}
      className={length(value) > limit ? "over-limit" : ""}>
      {long ? <textarea rows={2} value={value} onChange={(e) => onChange(e.target.value)} />
        : <input value={value} onChange={(e) => onChange(e.target.value)} />}
    </Field>
  );
  const options = draft.kind === "button" ? draft.buttons : draft.rows;
  const setOptions = (next: Option[]) => edit(draft.kind === "button" ? { buttons: next } : { rows: next });
  const setOption = (i: number, patch: Partial<Option>) =>
    setOptions(options.map((o, j) => (j === i ? { ...o, ...patch } : o)));

  return (
    <div className="interactive-builder card">
      <div className="segmented" role="radiogroup" aria-label={t("inbox.interactiveKind")}>
        {(["button", "list"] as const).map((kind) => (
          <button key={kind} type="button" role="radio" aria-checked={draft.kind === kind}
            className={draft.kind === kind ? "active" : ""} onClick={() => edit({ kind })}>
            {t(kind === "button" ? "inbox.replyButtons" : "inbox.list")}
          </button>
        ))}
      </div>
      <div className="builder-columns">
        <div className="builder-form">
          {text("header", t("inbox.header"), draft.header, LIMITS.header, (header) => edit({ header }))}
          {text("text", t("inbox.body"), draft.text, LIMITS.body, (v) => edit({ text: v }), true)}
          {text("footer", t("inbox.footer"), draft.footer, LIMITS.footer, (footer) => edit({ footer }))}
          {draft.kind === "list" && <>
            {text("button", t("inbox.listButton"), draft.button, LIMITS.listButton, (button) => edit({ button }))}
            {text("section_title", t("inbox.sectionTitle"), draft.sectionTitle, LIMITS.sectionTitle,
              (sectionTitle) => edit({ sectionTitle }))}
          </>}
          {options.map((o, i) => (
            <div key={i} className="builder-option" data-option={i}>
              {text(`${draft.kind === "button" ? "buttons" : "rows"}.${i}.title`,
                t(draft.kind === "button" ? "inbox.buttonN" : "inbox.rowN", { n: i + 1 }), o.title,
                draft.kind === "button" ? LIMITS.buttonTitle : LIMITS.rowTitle, (title) => setOption(i, { title }))}
              {draft.kind === "list" && text(`rows.${i}.description`, t("inbox.rowDescription", { n: i + 1 }),
                o.description, LIMITS.rowDescription, (description) => setOption(i, { description }))}
              {options.length > 1 && (
                <button type="button" className="ghost small" aria-label={t(draft.kind === "button"
                  ? "inbox.removeButton" : "inbox.removeRow", { n: i + 1 })}
                  onClick={() => setOptions(options.filter((_, j) => j !== i))}>✕</button>
              )}
            </div>
          ))}
          <button type="button" className="ghost" disabled={!canAdd(draft)}
            onClick={() => setOptions([...options, { title: "", description: "" }])}>
            {t(draft.kind === "button" ? "inbox.addButton" : "inbox.addRow")}
            {" "}({options.length}/{draft.kind === "button" ? LIMITS.buttons : LIMITS.rows})
          </button>
        </div>
        <Preview draft={draft} />
      </div>
      {general && <p className="error small" role="alert">{general}</p>}
      <div className="row">
        <button type="button" className="primary" disabled={props.disabled} onClick={() => void go()}>
          {t(draft.kind === "button" ? "inbox.sendButtons" : "inbox.sendList")}
        </button>
        <button type="button" className="ghost" onClick={props.onCancel}>{t("common.cancel")}</button>
      </div>
    </div>
  );
}

/** the builder's fields: a problem the API names elsewhere (e.g. `type` outside the window) shows under the builder */
const FIELDS = /^(text|header|footer|button|section_title|(buttons|rows)\.\d+\.(title|description))$/;

/** The message as WhatsApp draws it. */
function Preview({ draft }: { draft: Draft }) {
  const { t } = useI18n();
  return (
    <figure className="builder-preview" aria-label={t("inbox.preview")}>
      <figcaption className="muted small">{t("inbox.preview")}</figcaption>
      <div className="wa-screen">
        <div className="wa-bubble">
          {draft.header && <span className="wa-header">{draft.header}</span>}
          <span className="wa-body">{draft.text || <span className="muted">{t("inbox.body")}</span>}</span>
          {draft.footer && <span className="wa-footer">{draft.footer}</span>}
        </div>
        {draft.kind === "button"
          ? draft.buttons.map((b, i) => <div key={i} className="wa-button">{b.title || "…"}</div>)
          : <>
            <div className="wa-button">☰ {draft.button || "…"}</div>
            <ul className="preview-rows">
              {draft.sectionTitle && <li className="preview-section">{draft.sectionTitle}</li>}
              {draft.rows.map((r, i) => (
                <li key={i}><span>{r.title || "…"}</span>{r.description && <span className="wa-footer">{r.description}</span>}</li>
              ))}
            </ul>
          </>}
      </div>
    </figure>
  );
}
