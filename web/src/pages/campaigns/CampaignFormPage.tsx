import { useEffect, useMemo, useState, type FormEvent } from "react";
import { api, ApiError, problemsOf, errorText, upload } from "../../api/client";
import type { Flow, Page, Template, WhatsAppNumber } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { Field } from "../../components/Field";
import { OnlyFor } from "../../components/OnlyFor";
import { PlaceFields } from "../../components/PlaceFields";
import { useI18n } from "../../i18n";
import { Link, navigate } from "../../router";
import { numberLabel } from "../templates/numbers";
import {
  checkDraft, emptyDraft, emptyPlace, formField, importProblem, localNow, needsOf, type ImportReport, toCreateBody, toStartBody, type Audience, type Campaign, type Draft,
  valueButtons,
} from "./campaignModel";
import { useOrgTimezone } from "./orgTimezone";
import { ErrorBanner } from "../../components/ErrorBanner";

type Contact = { id: string; name?: string | null; whatsapp_name?: string | null; whatsapp_id: string };
const contactLabel = (c: Contact) => `${c.name || c.whatsapp_name || c.whatsapp_id} (${c.whatsapp_id})`;

/** Define a campaign (number, approved template and its parameters, audience, optional flow) and
 * start it now or schedule it in the organization's timezone (a role that may not create campaigns,
 * an agent or a viewer, is told so instead: docs/permissions.md). */
export function CampaignFormPage() {
  const { t } = useI18n();
  return (
    <OnlyFor permission="campaigns:write" section={{ to: "/app/campaigns", label: t("campaigns.title") }}
      title={t("campaigns.new")} refusal={t("campaigns.notAllowed")}>
      <CampaignForm />
    </OnlyFor>
  );
}

function CampaignForm() {
  const { t } = useI18n();
  const zone = useOrgTimezone();
  const [numbers, setNumbers] = useState<WhatsAppNumber[]>([]);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [tags, setTags] = useState<string[] | null>(null);
  const [flows, setFlows] = useState<Flow[]>([]);
  const [draft, setDraft] = useState<Draft>(emptyDraft());
  const [query, setQuery] = useState("");
  const [typedTag, setTypedTag] = useState("");
  const [found, setFound] = useState<Contact[]>([]);
  const [chosen, setChosen] = useState<Contact[]>([]);
  const [shown, setShown] = useState<Record<string, string>>({});
  const [csvFile, setCsvFile] = useState<File | null>(null);
  const [csvInput, setCsvInput] = useState(0);  // a new file input: the old choice forgotten
  const [refusedRows, setRefusedRows] = useState<{ rows: string[]; more: number }>({ rows: [], more: 0 });
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const report = (err: unknown) => setFormError(errorText(err));

  useEffect(() => {
    api<Page<WhatsAppNumber>>("GET", "/whatsapp-numbers?per_page=100").then((p) => {
      setNumbers(p.items);
      setDraft((d) => (d.whatsapp_number_id ? d : { ...d, whatsapp_number_id: p.items[0]?.id ?? "" }));
    }).catch(report);
    api<Page<Template>>("GET", "/templates?per_page=100&sort=name&meta_status=APPROVED").then((p) => setTemplates(p.items)).catch(report);
    api<Page<{ name: string }>>("GET", "/tags?per_page=100").then((p) => setTags(p.items.map((x) => x.name))).catch(report);
    api<Page<Flow>>("GET", "/flows?per_page=100").then((p) => setFlows(p.items)).catch(() => undefined);
  }, []);

  useEffect(() => {
    if (draft.audience !== "contacts" || !query.trim()) { setFound([]); return; }
    const timer = setTimeout(() => {
      api<Page<Contact>>("GET", `/contacts?per_page=20&q=${encodeURIComponent(query.trim())}`).then((p) => setFound(p.items)).catch(report);
    }, 250);
    return () => clearTimeout(timer);
  }, [query, draft.audience]);

  const usable = templates.filter((tpl) => tpl.whatsapp_number_id === draft.whatsapp_number_id);
  const template = usable.find((tpl) => tpl.id === draft.template_id);
  const needs = useMemo(() => needsOf(template), [template]);
  const set = (patch: Partial<Draft>, fields: string[] = Object.keys(patch)) => {
    setDraft((d) => ({ ...d, ...patch }));
    setShown((s) => Object.fromEntries(Object.entries(s).filter(([f]) => !fields.some((e) => f === e || f.startsWith(e)))));
    if (fields.includes("target_filters")) setRefusedRows({ rows: [], more: 0 });
  };
  const problem = (field: string) => shown[field];
  const tagChoices = [...new Set([...(tags ?? []), ...draft.tags])];
  const addTypedTag = () => {
    const tag = typedTag.trim();
    if (tag && !draft.tags.includes(tag)) set({ tags: [...draft.tags, tag] }, ["target_filters"]);
    setTypedTag("");
  };

  function choose(c: Contact) {
    if (draft.contact_ids.includes(c.id)) return;
    setChosen([...chosen, c]);
    set({ contact_ids: [...draft.contact_ids, c.id] }, ["target_filters"]);
  }
  function unchoose(id: string) {
    setChosen(chosen.filter((c) => c.id !== id));
    set({ contact_ids: draft.contact_ids.filter((x) => x !== id) }, ["target_filters"]);
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    setFormError(null);
    const problems = checkDraft(draft, template, localNow(new Date(), zone));
    setShown(Object.fromEntries(problems.map((p) => [p.field, t(p.key, p.values)])));
    if (problems.length) return;
    setBusy(true);
    let created: Campaign | null = null;
    try {
      created = await api<Campaign>("POST", "/campaigns", toCreateBody(draft, template));
      if (draft.audience === "csv" && csvFile) {
        // the file's contacts are imported (created or updated) and become the draft's audience;
        // a file with refused rows starts nothing: the rows are listed to be fixed
        const report = await upload<ImportReport>(`/campaigns/${created.id}/recipients/import`, csvFile, () => undefined);
        const refused = importProblem(report);
        if (refused) {
          await api("DELETE", `/campaigns/${created.id}`).catch(() => undefined);
          setShown({ target_filters: refused.none && !report.rejected ? t("campaigns.csvEmpty")
            : t("campaigns.csvRefused", { n: report.rejected }) });
          setRefusedRows(refused);
          forgetCsv();  // the fixed file is picked again (a browser will not send a file changed since)
          return;
        }
      }
      await api<Campaign>("POST", `/campaigns/${created.id}/start`, toStartBody(draft));
      navigate(`/app/campaigns/${created.id}`);
    } catch (err) {
      // a campaign the API would not start is not left behind as a draft: the form shows why
      if (created) await api("DELETE", `/campaigns/${created.id}`).catch(() => undefined);
      if (!showOnFields(err)) setFormError(t("campaigns.failed", { message: errorText(err) }));
    } finally {
      setBusy(false);
    }
  }

  function showOnFields(err: unknown): boolean {
    if (!(err instanceof ApiError)) return false;
    const named = problemsOf(err);
    const onForm: Record<string, string> = {};
    for (const d of named) {
      const field = formField(d.field);
      if (document.querySelector(`[data-field="${CSS.escape(field)}"]`)) onForm[field] ??= d.message;
    }
    setShown(onForm);
    return Object.keys(onForm).length > 0;
  }

  const audiences: Audience[] = ["tags", "contacts", "csv", "all"];
  function forgetCsv() {
    setCsvFile(null);
    setCsvInput((n) => n + 1);
    setDraft((d) => ({ ...d, csv_name: "" }));
  }
  return (
    <div className="page">
      <AppHeader />
      <main className="content wide">
        <div className="breadcrumb"><Link to="/app/campaigns">{t("campaigns.title")}</Link><span className="muted">/</span>
          <span>{t("campaigns.new")}</span></div>
        {formError && <ErrorBanner message={formError} onDismiss={() => setFormError(null)} />}
        <form className="card stack campaign-form" onSubmit={submit} noValidate aria-label={t("campaigns.new")}>
          <h1>{t("campaigns.new")}</h1>
          <Field id="name" label={t("common.name")} problem={problem("name")}>
            <input value={draft.name} onChange={(e) => set({ name: e.target.value })} />
          </Field>
          <div className="row top">
            <Field id="whatsapp_number_id" label={t("campaigns.number")} problem={problem("whatsapp_number_id")} className="grow">
              <select value={draft.whatsapp_number_id}
                onChange={(e) => set({ whatsapp_number_id: e.target.value, template_id: "" }, ["whatsapp_number_id", "template_id", "message_content"])}>
                {numbers.map((n) => <option key={n.id} value={n.id}>{numberLabel(n)}</option>)}
              </select>
            </Field>
            <Field id="template_id" label={t("campaigns.template")} problem={problem("template_id")} className="grow"
              help={usable.length === 0 ? t("campaigns.noTemplates") : undefined}>
              <select value={draft.template_id}
                onChange={(e) => set({ template_id: e.target.value, body: {}, header: "", header_media_url: "", header_location: emptyPlace(), buttons: {} },
                  ["template_id", "message_content"])}>
                <option value="">{t("campaigns.chooseTemplate")}</option>
                {usable.map((tpl) => <option key={tpl.id} value={tpl.id}>{tpl.name} ({tpl.language})</option>)}
              </select>
            </Field>
          </div>

          {template && (
            <fieldset className="field-group">
              <legend>{t("campaigns.parameters")}</legend>
              <p className="muted small template-text">{template.body_text}</p>
              {!needs.body.length && !needs.headerText && !needs.headerMedia && !needs.headerLocation && !valueButtons(needs).length &&
                <p className="muted small">{t("campaigns.noParameters")}</p>}
              {needs.headerText && (
                <Field id="message_content.header" label={t("campaigns.headerParam")} problem={problem("message_content.header")}>
                  <input value={draft.header} onChange={(e) => set({ header: e.target.value }, ["message_content.header"])} />
                </Field>
              )}
              {needs.headerMedia && (
                <Field id="message_content.header_media_url" label={t("campaigns.headerMedia")} problem={problem("message_content.header_media_url")}>
                  <input value={draft.header_media_url} placeholder="https://"
                    onChange={(e) => set({ header_media_url: e.target.value }, ["message_content.header_media_url"])} />
                </Field>
              )}
              {needs.headerLocation && (
                <PlaceFields id="message_content.header_location" place={draft.header_location} problem={problem}
                  onChange={(place) => set({ header_location: place }, ["message_content.header_location"])} />
              )}
              {needs.body.map((name, i) => (
                <Field key={name} id={`message_content.body[${i}]`} label={t("campaigns.paramFor", { name: `{{${name}}}` })}
                  problem={problem(`message_content.body[${i}]`)}>
                  <input value={draft.body[name] ?? ""}
                    onChange={(e) => set({ body: { ...draft.body, [name]: e.target.value } }, [`message_content.body[${i}]`])} />
                </Field>
              ))}
              {valueButtons(needs).map((position, j) => (
                <Field key={position} id={`message_content.buttons[${j}]`}
                  label={t(needs.coupons.includes(position) ? "campaigns.couponParam" : "campaigns.buttonParam", { n: position + 1 })}
                  problem={problem(`message_content.buttons[${j}]`)}>
                  <input value={draft.buttons[position] ?? ""}
                    onChange={(e) => set({ buttons: { ...draft.buttons, [position]: e.target.value } }, [`message_content.buttons[${j}]`])} />
                </Field>
              ))}
            </fieldset>
          )}

          <fieldset className="field-group" data-field="target_filters">
            <legend>{t("campaigns.audience")}</legend>
            <div className="row">
              {audiences.map((a) => (
                <label key={a} className="row inline-field">
                  <input type="radio" name="audience" checked={draft.audience === a}
                    onChange={() => {
                      set({ audience: a }, ["target_filters"]);
                      if (a !== "csv") forgetCsv();  // its input goes: a file it no longer shows is not sent
                    }} />{t(`campaigns.audience.${a}`)}
                </label>
              ))}
            </div>
            {draft.audience === "tags" && (tags === null ? <p className="muted">{t("common.loading")}</p> : <>
              {tagChoices.length === 0 ? <p className="muted small">{t("campaigns.noTags")}</p>
                : <div className="row" role="group" aria-label={t("campaigns.audience.tags")}>
                  {tagChoices.map((tag) => (
                    <label key={tag} className="row inline-field tag-choice">
                      <input type="checkbox" checked={draft.tags.includes(tag)}
                        onChange={(e) => set({ tags: e.target.checked ? [...draft.tags, tag] : draft.tags.filter((x) => x !== tag) }, ["target_filters"])} />
                      {tag}
                    </label>
                  ))}
                </div>}
              {/* a contact's tags are free text (a flow's add_tag, an import, the contacts API): one the
                  /tags list does not name is typed in */}
              <div className="row tag-entry">
                <input aria-label={t("campaigns.otherTag")} placeholder={t("campaigns.otherTag")} value={typedTag}
                  onChange={(e) => setTypedTag(e.target.value)}
                  onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); addTypedTag(); } }} />
                <button type="button" onClick={addTypedTag} disabled={!typedTag.trim()}>{t("campaigns.addTag")}</button>
              </div>
            </>)}
            {draft.audience === "contacts" && (
              <div className="stack">
                <label className="field-label" htmlFor="contact-search">{t("campaigns.searchContacts")}</label>
                <input id="contact-search" value={query} placeholder={t("campaigns.searchHelp")} onChange={(e) => setQuery(e.target.value)} />
                <ul className="plain-list">
                  {found.filter((c) => !draft.contact_ids.includes(c.id)).map((c) => (
                    <li key={c.id}><button type="button" className="link" onClick={() => choose(c)}>+ {contactLabel(c)}</button></li>
                  ))}
                </ul>
                <span className="small">{t("campaigns.chosen", { n: draft.contact_ids.length })}</span>
                <ul className="plain-list">
                  {chosen.map((c) => (
                    <li key={c.id}>{contactLabel(c)} <button type="button" className="link danger" onClick={() => unchoose(c.id)}>{t("common.remove")}</button></li>
                  ))}
                </ul>
              </div>
            )}
            {draft.audience === "csv" && (
              <div className="stack">
                <label className="field-label" htmlFor="campaign-csv">{t("campaigns.csvFile")}</label>
                <input key={csvInput} id="campaign-csv" type="file" accept=".csv,text/csv" onChange={(e) => {
                  const file = e.target.files?.[0] ?? null;
                  setCsvFile(file);
                  set({ csv_name: file?.name ?? "" }, ["target_filters"]);
                }} />
                <span className="field-help">{t("campaigns.csvHelp")}</span>
              </div>
            )}
            <span className="field-help">{t("campaigns.audienceHelp")}</span>
            {problem("target_filters") && <span className="field-problem error">{problem("target_filters")}</span>}
            {refusedRows.rows.length > 0 && (
              <ul className="plain-list small refused-rows" aria-label={t("campaigns.csvRefusedRows")}>
                {refusedRows.rows.map((row) => <li key={row}>{t("campaigns.csvLine", { row })}</li>)}
                {refusedRows.more > 0 && <li>{t("campaigns.csvMore", { n: refusedRows.more })}</li>}
              </ul>
            )}
          </fieldset>

          <Field id="flow_id" label={t("campaigns.flow")} problem={problem("flow_id")}>
            <select value={draft.flow_id} onChange={(e) => set({ flow_id: e.target.value })}>
              <option value="">{t("campaigns.noFlow")}</option>
              {flows.map((f) => <option key={f.id} value={f.id}>{f.name}</option>)}
            </select>
          </Field>

          <fieldset className="field-group" data-field="scheduled_at">
            <legend>{t("campaigns.when")}</legend>
            <div className="row">
              {(["now", "later"] as const).map((w) => (
                <label key={w} className="row inline-field">
                  <input type="radio" name="when" checked={draft.when === w} onChange={() => set({ when: w }, ["scheduled_at"])} />
                  {t(w === "now" ? "campaigns.now" : "campaigns.later")}
                </label>
              ))}
            </div>
            {draft.when === "later" && (
              <div className="row top">
                <Field id="date" label={t("campaigns.date")}>
                  <input type="date" value={draft.date} onChange={(e) => set({ date: e.target.value }, ["scheduled_at"])} />
                </Field>
                <Field id="time" label={t("campaigns.time")}>
                  <input type="time" value={draft.time} onChange={(e) => set({ time: e.target.value }, ["scheduled_at"])} />
                </Field>
              </div>
            )}
            {draft.when === "later" && <span className="field-help">{t("campaigns.timezone", { zone })}</span>}
            {problem("scheduled_at") && <span className="field-problem error">{problem("scheduled_at")}</span>}
          </fieldset>

          <div className="row">
            <button type="submit" className="primary" disabled={busy}>
              {busy ? t("campaigns.creating") : t(draft.when === "later" ? "campaigns.createSchedule" : "campaigns.createStart")}</button>
            <Link to="/app/campaigns" className="button">{t("common.cancel")}</Link>
          </div>
        </form>
      </main>
    </div>
  );
}
