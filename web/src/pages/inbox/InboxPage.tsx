import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import { api, errorText } from "../../api/client";
import { can, useMe } from "../../api/me";
import type { Page, Template } from "../../api/types";
import { AppHeader } from "../../components/AppHeader";
import { useI18n } from "../../i18n";
import { CLOSED, type Conversation, emptyState, lists, type Message, type QuickReply, reduce } from "./inboxModel";
import { connectLive, type LiveConnection } from "./liveSocket";
import { ConversationList } from "./ConversationList";
import { ConversationView } from "./ConversationView";
import { ContactPanel, type Contact, type Department, type Person } from "./ContactPanel";

/** The agent's inbox: Mine and Queue on the left, the open conversation in the middle,
 * its contact and actions on the right; kept current by the live channel (GET /live).
 * A role that only reads conversations and messages (a viewer) gets them without the controls
 * the API would refuse it: no composer, no availability, no assign / transfer / close. */
export function InboxPage() {
  const { t } = useI18n();
  const me = useMe();
  // undefined (neither the composer nor the view-only note) until /auth/me says what the role holds
  const mayReply = me ? can(me, "messages:write") : undefined;
  const mayHandle = can(me, "conversations:write");  // assign, transfer, close; availability too
  const [state, dispatch] = useReducer(reduce, emptyState);
  const [connected, setConnected] = useState(false);
  const [contacts, setContacts] = useState<Record<string, Contact>>({});
  const [departments, setDepartments] = useState<Department[]>([]);
  const [people, setPeople] = useState<Person[]>([]);
  const [quickReplies, setQuickReplies] = useState<QuickReply[]>([]);
  const [templates, setTemplates] = useState<Template[]>([]);
  const [error, setError] = useState("");
  // the opened conversation's history could not be read: why, shown in its place with a way to try again
  const [historyProblem, setHistoryProblem] = useState<{ id: string; message: string } | null>(null);
  const live = useRef<LiveConnection | null>(null);
  const requested = useRef(new Set<string>());
  const lastFetched = useRef(new Set<string>());

  const load = useCallback(async (userId: string) => {
    try {
      const [mine, queue] = await Promise.all([
        api<Page<Conversation>>("GET", `/conversations?assigned_to=${userId}&per_page=100`),
        api<Page<Conversation>>("GET", "/conversations?status=waiting_in_queue&per_page=100"),
      ]);
      const conversations = [...mine.items, ...queue.items].filter((c) => !CLOSED.has(c.status ?? ""));
      conversations.forEach((c) => lastFetched.current.add(c.id));
      const last = await Promise.all(conversations.map((c) =>
        api<Page<Message>>("GET", `/conversations/${c.id}/messages?per_page=1`).then((p) => p.items)));
      dispatch({ kind: "loaded", conversations, last: last.flat() });
    } catch (err) {
      setError((err as Error).message);
    }
  }, []);

  useEffect(() => {
    const connection = connectLive({
      onMessage: (message) => dispatch({ kind: "live", message, now: Date.now() }),
      onFresh: load,
      onState: setConnected,
    });
    live.current = connection;
    Promise.all([
      api<Page<Department>>("GET", "/departments?per_page=100").then((p) => setDepartments(p.items)),
      api<Page<Person>>("GET", "/users?per_page=100").then((p) => setPeople(p.items)),
      api<Page<QuickReply>>("GET", "/quick-replies?per_page=100").then((p) => setQuickReplies(p.items)),
      api<Page<Template>>("GET", "/templates?meta_status=APPROVED&per_page=100").then((p) => setTemplates(p.items)),
    ]).catch((err: Error) => setError(err.message));
    return () => connection.close();
  }, [load]);

  // contacts of the rows, and conversations a live message revealed: fetched once each
  useEffect(() => {
    for (const c of Object.values(state.conversations)) {
      if (requested.current.has(c.contact_id)) continue;
      requested.current.add(c.contact_id);
      api<Contact>("GET", `/contacts/${c.contact_id}`)
        .then((contact) => setContacts((all) => ({ ...all, [contact.id]: contact }))).catch(() => undefined);
    }
    for (const id of Object.keys(state.last)) {
      if (state.conversations[id] || requested.current.has(id)) continue;
      requested.current.add(id);
      api<Conversation>("GET", `/conversations/${id}`)
        .then((conversation) => dispatch({ kind: "conversation", conversation })).catch(() => undefined);
    }
  }, [state.conversations, state.last]);

  // a conversation that entered a list live (assigned, transferred, queued): its newest message,
  // which this page may not have seen (a reply sent before it was ours)
  const { mine, queue } = lists(state);
  useEffect(() => {
    for (const c of [...mine, ...queue]) {
      if (lastFetched.current.has(c.id)) continue;
      lastFetched.current.add(c.id);
      api<Page<Message>>("GET", `/conversations/${c.id}/messages?per_page=1`)
        .then((p) => p.items.forEach((message) => dispatch({ kind: "message", message }))).catch(() => undefined);
    }
  }, [mine, queue]);

  const open = useCallback(async (id: string) => {
    dispatch({ kind: "select", conversation_id: id });
    setHistoryProblem(null);
    try {
      const page = await api<Page<Message>>("GET", `/conversations/${id}/messages?per_page=100`);
      dispatch({ kind: "history", conversation_id: id, messages: page.items });
    } catch (err) {
      setHistoryProblem({ id, message: errorText(err) });
    }
  }, []);

  const selected = state.selected ? state.conversations[state.selected] : undefined;
  const contact = selected ? contacts[selected.contact_id] : undefined;

  return (
    <div className="page inbox-page">
      <AppHeader />
      {error && <p className="error inbox-error" role="alert">{error}</p>}
      {/* has-open: on a phone only one column shows, the opened conversation instead of the lists */}
      <main className={selected ? "inbox has-open" : "inbox"}>
        <aside className="inbox-lists" aria-label={t("inbox.conversations")}>
          <div className="inbox-presence">
            <p className={connected ? "live-state on" : "live-state"} role="status">
              {connected ? t("inbox.live") : t("inbox.connecting")}
            </p>
            {mayHandle && (
              <label className="availability">
                {t("inbox.availability")}
                <select aria-label={t("inbox.availability")} value={state.me?.status ?? "away"}
                  disabled={!connected || !state.me}
                  onChange={(e) => live.current?.send({ type: "status", status: e.target.value })}>
                  <option value="online">{t("inbox.online")}</option>
                  <option value="away">{t("inbox.away")}</option>
                </select>
              </label>
            )}
          </div>
          <ConversationList id="mine" title={t("inbox.mine")} items={mine} state={state} contacts={contacts}
            onOpen={open} empty={t("inbox.mineEmpty")} />
          <ConversationList id="queue" title={t("inbox.queue")} items={queue} state={state} contacts={contacts}
            onOpen={open} empty={t("inbox.queueEmpty")} waiting />
        </aside>
        {selected ? (
          <>
            <ConversationView key={selected.id} conversation={selected} contact={contact} state={state}
              quickReplies={quickReplies} templates={templates} dispatch={dispatch} mayReply={mayReply}
              problem={historyProblem?.id === selected.id ? historyProblem.message : undefined}
              onRetry={() => void open(selected.id)}
              onBack={() => dispatch({ kind: "select", conversation_id: null })}
              onTyping={() => live.current?.send({ type: "typing", conversation_id: selected.id })} />
            <ContactPanel conversation={selected} contact={contact} me={state.me} departments={departments}
              people={people} mayHandle={mayHandle} onChanged={(conversation) => dispatch({ kind: "conversation", conversation })} />
          </>
        ) : (
          <section className="inbox-empty"><p>{t("inbox.pick")}</p></section>
        )}
      </main>
    </div>
  );
}
