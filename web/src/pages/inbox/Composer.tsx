import { type KeyboardEvent, useEffect, useMemo, useRef, useState } from "react";
import { api, ApiError, errorText } from "../../api/client";
import type { Template } from "../../api/types";
import { Field } from "../../components/Field";
import { useI18n } from "../../i18n";
import { emptyPlace, needsOf, placeProblem, toLocation, valueButtons } from "../campaigns/campaignModel";
import { PlaceFields } from "../../components/PlaceFields";
import { variables } from "../templates/templateModel";
import { PaperClip, PendingAttachment } from "./Attachment";
import { InteractiveBuilder } from "./InteractiveBuilder";
import { type Conversation, CLOSED, expandQuickReply, matchingQuickReplies, type Message, outgoing,
  type QuickReply, throttle, windowClosed } from "./inboxModel";

/** What the file picker offers (a hint: the API decides, and a refused type gets its message). */
const ACCEPT = "image/*,video/*,audio/*,application/pdf,text/plain,.doc,.docx,.xls,.xlsx,.ppt,.pptx";

/** Text (with `/shortcut` quick replies), a file (uploaded, then sent as media), reply buttons or a
 *  list (InteractiveBuilder), or an approved template with its parameters. */
export function Composer(props: { conversation: Conversation; quickReplies: QuickReply[]; templates: Template[];
  onTyping: () => void; onSent: (message: Message) => void }) {
  const { t } = useI18n();
  const [text, setText] = useState("");
  const [picked, setPicked] = useState<QuickReply | null>(null);  // the quick reply last expanded into the text
  const [highlight, setHighlight] = useState(0);
  const [picking, setPicking] = useState(false);
  const [templateId, setTemplateId] = useState("");
  const [values, setValues] = useState<string[]>([]);
  // a template's other parameters: a text header's {{1}}, a media header's URL, a location header's
  // place, buttons' values by position
  const [header, setHeader] = useState("");
  const [media, setMedia] = useState("");
  const [place, setPlace] = useState(emptyPlace());
  const [buttonValues, setButtonValues] = useState<Record<number, string>>({});
  const [problem, setProblem] = useState("");
  const [sending, setSending] = useState(false);
  const [attachment, setAttachment] = useState<File | null>(null);
  const [building, setBuilding] = useState(false);
  const picker = useRef<HTMLInputElement>(null);
  // one throttle for the composer's life (the server renews "typing" at most every 2 s anyway)
  const onTyping = useRef(props.onTyping);
  useEffect(() => { onTyping.current = props.onTyping; });
  const typing = useMemo(() => throttle(() => onTyping.current(), 2000), []);
  const matches = matchingQuickReplies(text, props.quickReplies);
  const closed = CLOSED.has(props.conversation.status ?? "");
  const onlyTemplates = windowClosed(props.conversation, Date.now());
  const template = props.templates.find((x) => x.id === templateId);
  const names = template ? variables(template.body_text) : [];
  const needs = needsOf(template);
  const positions = valueButtons(needs);

  /** the reply posted: null when it was taken, else the refusal (an ApiError, or the network's words) */
  const post = async (body: Record<string, unknown>): Promise<ApiError | string | null> => {
    setSending(true);
    try {
      props.onSent(await api<Message>("POST", `/conversations/${props.conversation.id}/messages`, body));
      return null;
    } catch (err) {
      return err instanceof ApiError ? err : errorText(err);
    } finally {
      setSending(false);
    }
  };

  const send = async (body: Record<string, unknown>) => {
    setProblem("");
    const refused = await post(body);
    if (refused !== null) setProblem(typeof refused === "string" ? refused : refused.message);
    return refused === null;
  };

  const sendFile = async (body: Record<string, unknown>) => {
    const refused = await post(body);
    if (refused === null) setAttachment(null);
    return refused === null ? null : typeof refused === "string" ? refused : refused.message;
  };

  const sendText = async () => {
    const out = outgoing(text, picked, props.quickReplies);
    if (out.type === "unfilled") {
      return setProblem(t("inbox.unfilled", { names: out.names.map((n) => `{{${n}}}`).join(", ") }));
    }
    if (out.type === "text" && !out.text) return;
    if (await send(out.type === "quick_reply" ? out : { type: "text", text: out.text })) {
      setText("");
      setPicked(null);
    }
  };

  const sendTemplate = async () => {
    if (!template) return setProblem(t("inbox.pickTemplate"));
    const missing = names.findIndex((_, i) => !(values[i] ?? "").trim());
    if (missing >= 0) return setProblem(t("inbox.templateValue", { name: names[missing] }));
    if (needs.headerText && !header.trim()) return setProblem(t("campaigns.check.header"));
    if (needs.headerMedia && !/^https?:\/\/\S+$/.test(media.trim())) return setProblem(t("campaigns.check.media"));
    const wrongPlace = needs.headerLocation ? placeProblem(place) : null;
    if (wrongPlace) return setProblem(t(`campaigns.check.${wrongPlace}`));
    const blank = positions.find((i) => !(buttonValues[i] ?? "").trim());
    if (blank !== undefined) {
      return setProblem(t(needs.coupons.includes(blank) ? "campaigns.check.coupon" : "campaigns.check.button", { n: blank + 1 }));
    }
    const body: Record<string, unknown> = { id: template.id, body: names.map((_, i) => values[i].trim()) };
    if (needs.headerText) body.header = header.trim();
    if (needs.headerMedia) body.header_media_url = media.trim();
    if (needs.headerLocation) body.header_location = toLocation(place);
    if (positions.length) body.buttons = positions.map((i) => ({ index: i, text: buttonValues[i].trim() }));
    if (await send({ type: "template", template: body })) {
      setPicking(false);
      pickTemplate("");
    }
  };

  const pickTemplate = (id: string) => {
    setTemplateId(id);
    setValues([]);
    setHeader("");
    setMedia("");
    setPlace(emptyPlace());
    setButtonValues({});
  };

  const pick = (reply: QuickReply) => {
    setText(expandQuickReply(text, reply));
    setPicked(reply);
    setHighlight(0);
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (matches.length) {
      if (e.key === "ArrowDown") { e.preventDefault(); setHighlight((h) => (h + 1) % matches.length); return; }
      if (e.key === "ArrowUp") { e.preventDefault(); setHighlight((h) => (h - 1 + matches.length) % matches.length); return; }
      if (e.key === "Enter" || e.key === "Tab") { e.preventDefault(); pick(matches[Math.min(highlight, matches.length - 1)]); return; }
      if (e.key === "Escape") { setText(text + " "); return; }
    }
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      void sendText();
    }
  };

  if (closed) return <p className="composer closed muted">{t("inbox.closedComposer")}</p>;
  return (
    <div className="composer">
      {onlyTemplates && <p className="muted small">{t("inbox.windowClosed")}</p>}
      {matches.length > 0 && (
        <ul className="quick-replies" role="listbox" aria-label={t("inbox.quickReplies")}>
          {matches.map((r, i) => (
            <li key={r.id} role="option" aria-selected={i === highlight} className={i === highlight ? "active" : ""}
              onMouseDown={(e) => { e.preventDefault(); pick(r); }}>
              <strong>/{r.shortcut.replace(/^\//, "")}</strong> <span>{r.title}</span>
              <span className="muted small qr-content">{r.content}</span>
            </li>
          ))}
        </ul>
      )}
      {picking && (
        <div className="template-picker card">
          <Field id="template" label={t("inbox.template")}>
            <select value={templateId} onChange={(e) => pickTemplate(e.target.value)}>
              <option value="">{t("inbox.chooseTemplate")}</option>
              {props.templates.filter((x) => !x.whatsapp_number_id || x.whatsapp_number_id === props.conversation.whatsapp_number_id)
                .map((x) => <option key={x.id} value={x.id}>{x.name} ({x.language})</option>)}
            </select>
          </Field>
          {template && <p className="template-body small">{template.body_text}</p>}
          {needs.headerText && (
            <Field id="template-header" label={t("campaigns.headerParam")}>
              <input value={header} onChange={(e) => setHeader(e.target.value)} />
            </Field>
          )}
          {needs.headerMedia && (
            <Field id="template-media" label={t("campaigns.headerMedia")}>
              <input value={media} placeholder="https://" onChange={(e) => setMedia(e.target.value)} />
            </Field>
          )}
          {needs.headerLocation && <PlaceFields id="template-location" place={place} onChange={setPlace} />}
          {names.map((name, i) => (
            <Field key={name} id={`template-value-${i}`} label={t("inbox.valueFor", { name: `{{${name}}}` })}>
              <input value={values[i] ?? ""} onChange={(e) => {
                const next = [...values];
                next[i] = e.target.value;
                setValues(next);
              }} />
            </Field>
          ))}
          {positions.map((position) => (
            <Field key={position} id={`template-button-${position}`}
              label={t(needs.coupons.includes(position) ? "campaigns.couponParam" : "campaigns.buttonParam", { n: position + 1 })}>
              <input value={buttonValues[position] ?? ""}
                onChange={(e) => setButtonValues({ ...buttonValues, [position]: e.target.value })} />
            </Field>
          ))}
          <div className="row">
            <button type="button" className="primary" disabled={sending} onClick={() => void sendTemplate()}>
              {t("inbox.sendTemplate")}
            </button>
            <button type="button" className="ghost" onClick={() => setPicking(false)}>{t("common.cancel")}</button>
          </div>
        </div>
      )}
      {building && (
        <InteractiveBuilder disabled={sending} send={async (body) => {
          const refused = await post(body);
          if (refused === null) setBuilding(false);
          return refused;
        }} onCancel={() => setBuilding(false)} />
      )}
      {attachment && (
        <PendingAttachment key={`${attachment.name}-${attachment.size}-${attachment.lastModified}`} file={attachment}
          disabled={sending} send={sendFile} onCancel={() => setAttachment(null)} />
      )}
      <input ref={picker} type="file" hidden accept={ACCEPT} data-testid="attach-input"
        aria-label={t("inbox.attachFile")} onChange={(e) => {
          const file = e.target.files?.[0];
          if (file) { setAttachment(file); setBuilding(false); setPicking(false); }
          e.target.value = "";  // the same file can be picked again
        }} />
      <div className="composer-row">
        <textarea aria-label={t("inbox.message")} placeholder={t("inbox.placeholder")} rows={2} value={text}
          onChange={(e) => { setText(e.target.value); setHighlight(0); if (e.target.value) typing(); else setPicked(null); }}
          onKeyDown={onKey} />
        <button type="button" className="ghost icon" title={t("inbox.attachFile")} aria-label={t("inbox.attachFile")}
          onClick={() => picker.current?.click()}><PaperClip /></button>
        <button type="button" className="ghost" aria-pressed={building}
          onClick={() => { setBuilding(!building); setPicking(false); }}>
          {t("inbox.interactive")}
        </button>
        <button type="button" className="ghost" aria-pressed={picking}
          onClick={() => { setPicking(!picking); setBuilding(false); }}>
          {t("inbox.templates")}
        </button>
        <button type="button" className="primary" disabled={sending || !text.trim()} onClick={() => void sendText()}>
          {t("inbox.send")}
        </button>
      </div>
      {problem && <p className="error small" role="alert">{problem}</p>}
    </div>
  );
}
