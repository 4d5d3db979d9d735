import { useEffect, useMemo, useState, type FormEvent } from "react";
import { api, ApiError, problemsOf, errorText } from "../../api/client";
import type { Page, Template, WhatsAppNumber } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { Field } from "../../components/Field";
import { OnlyFor } from "../../components/OnlyFor";
import { useI18n } from "../../i18n";
import { Link, navigate } from "../../router";
import { TemplatePreview } from "./TemplatePreview";
import {
  BUTTON_TEXT_MAX, checkDraft, emptyDraft, formField, previewOf, toCreateBody, urlHasVariable, variables, withButton,
  type ButtonDraft, type Draft, type HeaderKind,
} from "./templateModel";
import { numberLabel } from "./numbers";
import { ErrorBanner } from "../../components/ErrorBanner";

const LANGUAGES = ["pt_BR", "en_US", "en_GB", "es", "es_MX", "es_AR", "fr", "de", "it"];
const HEADERS: HeaderKind[] = ["NONE", "TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"];
const CATEGORIES = ["MARKETING", "UTILITY", "AUTHENTICATION"] as const;
// a draft key -> the prefixes of the problems it can fix
const EDITS: Record<string, string[]> = {
  category: ["category", "header_type"],  // a location header's problem is its category's too
  header_type: ["header_", "variables.header"], header_content: ["header_content", "variables.header"],
  header_example: ["variables.header"], body_text: ["body_text", "variables."], body_examples: ["variables."],
  buttons: ["buttons"],
};

function newButton(type: ButtonDraft["type"]): ButtonDraft {
  if (type === "URL") return { type, text: "", url: "", example: "" };
  if (type === "PHONE_NUMBER") return { type, text: "", phone_number: "" };
  return { type, text: "" };
}

/** Write a template, see it as WhatsApp shows it, and submit it to Meta for review (a role that may
 *  not create templates, an agent or a viewer, is told so instead: docs/permissions.md). */
export function TemplateFormPage() {
  const { t } = useI18n();
  return (
    <OnlyFor permission="templates:write" section={{ to: "/app/templates", label: t("templates.title") }}
      title={t("templates.new")} refusal={t("templates.notAllowed")}>
      <TemplateForm />
    </OnlyFor>
  );
}

function TemplateForm() {
  const { t } = useI18n();
  const [numbers, setNumbers] = useState<WhatsAppNumber[] | null>(null);
  const [draft, setDraft] = useState<Draft>(emptyDraft());
  const [shown, setShown] = useState<Record<string, string>>({}); // field -> message shown
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    api<Page<WhatsAppNumber>>("GET", "/whatsapp-numbers?per_page=100").then((page) => {
      const usable = page.items.filter((n) => n.whatsapp_business_account_id);
      setNumbers(usable);
      setDraft((d) => (d.whatsapp_number_id ? d : { ...d, whatsapp_number_id: usable[0]?.id ?? "" }));
    }).catch((err) => setFormError(String(err instanceof Error ? err.message : err)));
  }, []);

  const bodyVars = useMemo(() => variables(draft.body_text), [draft.body_text]);
  const preview = useMemo(() => previewOf(draft), [draft]);
  /** Change the draft; a problem shown on an edited field goes (the next submit checks again). */
  const set = (patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    const edited = Object.keys(patch).flatMap((k) => EDITS[k] ?? [k]);
    setShown((s) => Object.fromEntries(Object.entries(s).filter(([f]) => !edited.some((e) => f === e || f.startsWith(e)))));
  };
  const setButton = (i: number, patch: Partial<ButtonDraft>) =>
    set({ buttons: draft.buttons.map((b, j) => (j === i ? ({ ...b, ...patch } as ButtonDraft) : b)) });
  const problem = (field: string) => shown[field];

  async function submit(e: FormEvent) {
    e.preventDefault();
    setFormError(null);
    const problems = checkDraft(draft);
    setShown(Object.fromEntries(problems.map((p) => [p.field, t(p.key, p.values)])));
    if (problems.length) return;
    setBusy(true);
    let created: Template | null = null;
    try {
      created = await api<Template>("POST", "/templates", toCreateBody(draft));
      await api<Template>("POST", `/templates/${created.id}/submit`, {});
      navigate("/app/templates");
    } catch (err) {
      // a definition Meta did not take is not left behind as a half-made row
      if (created) await api("DELETE", `/templates/${created.id}`).catch(() => undefined);
      showApiError(err);
    } finally {
      setBusy(false);
    }
  }

  function showApiError(err: unknown) {
    if (!(err instanceof ApiError)) { setFormError(errorText(err)); return; }
    const named = problemsOf(err);
    const onForm: Record<string, string> = {};
    for (const d of named) {
      const field = formField(d.field, draft);
      if (document.querySelector(`[data-field="${CSS.escape(field)}"]`)) onForm[field] ??= d.message;
    }
    setShown(onForm);
    if (!Object.keys(onForm).length) setFormError(t("templates.submitFailed", { message: err.message }));
  }

  return (
    <div className="page">
      <AppHeader />
      <main className="content wide">
        <div className="breadcrumb"><Link to="/app/templates">{t("templates.title")}</Link><span className="muted">/</span>
          <span>{t("templates.new")}</span></div>
        {formError && <ErrorBanner message={formError} onDismiss={() => setFormError(null)} />}
        <div className="template-editor">
          <form className="card stack" onSubmit={submit} noValidate aria-label={t("templates.new")}>
            <h1>{t("templates.new")}</h1>
            {numbers !== null && numbers.length === 0 && <p className="muted">{t("templates.noNumbers")}</p>}
            <div className="row top">
              <Field id="whatsapp_number_id" label={t("templates.number")} problem={problem("whatsapp_number_id")} className="grow">
                <select value={draft.whatsapp_number_id} onChange={(e) => set({ whatsapp_number_id: e.target.value })}>
                  {(numbers ?? []).map((n) => <option key={n.id} value={n.id}>{numberLabel(n)}</option>)}
                </select>
              </Field>
              <Field id="category" label={t("templates.category")} problem={problem("category")}>
                <select value={draft.category} onChange={(e) => set({ category: e.target.value as Draft["category"] })}>
                  <option value="">{t("templates.choose")}</option>
                  {CATEGORIES.map((c) => <option key={c} value={c}>{t(`templates.category.${c}`)}</option>)}
                </select>
              </Field>
            </div>
            <div className="row top">
              <Field id="name" label={t("common.name")} help={t("templates.nameRule")} problem={problem("name")} className="grow">
                <input value={draft.name} onChange={(e) => set({ name: e.target.value })} placeholder="order_shipped"
                  spellCheck={false} autoCapitalize="off" />
              </Field>
              <Field id="language" label={t("templates.language")} problem={problem("language")}>
                <select value={draft.language} onChange={(e) => set({ language: e.target.value })}>
                  {LANGUAGES.map((l) => <option key={l} value={l}>{l}</option>)}
                </select>
              </Field>
            </div>

            <fieldset className="field-group">
              <legend>{t("templates.headerSection")}</legend>
              <Field id="header_type" label={t("templates.headerType")} problem={problem("header_type")}>
                <select value={draft.header_type}
                  onChange={(e) => set({ header_type: e.target.value as HeaderKind, header_content: "", header_example: "" })}>
                  {HEADERS.map((h) => <option key={h} value={h}>{t(`templates.header.${h}`)}</option>)}
                </select>
              </Field>
              {draft.header_type === "TEXT" && (
                <Field id="header_content" label={t("templates.headerText")} help={t("templates.headerTextHelp")} problem={problem("header_content")}>
                  <input value={draft.header_content} onChange={(e) => set({ header_content: e.target.value })} />
                </Field>
              )}
              {draft.header_type === "TEXT" && draft.header_content.includes("{{") && (
                <Field id="variables.header" label={t("templates.exampleFor", { name: "{{1}}" })} problem={problem("variables.header")}>
                  <input value={draft.header_example} onChange={(e) => set({ header_example: e.target.value })} />
                </Field>
              )}
              {draft.header_type === "LOCATION" && <p className="field-help">{t("templates.headerLocationHelp")}</p>}
              {draft.header_type !== "TEXT" && draft.header_type !== "NONE" && draft.header_type !== "LOCATION" && (
                <Field id="header_content" label={t("templates.headerMedia")} help={t("templates.headerMediaHelp")} problem={problem("header_content")}>
                  <input value={draft.header_content} placeholder="https://" onChange={(e) => set({ header_content: e.target.value })} />
                </Field>
              )}
            </fieldset>

            <fieldset className="field-group">
              <legend>{t("templates.bodySection")}</legend>
              <Field id="body_text" label={t("templates.body")} help={t("templates.bodyHelp")} problem={problem("body_text")}>
                <textarea rows={5} value={draft.body_text} onChange={(e) => set({ body_text: e.target.value })} />
              </Field>
              {bodyVars.length > 0 && (
                <div className="examples">
                  <span className="field-help">{t("templates.examplesHelp")}</span>
                  {bodyVars.map((name) => (
                    <Field key={name} id={`variables.${name}`} label={t("templates.exampleFor", { name: `{{${name}}}` })}
                      problem={problem(`variables.${name}`)}>
                      <input value={draft.body_examples[name] ?? ""}
                        onChange={(e) => set({ body_examples: { ...draft.body_examples, [name]: e.target.value } })} />
                    </Field>
                  ))}
                </div>
              )}
              <Field id="footer_text" label={t("templates.footer")} problem={problem("footer_text")}>
                <input value={draft.footer_text} onChange={(e) => set({ footer_text: e.target.value })} />
              </Field>
            </fieldset>

            <fieldset className="field-group" data-field="buttons">
              <legend>{t("templates.buttons")}</legend>
              {problem("buttons") && <span className="field-problem error">{problem("buttons")}</span>}
              {draft.buttons.map((b, i) => (
                <div className="list-item" key={i} role="group" aria-label={t("templates.buttonN", { n: i + 1 })}>
                  <div className="list-item-head">
                    <span>{t(`templates.button.${b.type}`)}</span>
                    <button type="button" className="link danger" onClick={() => set({ buttons: draft.buttons.filter((_, j) => j !== i) })}>
                      {t("common.remove")}</button>
                  </div>
                  <Field id={`buttons[${i}].text`} label={t("templates.buttonText")} problem={problem(`buttons[${i}].text`)}>
                    <input value={b.text} maxLength={BUTTON_TEXT_MAX} onChange={(e) => setButton(i, { text: e.target.value })} />
                  </Field>
                  {b.type === "URL" && (
                    <>
                      <Field id={`buttons[${i}].url`} label={t("templates.buttonUrl")} help={t("templates.buttonUrlHelp")} problem={problem(`buttons[${i}].url`)}>
                        <input value={b.url} placeholder="https://" onChange={(e) => setButton(i, { url: e.target.value })} />
                      </Field>
                      {urlHasVariable(b.url) && (
                        <Field id={`buttons[${i}].example`} label={t("templates.buttonUrlExample")} problem={problem(`buttons[${i}].example`)}>
                          <input value={b.example} placeholder="https://" onChange={(e) => setButton(i, { example: e.target.value })} />
                        </Field>
                      )}
                    </>
                  )}
                  {b.type === "PHONE_NUMBER" && (
                    <Field id={`buttons[${i}].phone_number`} label={t("templates.buttonPhone")} help="+5511999990000" problem={problem(`buttons[${i}].phone_number`)}>
                      <input value={b.phone_number} onChange={(e) => setButton(i, { phone_number: e.target.value })} />
                    </Field>
                  )}
                </div>
              ))}
              <div className="row">
                {(["QUICK_REPLY", "URL", "PHONE_NUMBER"] as const).map((type) => (
                  <button key={type} type="button" onClick={() => set({ buttons: withButton(draft.buttons, newButton(type)) })}>
                    + {t(`templates.button.${type}`)}</button>
                ))}
              </div>
            </fieldset>

            <div className="row">
              <button type="submit" className="primary" disabled={busy}>{busy ? t("templates.submitting") : t("templates.submit")}</button>
              <Link to="/app/templates" className="button">{t("common.cancel")}</Link>
              <span className="muted small">{t("templates.submitHelp")}</span>
            </div>
          </form>
          <aside className="card preview-card" aria-label={t("templates.preview")}>
            <h2>{t("templates.preview")}</h2>
            <TemplatePreview preview={preview} />
          </aside>
        </div>
      </main>
    </div>
  );
}
