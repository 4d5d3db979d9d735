// The API on this origin: JSON in and out, the bearer token attached, one
// refresh (single-use refresh token) and retry when the access token expired.
// The tabs of the app share one token pair (localStorage): a tab follows the
// pair another stored (a refresh, a sign-in or out) and never spends a refresh
// token another tab has already spent. Two tabs that refresh at the same moment
// both get a pair: the server's rotation grace (api/auth/refresh.py).

export type Tokens = { access_token: string; refresh_token: string };
export type ApiErrorBody = { error?: { code?: string; message?: string; field?: string } };

const STORAGE_KEY = "pytake.tokens";
let tokens: Tokens | null = load();
const listeners = new Set<() => void>();

function load(): Tokens | null {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    return raw ? (JSON.parse(raw) as Tokens) : null;
  } catch {
    return null;
  }
}

export function getTokens(): Tokens | null {
  return tokens;
}

export function setTokens(next: Tokens | null): void {
  tokens = next;
  if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  else localStorage.removeItem(STORAGE_KEY);
  listeners.forEach((l) => l());
}

// another tab stored new tokens, or signed out: this tab follows
if (typeof window !== "undefined") {
  window.addEventListener("storage", (e) => {
    if (e.key === STORAGE_KEY || e.key === null) adopt(load());
  });
}

export function onTokens(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public field?: string,
    public body?: unknown,
  ) {
    super(message);
  }
}

let refreshing: Promise<boolean> | null = null;

// a refused refresh that means the token is no good: sign out (anything else, a 429 or a 5xx, keeps it)
const REFUSED = new Set(["refresh_token_reused", "session_ended", "refresh_token_expired", "invalid_refresh_token"]);

async function refresh(): Promise<boolean> {
  const spent = tokens;
  if (!spent) return false;
  const stored = load();
  if (stored?.refresh_token !== spent.refresh_token) return adopt(stored);  // another tab refreshed, or signed out
  const response = await fetch("/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: spent.refresh_token }),
  });
  if (!response.ok) {
    const code = ((await response.json().catch(() => ({}))) as ApiErrorBody).error?.code ?? "";
    const now = load();
    if (now && now.refresh_token !== spent.refresh_token) return adopt(now);  // another tab's pair is still good
    if (response.status === 401 && REFUSED.has(code)) setTokens(null);
    return false;
  }
  const body = (await response.json()) as Tokens;
  return store(spent, { access_token: body.access_token, refresh_token: body.refresh_token });
}

/** Keep the pair a refresh of ``spent`` got, unless meanwhile another tab stored one (its own
 *  refresh of the same token, another sign-in) or signed out: that stands, and this pair, which
 *  nobody will hold, is ended. One tab at a time (a Web Lock; where there is none, outside a
 *  secure context, two tabs may both store, the last one's pair is held and the other's lives on
 *  unheld until it expires). */
async function store(spent: Tokens, fresh: Tokens): Promise<boolean> {
  const decide = (): boolean => {
    const now = load();
    if (now?.refresh_token !== spent.refresh_token) {
      void revoke(fresh);
      return adopt(now);
    }
    setTokens(fresh);
    return true;
  };
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  return locks ? locks.request("pytake.tokens", decide) : decide();
}

function revoke(pair: Tokens): Promise<Response | void> {
  return fetch("/auth/logout", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${pair.access_token}` },
    body: JSON.stringify({ refresh_token: pair.refresh_token }),
  }).catch(() => undefined);
}

/** After a 401 to a request sent with ``sent``: whether to send it again, with a pair another
 *  tab stored since, or one refreshed now (one refresh for all of this tab's requests). */
async function renewed(sent: Tokens | null): Promise<boolean> {
  if (tokens && tokens !== sent) return true;
  refreshing ??= refresh().finally(() => (refreshing = null));
  return refreshing;
}

/** Take the pair another tab stored (none: it signed out). */
function adopt(stored: Tokens | null): boolean {
  tokens = stored;
  listeners.forEach((l) => l());
  return stored !== null;
}

export async function api<T>(method: string, path: string, body?: unknown, retry = true): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const sent = tokens;
  if (sent) headers.Authorization = `Bearer ${sent.access_token}`;
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401 && retry && sent && await renewed(sent)) return api<T>(method, path, body, false);
  if (response.status === 204) return undefined as T;
  const payload = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = (payload as ApiErrorBody).error ?? {};
    throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText,
      error.field, payload);
  }
  return payload as T;
}

/** Sign out: the pair is ended at the server (the one held after a refresh its expired access
 *  token needed, not the one spent by it), then forgotten by every tab. */
export async function logout(): Promise<void> {
  const first = tokens;
  if (first) {
    const response = await revoke(first);
    if (response?.status === 401 && await renewed(first).catch(() => false) && tokens) await revoke(tokens);
  }
  setTokens(null);
}

/** The fields an API refusal names: its 422's `details`, else its one `field`. */
export function problemsOf(err: ApiError): { field: string; message: string }[] {
  const details = ((err.body as { error?: { details?: { field: string; message: string }[] } })?.error?.details) ?? [];
  return details.length ? details : err.field ? [{ field: err.field, message: err.message }] : [];
}

/** A multipart upload (field `file`) with its progress (0..1), the token attached and refreshed once
 *  on a 401 like `api`; a refusal is an ApiError with the API's message and field. */
export async function upload<T>(path: string, file: File, onProgress: (fraction: number) => void,
  retry = true): Promise<T> {
  const form = new FormData();
  form.append("file", file, file.name);
  const sent = tokens;
  const { status, text, statusText } = await new Promise<{ status: number; text: string; statusText: string }>(
    (resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.setRequestHeader("Accept", "application/json");
      if (sent) xhr.setRequestHeader("Authorization", `Bearer ${sent.access_token}`);
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText, statusText: xhr.statusText });
      xhr.onerror = () => reject(new ApiError(0, "network", "the upload did not reach the server"));
      xhr.send(form);
    });
  if (status === 401 && retry && sent && await renewed(sent)) return upload<T>(path, file, onProgress, false);
  let payload: unknown = {};
  try { payload = JSON.parse(text); } catch { /* not JSON: a proxy's or the server's size limit */ }
  if (status < 200 || status >= 300) {
    const error = (payload as ApiErrorBody).error ?? {};
    throw new ApiError(status, error.code ?? "error", error.message ?? (statusText || `HTTP ${status}`), error.field,
      payload);
  }
  return payload as T;
}

/** A file the API serves behind the bearer token (a message's media), as an object URL for the page. */
export async function fetchBlobUrl(path: string, retry = true): Promise<string> {
  const sent = tokens;
  const response = await fetch(path, { headers: sent ? { Authorization: `Bearer ${sent.access_token}` } : {} });
  if (response.status === 401 && retry && sent && await renewed(sent)) return fetchBlobUrl(path, false);
  if (!response.ok) {
    const payload = await response.json().catch(() => ({}));
    const error = (payload as ApiErrorBody).error ?? {};
    throw new ApiError(response.status, error.code ?? "error", error.message ?? response.statusText, error.field, payload);
  }
  return URL.createObjectURL(await response.blob());
}

/** What to show of a thrown value: an Error's message ("Failed to fetch", the API's words), never
 *  String(err)'s "TypeError: Failed to fetch" or "Error: ..." prefix. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
