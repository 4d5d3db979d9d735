import { useState } from "react";
import { api, errorText } from "../../api/client";
import { Field } from "../../components/Field";
import { useI18n } from "../../i18n";
import { type Conversation, CLOSED, type Me } from "./inboxModel";
import { BotActivity } from "./BotActivity";

export type Contact = { id: string; whatsapp_id: string; name?: string | null; whatsapp_name?: string | null;
  email?: string | null; phone?: string | null; tags?: string[] | null };
export type Department = { id: string; name: string };
export type Person = { id: string; full_name: string; role?: string | null; is_active?: boolean | null };

/** `mayHandle`: the role may write conversations (assign, transfer, return to the bot, close). */
type PanelProps = { conversation: Conversation; contact?: Contact; me: Me | null; departments: Department[];
  people: Person[]; mayHandle: boolean; onChanged: (c: Conversation) => void };

/** The right column: two tabs, the contact and actions, and the conversation's bot activity. */
export function ContactPanel(props: PanelProps) {
  const { t } = useI18n();
  const [tab, setTab] = useState<"contact" | "bot">("contact");
  const tabs = [["contact", t("inbox.contact")], ["bot", t("inbox.bot.title")]] as const;
  return (
    <aside className="inbox-contact" aria-label={t("inbox.details")}>
      <div role="tablist" className="side-tabs">
        {tabs.map(([id, label]) => (
          <button key={id} type="button" role="tab" aria-selected={tab === id} className={tab === id ? "active" : ""}
            onClick={() => setTab(id)}>{label}</button>
        ))}
      </div>
      <div role="tabpanel" className="side-body">
        {tab === "contact" ? <ContactDetails {...props} />
          : <BotActivity key={props.conversation.id} conversationId={props.conversation.id} />}
      </div>
    </aside>
  );
}

/** Who the customer is, and what the agent can do with the conversation. */
function ContactDetails(props: PanelProps) {
  const { t } = useI18n();
  const { conversation, contact, me } = props;
  const [departmentId, setDepartmentId] = useState("");
  const [userId, setUserId] = useState("");
  const [reason, setReason] = useState("");
  const [resolved, setResolved] = useState(true);
  const [notes, setNotes] = useState("");
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState(false);
  const closed = CLOSED.has(conversation.status ?? "");
  const mine = me != null && conversation.assigned_to === me.user_id;
  const assignee = props.people.find((p) => p.id === conversation.assigned_to);
  const department = props.departments.find((d) => d.id === conversation.department_id);

  const act = async (path: string, body: Record<string, unknown>) => {
    setBusy(true);
    setProblem("");
    try {
      props.onChanged(await api<Conversation>("POST", `/conversations/${conversation.id}/${path}`, body));
    } catch (err) {
      setProblem(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <section>
        <h2>{t("inbox.contact")}</h2>
        <dl className="facts">
          <dt>{t("common.name")}</dt><dd>{contact?.name || contact?.whatsapp_name || "—"}</dd>
          <dt>WhatsApp</dt><dd>{contact ? `+${contact.whatsapp_id}` : "…"}</dd>
          {contact?.email && <><dt>{t("inbox.email")}</dt><dd>{contact.email}</dd></>}
          <dt>{t("inbox.department")}</dt><dd>{department?.name ?? "—"}</dd>
          <dt>{t("inbox.assignee")}</dt><dd data-assignee>{assignee?.full_name ?? "—"}</dd>
        </dl>
        <ul className="tags" aria-label={t("inbox.tags")}>
          {[...(contact?.tags ?? []), ...(conversation.tags ?? [])].map((tag) => <li key={tag} className="tag">{tag}</li>)}
        </ul>
      </section>
      {!closed && props.mayHandle && (
        <section className="actions">
          <h2>{t("inbox.actions")}</h2>
          {!mine && me && (
            <button type="button" className="primary" disabled={busy} onClick={() => void act("assign", { user_id: me.user_id })}>
              {t("inbox.assignToMe")}
            </button>
          )}
          <fieldset className="field-group">
            <legend>{t("inbox.transfer")}</legend>
            <Field id="transfer-department" label={t("inbox.department")}>
              <select value={departmentId} onChange={(e) => setDepartmentId(e.target.value)}>
                <option value="">—</option>
                {props.departments.map((d) => <option key={d.id} value={d.id}>{d.name}</option>)}
              </select>
            </Field>
            <Field id="transfer-agent" label={t("inbox.agent")}>
              <select value={userId} onChange={(e) => setUserId(e.target.value)}>
                <option value="">{t("inbox.toQueue")}</option>
                {props.people.filter((p) => p.is_active !== false && p.role !== "viewer" && p.id !== conversation.assigned_to)
                  .map((p) => <option key={p.id} value={p.id}>{p.full_name}</option>)}
              </select>
            </Field>
            <Field id="transfer-reason" label={t("inbox.reason")}>
              <input value={reason} onChange={(e) => setReason(e.target.value)} />
            </Field>
            <button type="button" disabled={busy || (!departmentId && !userId)} onClick={() => void act("transfer", {
              ...(departmentId ? { department_id: departmentId } : {}), ...(userId ? { user_id: userId } : {}),
              ...(reason.trim() ? { reason: reason.trim() } : {}) })}>
              {t("inbox.transfer")}
            </button>
          </fieldset>
          {!conversation.is_bot_active && (
            <button type="button" disabled={busy} onClick={() => void act("return-to-bot", {})}>
              {t("inbox.returnToBot")}
            </button>
          )}
          <fieldset className="field-group">
            <legend>{t("inbox.close")}</legend>
            <label className="check"><input type="checkbox" checked={resolved} onChange={(e) => setResolved(e.target.checked)} />
              {t("inbox.resolved")}</label>
            <Field id="close-notes" label={t("inbox.notes")}>
              <textarea rows={2} value={notes} onChange={(e) => setNotes(e.target.value)} />
            </Field>
            <button type="button" className="danger" disabled={busy} onClick={() => void act("close", {
              resolved, ...(notes.trim() ? { notes: notes.trim() } : {}) })}>
              {t("inbox.close")}
            </button>
          </fieldset>
          {problem && <p className="error small" role="alert">{problem}</p>}
        </section>
      )}
    </>
  );
}
