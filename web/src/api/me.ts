// Who is signed in (GET /auth/me): their user, organization and the permissions their role holds
// (docs/permissions.md). Asked once per sign-in; pages use it to leave out what the role cannot use.
import { useEffect, useState } from "react";
import { api, getTokens, onTokens } from "./client";

export type Me = {
  user: { id: string; full_name: string; email: string; role: string };
  organization: { id: string; name: string };
  permissions: string[];
};

let cached: { refresh: string; me: Promise<Me> } | null = null;
onTokens(() => { if (getTokens()?.refresh_token !== cached?.refresh) cached = null; });

export function loadMe(): Promise<Me> {
  const refresh = getTokens()?.refresh_token ?? "";
  if (!cached || cached.refresh !== refresh) {
    const me = api<Me>("GET", "/auth/me");
    cached = { refresh, me };
    me.catch(() => { if (cached?.me === me) cached = null; });
  }
  return cached.me;
}

const RETRY_FIRST_MS = 1000;
const RETRY_MOST_MS = 30000;

/** The signed-in person; undefined until known, null while it could not be read. A failed read is
 *  tried again (after 1 s, doubling up to 30 s, and at once when the browser is back online): a
 *  network blip kept the page without its controls until a reload. */
export function useMe(): Me | null | undefined {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let delay = RETRY_FIRST_MS;
    const attempt = () => {
      timer = undefined;
      loadMe().then((m) => { if (live) setMe(m); }).catch(() => {
        if (!live) return;
        setMe(null);
        timer = setTimeout(attempt, delay);
        delay = Math.min(delay * 2, RETRY_MOST_MS);
      });
    };
    const online = () => { if (timer !== undefined) { clearTimeout(timer); attempt(); } };
    window.addEventListener("online", online);
    attempt();
    return () => { live = false; clearTimeout(timer); window.removeEventListener("online", online); };
  }, []);
  return me;
}

/** Whether the role is known to hold `permission` (e.g. `audit_logs:read`): the test for showing a control
 *  that needs it. False while /auth/me has not answered (and when it could not be read), so a role that
 *  lacks it never sees the control for a moment before it goes. */
export function can(me: Me | null | undefined, permission: string): boolean {
  return me?.permissions.includes(permission) ?? false;
}

/** Whether the role is known not to hold `permission`: the test for showing a note in place of the
 *  controls ("View only"). False while unknown, so a role that holds it never sees the note flash either;
 *  until /auth/me answers a page shows neither. */
export function lacks(me: Me | null | undefined, permission: string): boolean {
  return !!me && !me.permissions.includes(permission);
}
