import { useEffect, useState } from "react";
import { api } from "../../api/client";

/** The organization's timezone (`settings.timezone`, an IANA name; UTC when unset or unknown to the browser). */
export function useOrgTimezone(): string {
  const [zone, setZone] = useState("UTC");
  useEffect(() => {
    api<{ settings?: { timezone?: string } }>("GET", "/organization").then((org) => {
      const name = org.settings?.timezone;
      if (!name) return;
      try {
        new Intl.DateTimeFormat("en", { timeZone: name });
        setZone(name);
      } catch { /* a name this browser does not know: UTC */ }
    }).catch(() => undefined);
  }, []);
  return zone;
}
