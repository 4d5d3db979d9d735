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

/** The signed-in person; undefined until known, null when it could not be read. */
export function useMe(): Me | null | undefined {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    loadMe().then((m) => { if (live) setMe(m); }).catch(() => { if (live) setMe(null); });
    return () => { live = false; };
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
