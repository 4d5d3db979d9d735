import { type Dispatch, useEffect, useRef, useState } from "react";
import type { Template } from "../../api/types";
import { useI18n } from "../../i18n";
import { type Action, type Conversation, failureText, type InboxState, mapLink, mediaLink, type Message, messageText,
  type Place, placeOf, type QuickReply, templateShown, typingNames } from "./inboxModel";
import type { Contact } from "./ContactPanel";
import { Composer } from "./Composer";
import { contactName, shortTime } from "./ConversationList";
import { MediaFile, MEDIA_TYPES, MessageMedia } from "./MessageMedia";

const TICKS: Record<string, string> = { sent: "✓", delivered: "✓✓", read: "✓✓" };

/** "sending": a drawn clock (the 🕓 emoji is a box where no emoji font is installed) */
const CLOCK = (
  <svg width="11" height="11" viewBox="0 0 12 12" fill="none" stroke="currentColor" strokeWidth="1.3" aria-hidden="true">
    <circle cx="6" cy="6" r="5" /><path d="M6 3v3l2 1.5" />
  </svg>
);

/** a place: a drawn pin (the 📍 emoji is a box where no emoji font is installed) */
const PIN = (
  <svg width="12" height="14" viewBox="0 0 12 14" fill="currentColor" aria-hidden="true" className="pin">
    <path d="M6 0a5 5 0 0 0-5 5c0 3.6 5 9 5 9s5-5.4 5-9a5 5 0 0 0-5-5zm0 7a2 2 0 1 1 0-4 2 2 0 0 1 0 4z" />
  </svg>
);

function Bubble({ message }: { message: Message }) {
  const { t, lang } = useI18n();
  const status = message.status ?? "pending";
  const outbound = message.direction === "outbound";
  const media = MEDIA_TYPES.has(message.type ?? "");
  const content = (message.content ?? {}) as { caption?: string; buttons?: { title?: string }[]; button?: string;
    header?: string; footer?: string };
  // a media message without a caption: its kind in words ("[image]") only when no file shows
  const shown = message.media || mediaLink(message);
  const template = templateShown(message);  // a template's header, footer and buttons as sent
  const place = placeOf(message, template);
  const text = media ? content.caption ?? (shown || !outbound ? "" : messageText(message))
    : message.type === "location" && place ? "" : messageText(message);
  const interactive = message.type === "button" || message.type === "list";
  return (
    <li className={`bubble ${outbound ? "out" : "in"}${status === "failed" ? " failed" : ""}`}
      data-message={message.id} data-status={status}>
      {media && <MessageMedia message={message} />}
      {template.header_media && (
        <MediaFile kind={template.header_media.type} src={template.header_media.link}
          name={t(`inbox.kind.${template.header_media.type}` as never)} external />
      )}
      {place && <PlaceCard place={place} />}
      {interactive && content.header && <p className="bubble-header">{content.header}</p>}
      {template.header && <p className="bubble-header">{template.header}</p>}
      {text && <p className="bubble-text">{text}</p>}
      {interactive && content.footer && <p className="bubble-footer muted small">{content.footer}</p>}
      {template.footer && <p className="bubble-footer muted small">{template.footer}</p>}
      {message.type === "button" && Array.isArray(content.buttons) && (
        <ul className="bubble-buttons">{content.buttons.map((b, i) => <li key={i}>{b.title}</li>)}</ul>
      )}
      {template.buttons && template.buttons.length > 0 && (
        <ul className="bubble-buttons">{template.buttons.map((b, i) => <li key={i}>{b}</li>)}</ul>
      )}
      {message.type === "list" && content.button && <ul className="bubble-buttons"><li>☰ {content.button}</li></ul>}
      <span className="bubble-meta">
        {outbound && message.sender_type === "bot" && <span className="sender">{t("inbox.bot")}</span>}
        <time>{shortTime(message.created_at, lang)}</time>
        {outbound && status !== "failed" && (
          <span className={`ticks ${status}`} data-ticks={status} aria-label={t(`inbox.status.${status}` as never)}
            title={t(`inbox.status.${status}` as never)}>{status === "pending" ? CLOCK : TICKS[status] ?? ""}</span>
        )}
      </span>
      {status === "failed" && (
        <p className="bubble-error" role="note">{t("inbox.failed")} {failureText(message)}</p>
      )}
    </li>
  );
}

/** A place in a bubble (a customer's shared location, a template's location header): its name and
 *  address, and the map it opens. */
function PlaceCard({ place }: { place: Place }) {
  const { t } = useI18n();
  return (
    <div className="bubble-place">
      <p className="bubble-header">{PIN} {place.name ?? t("inbox.place")}</p>
      {place.address && <p className="bubble-place-address small">{place.address}</p>}
      <a href={mapLink(place)} target="_blank" rel="noreferrer" referrerPolicy="no-referrer" className="small">
        {t("inbox.openMap")}
      </a>
    </div>
  );
}

/** The middle column: the conversation's history, who is typing, and the composer (a note instead
 *  for a role that may not send messages, `mayReply` false; neither while the role is not known yet,
 *  `mayReply` undefined); on a phone, where it replaces the lists, a way back to them (`onBack`). */
export function ConversationView(props: { conversation: Conversation; contact?: Contact; state: InboxState;
  quickReplies: QuickReply[]; templates: Template[]; dispatch: Dispatch<Action>; mayReply: boolean | undefined;
  problem?: string; onRetry: () => void; onTyping: () => void; onBack: () => void }) {
  const { t } = useI18n();
  const { conversation, state } = props;
  const history = state.messages[conversation.id];
  const end = useRef<HTMLDivElement>(null);
  const [now, setNow] = useState(Date.now());
  const typing = typingNames(state, conversation.id, now);

  useEffect(() => { end.current?.scrollIntoView({ block: "end" }); }, [history?.length]);
  // "typing…" lasts `expires_in`: re-read the clock while someone types
  useEffect(() => {
    if (!Object.keys(state.typing[conversation.id] ?? {}).length) return;
    const timer = setInterval(() => setNow(Date.now()), 500);
    return () => clearInterval(timer);
  }, [state.typing, conversation.id]);
  useEffect(() => setNow(Date.now()), [state.typing]);

  return (
    <section className="inbox-thread" aria-label={t("inbox.thread")}>
      <header className="thread-head">
        <button type="button" className="ghost inbox-back" onClick={props.onBack}
          aria-label={t("inbox.backToLists")} title={t("inbox.backToLists")}>←</button>
        <h1>{contactName(props.contact)}</h1>
        <span className="muted small">{t(`inbox.conversationStatus.${conversation.status ?? "open"}` as never)}</span>
      </header>
      <div className="thread-scroll">
        {!history && !props.problem && <p className="muted">{t("common.loading")}</p>}
        {!history && props.problem && (
          <div className="history-problem" role="alert">
            <p className="error">{t("inbox.historyFailed", { message: props.problem })}</p>
            <button type="button" onClick={props.onRetry}>{t("common.retry")}</button>
          </div>
        )}
        <ol className="bubbles" aria-live="polite">
          {history?.map((m) => <Bubble key={m.id} message={m} />)}
        </ol>
        <div ref={end} />
      </div>
      <p className="typing" aria-live="polite">
        {typing.length > 0 && t("inbox.typing", { names: typing.join(", ") })}
      </p>
      {props.mayReply ? (
        <Composer conversation={conversation} quickReplies={props.quickReplies} templates={props.templates}
          onTyping={props.onTyping} onSent={(message) => props.dispatch({ kind: "message", message })} />
      ) : props.mayReply === false && <p className="composer view-only muted" role="note">{t("inbox.viewOnly")}</p>}
    </section>
  );
}
