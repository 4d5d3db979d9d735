import { describe, expect, it } from "vitest";
import { applyLive, type Conversation, emptyState, expandOnSend, failureText, expandQuickReply, type InboxState, lists,
  mapLink, matchingQuickReplies, mediaLink, type Message, messageText, outgoing, placeOf, templateShown, reduce, shortcutQuery, throttle, typingNames, windowClosed } from "./inboxModel";

const ME = "u-ana";
const ready = { type: "ready", cursor: "1-1", user_id: ME, scope: "departments", department_ids: ["d-sales"] };
const conv = (id: string, extra: Partial<Conversation> = {}): Conversation =>
  ({ id, contact_id: `k-${id}`, status: "assigned", assigned_to: ME, department_id: "d-sales", ...extra });
const msg = (id: string, cid: string, extra: Partial<Message> = {}): Message =>
  ({ id, conversation_id: cid, direction: "inbound", type: "text", content: { text: id }, status: "delivered",
     created_at: "2026-12-02T06:00:00+00:00", ...extra });
const event = (cursor: string, type: string, data: Record<string, unknown>) => ({ type: "event", cursor, event: { type, data } });

function started(conversations: Conversation[]): InboxState {
  const s = applyLive(emptyState, ready, 0);
  return reduce(s, { kind: "loaded", conversations, last: [] });
}

describe("live events → inbox state", () => {
  it("the agent's availability comes with ready and follows every status message, cursor untouched", () => {
    let s = applyLive(emptyState, { ...ready, status: "away" }, 0);
    expect(s.me?.status).toBe("away");
    s = applyLive(s, { type: "status", status: "online", assigned_conversation_ids: ["c1"] }, 0);
    expect(s.me?.status).toBe("online");
    expect(s.me?.user_id).toBe(ME);
    expect(s.cursor).toBe("1-1");
    expect(applyLive(emptyState, { type: "status", status: "online" }, 0).me).toBeNull();  // before ready: nobody
  });

  it("a customer's message lands in its conversation, moves it up and counts as unread unless open", () => {
    let s = started([conv("a", { last_message_at: "2026-12-02T05:00:00+00:00" }), conv("b", { last_message_at: "2026-12-02T05:30:00+00:00" })]);
    expect(lists(s).mine.map((c) => c.id)).toEqual(["b", "a"]);
    s = reduce(s, { kind: "history", conversation_id: "a", messages: [] });
    s = applyLive(s, event("1-2", "message.received", { message: msg("m1", "a") }), 0);
    expect(s.cursor).toBe("1-2");
    expect(s.messages.a.map((m) => m.id)).toEqual(["m1"]);
    expect(s.last.a.id).toBe("m1");
    expect(s.unread.a).toBe(1);
    expect(lists(s).mine.map((c) => c.id)).toEqual(["a", "b"]);
    s = reduce(s, { kind: "select", conversation_id: "a" });
    expect(s.unread.a).toBe(0);
    s = applyLive(s, event("1-3", "message.received", { message: msg("m2", "a", { created_at: "2026-12-02T06:01:00+00:00" }) }), 0);
    expect(s.unread.a).toBe(0);
    expect(s.messages.a.map((m) => m.id)).toEqual(["m1", "m2"]);
  });

  it("status ticks only move forward, and a failure carries Meta's error", () => {
    let s = started([conv("a")]);
    s = reduce(s, { kind: "history", conversation_id: "a", messages: [] });
    s = reduce(s, { kind: "message", message: msg("r1", "a", { direction: "outbound", sender_type: "agent", status: "pending" }) });
    s = applyLive(s, event("1-2", "message.sent", { message: msg("r1", "a", { direction: "outbound", status: "sent" }) }), 0);
    s = applyLive(s, event("1-3", "message.status", { message_id: "r1", conversation_id: "a", status: "read" }), 0);
    s = applyLive(s, event("1-4", "message.status", { message_id: "r1", conversation_id: "a", status: "delivered" }), 0);
    expect(s.messages.a[0].status).toBe("read");
    expect(s.last.a.status).toBe("read");
    s = applyLive(s, event("1-5", "message.status", { message_id: "r1", conversation_id: "a", status: "failed",
      error: "131047", meta_errors: [{ code: 131047, title: "Re-engagement message" }] }), 0);
    expect(s.messages.a[0]).toMatchObject({ status: "failed", error_message: "131047" });
    expect(s.messages.a[0].meta_errors?.[0].code).toBe(131047);
  });

  it("a message that failed before it was sent appears from its failure, with Meta's error", () => {
    let s = started([conv("a")]);
    s = reduce(s, { kind: "history", conversation_id: "a", messages: [msg("m1", "a")] });
    s = applyLive(s, event("1-2", "message.status", { message_id: "b1", conversation_id: "a", status: "failed",
      previous_status: "pending", error: "(131026) Message undeliverable", meta_errors: [{ code: 131026, title: "Undeliverable" }],
      message: msg("b1", "a", { direction: "outbound", sender_type: "bot", status: "failed",
        created_at: "2026-12-02T06:02:00+00:00" }) }), 0);
    expect(s.messages.a.map((m) => m.id)).toEqual(["m1", "b1"]);
    expect(s.messages.a[1]).toMatchObject({ status: "failed", error_message: "(131026) Message undeliverable" });
    expect(s.messages.a[1].meta_errors?.[0].code).toBe(131026);
    expect(s.unread.a ?? 0).toBe(0);
  });

  it("a message Meta accepted but PyTake never recorded appears from its first status, once", () => {
    let s = started([conv("a")]);
    s = reduce(s, { kind: "history", conversation_id: "a", messages: [msg("m1", "a")] });
    s = applyLive(s, event("1-2", "message.status", { message_id: "u1", conversation_id: "a", status: "delivered",
      previous_status: "pending", message: msg("u1", "a", { direction: "outbound", sender_type: "bot", status: "delivered",
        created_at: "2026-12-02T06:02:00+00:00" }) }), 0);
    expect(s.messages.a.map((m) => m.id)).toEqual(["m1", "u1"]);
    expect(s.messages.a[1]).toMatchObject({ status: "delivered", error_message: null });
    // its sender was only slow: the late message.sent folds into it and lowers nothing
    s = applyLive(s, event("1-3", "message.sent", { message: msg("u1", "a", { direction: "outbound", status: "sent",
      created_at: "2026-12-02T06:02:00+00:00" }) }), 0);
    expect(s.messages.a.map((m) => [m.id, m.status])).toEqual([["m1", "delivered"], ["u1", "delivered"]]);
  });

  it("assignment, queue and close events move conversations between Mine and Queue", () => {
    let s = started([]);
    const waiting = { conversation: { id: "q", contact_id: "k", status: "waiting_in_queue", department_id: "d-sales", assigned_agent_id: null } };
    s = applyLive(s, event("1-2", "conversation.handoff", waiting), 0);
    s = applyLive(s, event("1-3", "conversation.handoff", { conversation: { ...waiting.conversation, id: "other", department_id: "d-support" } }), 0);
    expect(lists(s)).toMatchObject({ mine: [], queue: [{ id: "q" }] });
    s = applyLive(s, event("1-4", "conversation.assigned", { conversation: { ...waiting.conversation, status: "assigned", assigned_agent_id: ME } }), 0);
    expect(lists(s).mine.map((c) => c.id)).toEqual(["q"]);
    expect(lists(s).queue).toEqual([]);
    s = applyLive(s, event("1-5", "conversation.transferred", { conversation: { ...waiting.conversation, status: "assigned", assigned_agent_id: "u-bia" } }), 0);
    expect(lists(s).mine).toEqual([]);
    s = applyLive(s, event("1-6", "conversation.assigned", { conversation: { ...waiting.conversation, status: "assigned", assigned_agent_id: ME } }), 0);
    s = applyLive(s, event("1-7", "conversation.closed", { conversation: { ...waiting.conversation, status: "resolved", assigned_agent_id: ME } }), 0);
    expect(lists(s)).toEqual({ mine: [], queue: [] });
  });

  it("an organization-wide user sees every department's queue", () => {
    let s = applyLive(emptyState, { ...ready, scope: "organization", department_ids: [] }, 0);
    s = reduce(s, { kind: "loaded", conversations: [conv("x", { status: "waiting_in_queue", assigned_to: null, department_id: "d-any" })], last: [] });
    expect(lists(s).queue.map((c) => c.id)).toEqual(["x"]);
  });

  it("typing shows for expires_in seconds and an agent's reply ends it", () => {
    let s = started([conv("a")]);
    s = applyLive(s, { type: "typing", conversation_id: "a", user_id: "u-bia", user_name: "Bia", expires_in: 5 }, 1000);
    expect(typingNames(s, "a", 5999)).toEqual(["Bia"]);
    expect(typingNames(s, "a", 6001)).toEqual([]);
    s = applyLive(s, event("1-2", "message.sent", { message: msg("r", "a", { direction: "outbound", sender_type: "agent", status: "sent" }) }), 2000);
    expect(typingNames(s, "a", 2001)).toEqual([]);
  });

  it("history loaded after live messages keeps them, without duplicates", () => {
    let s = started([conv("a")]);
    s = reduce(s, { kind: "history", conversation_id: "a", messages: [] });
    s = applyLive(s, event("1-2", "message.received", { message: msg("m2", "a", { created_at: "2026-12-02T06:02:00+00:00" }) }), 0);
    s = reduce(s, { kind: "history", conversation_id: "a", messages: [msg("m2", "a", { created_at: "2026-12-02T06:02:00+00:00" }), msg("m1", "a")] });
    expect(s.messages.a.map((m) => m.id)).toEqual(["m1", "m2"]);
  });
});

describe("quick replies", () => {
  const replies = [
    { id: "1", shortcut: "/preco", title: "Preço", content: "A pizza grande custa R$ 59." },
    { id: "2", shortcut: "prazo", title: "Prazo", content: "Entregamos em 40 minutos." },
    { id: "3", shortcut: "/precos-todos", title: "Todos", content: "Veja o cardápio." },
  ];

  it("`/` followed by letters at the end of the text lists the matching shortcuts", () => {
    expect(shortcutQuery("oi")).toBeNull();
    expect(shortcutQuery("/")).toBe("");
    expect(shortcutQuery("Olá! /Pr")).toBe("pr");
    expect(shortcutQuery("http://x")).toBeNull();
    expect(matchingQuickReplies("/", replies)).toHaveLength(3);
    expect(matchingQuickReplies("/pre", replies).map((r) => r.id)).toEqual(["1", "3"]);
    expect(matchingQuickReplies("/precos", replies).map((r) => r.id)).toEqual(["3"]);
    expect(matchingQuickReplies("/zzz", replies)).toEqual([]);
  });

  it("picking one replaces the typed shortcut; an exact shortcut is expanded on send", () => {
    expect(expandQuickReply("Olá! /pr", replies[1])).toBe("Olá! Entregamos em 40 minutos.");
    expect(expandOnSend("/preco", replies)).toBe("A pizza grande custa R$ 59.");
    expect(expandOnSend("/pre", replies)).toBe("/pre");
    expect(expandOnSend("sem atalho", replies)).toBe("sem atalho");
  });
});

it("throttle runs at most once per interval", () => {
  let now = 0;
  const calls: number[] = [];
  const t = throttle((n: number) => calls.push(n), 2000, () => now);
  t(1); now = 500; t(2); now = 2000; t(3); now = 3999; t(4);
  expect(calls).toEqual([1, 3]);
});

it("Meta's error reads as its title and details, its code once", () => {
  const failed = msg("f", "a", { status: "failed", error_message: "send refused" });
  expect(failureText(failed)).toBe("send refused");
  expect(failureText({ ...failed, meta_errors: [{ code: 131047, title: "(#131047) Re-engagement message" }] }))
    .toBe("(#131047) Re-engagement message");
  expect(failureText({ ...failed, meta_errors: [{ code: 131026, title: "Message undeliverable", error_data: { details: "not on WhatsApp" } }] }))
    .toBe("Message undeliverable: not on WhatsApp (131026)");
});

it("a file sent by URL is shown from its address only when it is http(s) and no stored file exists", () => {
  const sent = (content: unknown, extra: Partial<Message> = {}) =>
    msg("m", "a", { direction: "outbound", sender_type: "bot", type: "image", content, ...extra });
  expect(mediaLink(sent({ media_url: "https://cdn.example/menu.png", caption: "Menu" }))).toBe("https://cdn.example/menu.png");
  expect(mediaLink(sent({ link: "http://cdn.example/a b.png" }))).toBe("http://cdn.example/a%20b.png");
  for (const address of ["javascript:alert(1)", " JavaScript:alert(1)", "data:image/png;base64,iVBO", "/auth/me",
    "//cdn.example/menu.png", "ftp://cdn.example/menu.png", "", 42]) {
    expect(mediaLink(sent({ media_url: address }))).toBeNull();
  }
  expect(mediaLink(sent({ media_id: "4490709327384033" }))).toBeNull();  // uploaded: fetched with the token
  expect(mediaLink(sent({ media_url: "https://cdn.example/menu.png" }, { media: { status: "stored", url: "/x" } }))).toBeNull();
  expect(mediaLink(sent({ media_url: "https://cdn.example/menu.png" }, { direction: "inbound" }))).toBeNull();
});

it("a customer's message opens the 24-hour window; without one only templates go", () => {
  let s = started([conv("a")]);
  const at = Date.parse("2026-12-02T06:00:00+00:00");
  expect(windowClosed(s.conversations.a, at)).toBe(true);
  s = applyLive(s, event("1-2", "message.received", { message: msg("m", "a") }), 0);
  expect(windowClosed(s.conversations.a, at + 3600_000)).toBe(false);
  expect(windowClosed(s.conversations.a, at + 24 * 3600_000)).toBe(true);
});

describe("what the composer sends", () => {
  const hello = { id: "q1", shortcut: "/ola", title: "Olá", content: "Olá {{contact.first_name}}, como posso ajudar?" };
  const price = { id: "q2", shortcut: "preco", title: "Preço", content: "R$ 59,90." };
  const replies = [hello, price];

  it("sends a quick reply as it was saved as a quick reply: the API fills its variables", () => {
    expect(outgoing(hello.content, hello, replies)).toEqual({ type: "quick_reply", shortcut: "/ola" });
    expect(outgoing("/OLA ", null, replies)).toEqual({ type: "quick_reply", shortcut: "/ola" });
    expect(outgoing("/preco", null, replies)).toEqual({ type: "quick_reply", shortcut: "preco" });
  });

  it("never sends a quick reply's variable raw", () => {
    expect(outgoing("Oi! Olá {{contact.first_name}}, como posso ajudar?", hello, replies))
      .toEqual({ type: "unfilled", names: ["contact.first_name"] });
    expect(outgoing("Oi! /ola", null, replies)).toEqual({ type: "unfilled", names: ["contact.first_name"] });
  });

  it("sends text, an edited quick reply with its variables filled in, or one with none", () => {
    expect(outgoing("Olá Maria, como posso ajudar?", hello, replies)).toEqual({ type: "text", text: "Olá Maria, como posso ajudar?" });
    expect(outgoing("Oi! /preco", null, replies)).toEqual({ type: "text", text: "Oi! R$ 59,90." });
    expect(outgoing("  {{não é variável}} ", null, replies)).toEqual({ type: "text", text: "{{não é variável}}" });
  });
});

describe("places and a template's parts", () => {
  it("reads a customer's shared location, and refuses coordinates out of range or missing", () => {
    const shared = msg("l1", "c1", { type: "location", content: { latitude: -8.05, longitude: -34.9, name: "Casa", address: " " } });
    expect(placeOf(shared)).toEqual({ latitude: -8.05, longitude: -34.9, name: "Casa", address: undefined });
    expect(messageText(shared)).toBe("[location] Casa");
    expect(mapLink(placeOf(shared)!)).toBe("https://www.openstreetmap.org/?mlat=-8.05&mlon=-34.9#map=16/-8.05/-34.9");
    for (const content of [{ latitude: 91, longitude: 0 }, { latitude: "x", longitude: 0 }, { latitude: null, longitude: 1 },
      { longitude: 1 }, null, { latitude: " ", longitude: 1 }, { latitude: [], longitude: 1 }, { latitude: true, longitude: 1 },
      { latitude: "0x10", longitude: 1 }, { latitude: Infinity, longitude: 1 }]) {
      const bad = msg("l2", "c1", { type: "location", content });
      expect(placeOf(bad)).toBeNull();
      expect(messageText(bad)).toBe("[location]");
    }
    expect(messageText(msg("l3", "c1", { type: "location", content: { latitude: 1, longitude: 2 } }))).toBe("[location] 1, 2");
    expect(placeOf(msg("l4", "c1", { type: "location", content: { latitude: " -8.05", longitude: "-34.9" } })))
      .toEqual({ latitude: -8.05, longitude: -34.9, name: undefined, address: undefined });
  });

  it("shows a template's header, footer and buttons as sent, and never a link that is not http(s)", () => {
    const template = (shown: unknown) => msg("t1", "c1", { type: "template", direction: "outbound",
      content: { text: "Olá", template: { name: "x" }, shown } });
    expect(templateShown(template({ header: "Pedido A-1", footer: "Loja", buttons: ["Parar", 3, ""] }))).toEqual({
      header: "Pedido A-1", header_media: undefined, header_location: undefined, footer: "Loja", buttons: ["Parar"] });
    expect(templateShown(template({ header_media: { type: "image", link: "javascript:alert(1)" } })).header_media).toBeUndefined();
    expect(templateShown(template({ header_media: { type: "image", link: "https://cdn.example/a.jpg" } })).header_media)
      .toEqual({ type: "image", link: "https://cdn.example/a.jpg" });
    const located = template({ header_location: { latitude: -8.06, longitude: -34.87, name: "Loja Recife" } });
    expect(placeOf(located)?.name).toBe("Loja Recife");
    expect(templateShown(template(undefined))).toEqual({});
    expect(templateShown(msg("t2", "c1", { type: "text", content: { shown: { header: "x" } } }))).toEqual({});
  });
});
