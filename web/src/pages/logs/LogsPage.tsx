import { useState } from "react";
import { can, useMe } from "../../api/me";
import { AppHeader } from "../../components/AppHeader";
import { useI18n } from "../../i18n";
import { MessageLogs } from "./MessageLogs";
import { RequestLogs } from "./RequestLogs";

/** The log store, read-only: message logs (search, status timeline) for whoever may read messages, and
 *  the API request log for those who may read the audit trail (admins; the header's Logs entry is theirs). */
export function LogsPage() {
  const { t } = useI18n();
  const me = useMe();
  const [tab, setTab] = useState<"messages" | "requests">("messages");
  const admin = can(me, "audit_logs:read");
  const shown = admin ? tab : "messages";
  return (
    <div className="page">
      <AppHeader />
      <main className="content wide logs-page">
        <div className="card-head">
          <h1>{t("logs.title")}</h1>
        </div>
        {admin && (
          <div role="tablist" className="page-tabs" aria-label={t("logs.title")}>
            <button type="button" role="tab" aria-selected={shown === "messages"} className={shown === "messages" ? "active" : ""}
              onClick={() => setTab("messages")}>{t("logs.messages")}</button>
            <button type="button" role="tab" aria-selected={shown === "requests"} className={shown === "requests" ? "active" : ""}
              onClick={() => setTab("requests")}>{t("logs.requests")}</button>
          </div>
        )}
        {me === undefined ? <p className="muted">{t("common.loading")}</p>
          : shown === "messages" ? <MessageLogs /> : <RequestLogs />}
      </main>
    </div>
  );
}
