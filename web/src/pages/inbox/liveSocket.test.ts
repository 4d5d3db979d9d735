// The reconnection rules of docs/live.md, with the browser's WebSocket played by a small fake.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

class FakeSocket {
  static OPEN = 1;
  static all: FakeSocket[] = [];
  readyState = 1;
  sent: string[] = [];
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  constructor(public url: string) { FakeSocket.all.push(this); }
  send(data: string) { this.sent.push(data); }
  close() { this.readyState = 3; }
  receive(message: object) { this.onmessage?.({ data: JSON.stringify(message) }); }
  drop(code: number) { this.readyState = 3; this.onclose?.({ code }); }
}

const after = (s: FakeSocket) => new URL(s.url).searchParams.get("after");

beforeEach(() => {
  FakeSocket.all = [];
  const store = new Map<string, string>();
  vi.stubGlobal("WebSocket", FakeSocket);
  vi.stubGlobal("location", { protocol: "http:", host: "inbox.test" });
  vi.stubGlobal("localStorage", { getItem: (k: string) => store.get(k) ?? null,
    setItem: (k: string, v: string) => store.set(k, v), removeItem: (k: string) => store.delete(k) });
  vi.useFakeTimers();
});
afterEach(() => { vi.useRealTimers(); vi.unstubAllGlobals(); vi.resetModules(); });

async function start() {
  const { setTokens } = await import("../../api/client");
  setTokens({ access_token: "tok", refresh_token: "ref" });
  const { connectLive } = await import("./liveSocket");
  const fresh: string[] = [];
  const seen: string[] = [];
  const live = connectLive({ onMessage: (m) => seen.push(m.type), onFresh: (u) => fresh.push(u), onState: () => undefined });
  return { live, fresh, seen };
}

describe("the live socket", () => {
  it("connects with the token, loads over HTTP after the first ready, and reconnects with the last cursor", async () => {
    const { live, fresh, seen } = await start();
    const first = FakeSocket.all[0];
    expect(first.url).toBe("ws://inbox.test/live?access_token=tok");
    first.receive({ type: "ready", cursor: "10-1", user_id: "u1" });
    first.receive({ type: "event", cursor: "11-2", event: { type: "message.received", data: {} } });
    first.receive({ type: "typing", conversation_id: "c", user_id: "u2", user_name: "Bia", expires_in: 5 });
    expect(fresh).toEqual(["u1"]);
    expect(seen).toEqual(["ready", "event", "typing"]);
    first.drop(1012);  // the server lost its pub/sub: the replay fills the hole
    await vi.runOnlyPendingTimersAsync();
    expect(FakeSocket.all).toHaveLength(2);
    expect(after(FakeSocket.all[1])).toBe("11-2");
    FakeSocket.all[1].receive({ type: "ready", cursor: "11-2", user_id: "u1" });
    expect(fresh).toEqual(["u1"]);  // a resumed socket does not reload
    live.send({ type: "typing", conversation_id: "c" });
    expect(FakeSocket.all[1].sent).toEqual([JSON.stringify({ type: "typing", conversation_id: "c" })]);
    live.close();
  });

  it("a cursor too old reconnects without one (and reloads); a deactivated account stops", async () => {
    const { live, fresh } = await start();
    FakeSocket.all[0].receive({ type: "ready", cursor: "10-1", user_id: "u1" });
    FakeSocket.all[0].drop(4409);
    await vi.runOnlyPendingTimersAsync();
    expect(after(FakeSocket.all[1])).toBeNull();
    FakeSocket.all[1].receive({ type: "ready", cursor: "20-1", user_id: "u1" });
    expect(fresh).toEqual(["u1", "u1"]);
    FakeSocket.all[1].drop(4403);
    await vi.runOnlyPendingTimersAsync();
    expect(FakeSocket.all).toHaveLength(2);
    live.close();
  });
});
