import { useI18n } from "../../i18n";
import { type Conversation, type InboxState, messageText } from "./inboxModel";
import type { Contact } from "./ContactPanel";

export function contactName(contact: Contact | undefined): string {
  return contact ? contact.name || contact.whatsapp_name || contact.whatsapp_id : "…";
}

export function shortTime(iso: string | null | undefined, lang: string): string {
  if (!iso) return "";
  const at = new Date(iso);
  const sameDay = at.toDateString() === new Date().toDateString();
  return sameDay ? at.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" })
    : at.toLocaleDateString(lang, { day: "2-digit", month: "2-digit" });
}

/** One of the left column's lists (Mine, Queue) with its count. */
export function ConversationList(props: { id: string; title: string; items: Conversation[]; state: InboxState;
  contacts: Record<string, Contact>; onOpen: (id: string) => void; empty: string; waiting?: boolean }) {
  const { t, lang } = useI18n();
  return (
    <section className="conversation-list" aria-labelledby={`list-${props.id}`} data-list={props.id}>
      <h2 id={`list-${props.id}`}>
        {props.title} <span className="count" data-count={props.id}>{props.items.length}</span>
      </h2>
      {props.items.length === 0 && <p className="muted small">{props.empty}</p>}
      <ul>
        {props.items.map((c) => {
          const unread = props.state.unread[c.id] ?? 0;
          const last = props.state.last[c.id];
          return (
            <li key={c.id}>
              <button type="button" data-conversation={c.id}
                className={`conversation-row${props.state.selected === c.id ? " selected" : ""}${unread ? " unread" : ""}`}
                aria-current={props.state.selected === c.id ? "true" : undefined}
                onClick={() => props.onOpen(c.id)}>
                <span className="row-top">
                  <strong className="row-name">{contactName(props.contacts[c.contact_id])}</strong>
                  <time className="row-time">{shortTime(last?.created_at ?? c.last_message_at ?? c.entered_queue_at, lang)}</time>
                </span>
                <span className="row-bottom">
                  <span className={`row-snippet${last?.status === "failed" ? " failed" : ""}`}>
                    {last?.status === "failed" && "⚠ "}{last ? messageText(last) : t("inbox.noMessages")}
                  </span>
                  {unread > 0 && <span className="badge" aria-label={t("inbox.unread", { count: unread })}>{unread}</span>}
                  {props.waiting && <span className="waiting-pill">{t("inbox.waitingShort")}</span>}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </section>
  );
}
