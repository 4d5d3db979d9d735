// One WebSocket to GET /live (docs/live.md): the access token in the query,
// reconnecting with `after` = the last cursor so nothing is missed.
import { api, getTokens, logout } from "../../api/client";
import type { LiveMessage } from "./inboxModel";

export type LiveHandlers = {
  onMessage: (message: LiveMessage) => void;
  /** the socket (re)connected without a cursor: load the state over HTTP again */
  onFresh: (userId: string) => void;
  onState: (connected: boolean) => void;
};

export type LiveConnection = { send: (message: object) => void; close: () => void };

export function connectLive(handlers: LiveHandlers): LiveConnection {
  let socket: WebSocket | null = null;
  let cursor: string | null = null;
  let closed = false;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const open = () => {
    const token = getTokens()?.access_token;
    if (!token || closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = new URLSearchParams({ access_token: token });
    if (cursor) query.set("after", cursor);
    const fresh = !cursor;
    socket = new WebSocket(`${scheme}://${location.host}/live?${query}`);
    socket.onmessage = (e) => {
      const message = JSON.parse(e.data as string) as LiveMessage;
      const at = (message as { cursor?: unknown }).cursor;
      if (typeof at === "string") cursor = at;
      if (message.type === "ready") {
        attempt = 0;
        handlers.onState(true);
        handlers.onMessage(message);
        if (fresh) handlers.onFresh(String(message.user_id));
        return;
      }
      handlers.onMessage(message);
    };
    socket.onclose = async (e) => {
      handlers.onState(false);
      if (closed) return;
      if (e.code === 4403) return void logout();
      if (e.code === 4400 || e.code === 4409) cursor = null;  // reload over HTTP, no replay
      if (e.code === 4401) {  // a call refreshes the token (or signs out)
        await api("GET", "/auth/me").catch(() => undefined);
      }
      attempt += 1;
      timer = setTimeout(open, Math.min(10_000, 250 * 2 ** Math.min(attempt, 6)));
    };
  };
  open();
  return {
    send: (message) => {
      if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    },
    close: () => {
      closed = true;
      clearTimeout(timer);
      socket?.close();
    },
  };
}
