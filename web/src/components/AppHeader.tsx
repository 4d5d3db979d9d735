import type { ReactNode } from "react";
import { logout } from "../api/client";
import { can, useMe } from "../api/me";
import { LanguageSwitch, useI18n } from "../i18n";
import { Link, navigate, usePath } from "../router";

/** The bar on top of every signed-in page: the sections (Inbox, Flows, Templates, Campaigns, Analytics, and
 *  Logs for those who may read the API request log: admins), or a page's own breadcrumb. */
export function AppHeader({ children }: { children?: ReactNode }) {
  const { t } = useI18n();
  const path = usePath();
  const me = useMe();
  const here = (prefix: string) => (path.startsWith(prefix) ? "nav-link active" : "nav-link");
  return (
    <header className="app-header" data-role={me?.user.role}>
      <Link to="/app/flows" className="brand"><span className="brand-mark">P</span>{t("app.name")}</Link>
      {/* the editor puts its breadcrumb here instead of the sections */}
      {!children && <nav className="app-nav" aria-label={t("app.name")}>
        <Link to="/app/inbox" className={here("/app/inbox")}>{t("nav.inbox")}</Link>
        <Link to="/app/flows" className={here("/app/flows")}>{t("nav.flows")}</Link>
        <Link to="/app/templates" className={here("/app/templates")}>{t("nav.templates")}</Link>
        <Link to="/app/campaigns" className={here("/app/campaigns")}>{t("nav.campaigns")}</Link>
        <Link to="/app/analytics" className={here("/app/analytics")}>{t("nav.analytics")}</Link>
        {can(me, "audit_logs:read") && <Link to="/app/logs" className={here("/app/logs")}>{t("nav.logs")}</Link>}
      </nav>}
      <div className="header-middle">{children}</div>
      <LanguageSwitch />
      <button type="button" className="ghost" onClick={async () => { await logout(); navigate("/app/login", true); }}>
        {t("auth.logout")}
      </button>
    </header>
  );
}
