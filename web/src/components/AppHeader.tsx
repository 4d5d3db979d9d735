import type { ReactNode } from "react";
import { logout } from "../api/client";
import { LanguageSwitch, useI18n } from "../i18n";
import { Link, navigate } from "../router";

/** The bar on top of every signed-in page. */
export function AppHeader({ children }: { children?: ReactNode }) {
  const { t } = useI18n();
  return (
    <header className="app-header">
      <Link to="/app/flows" className="brand"><span className="brand-mark">P</span>{t("app.name")}</Link>
      <div className="header-middle">{children}</div>
      <LanguageSwitch />
      <button type="button" className="ghost" onClick={async () => { await logout(); navigate("/app/login", true); }}>
        {t("auth.logout")}
      </button>
    </header>
  );
}
