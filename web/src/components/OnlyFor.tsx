import type { ReactNode } from "react";
import { can, useMe } from "../api/me";
import { useI18n } from "../i18n";
import { Link } from "../router";
import { AppHeader } from "./AppHeader";

/** A page for the roles holding `permission`, such as a form creating what only they may create: its
 *  content for them; for a role without it who typed the address in (the app links to the page only for
 *  those who may), a plain note instead of a form the API would refuse (403). "Loading…" until /auth/me
 *  answers, so that neither shows for a moment and then goes; a plain "could not read your role" when it
 *  could not be read (neither the form nor a refusal would be true then). */
export function OnlyFor({ permission, section, title, refusal, children }: {
  permission: string; section: { to: string; label: string }; title: string; refusal: string; children: ReactNode;
}) {
  const { t } = useI18n();
  const me = useMe();
  if (can(me, permission)) return <>{children}</>;
  return (
    <div className="page">
      <AppHeader />
      <main className="content wide">
        <div className="breadcrumb"><Link to={section.to}>{section.label}</Link><span className="muted">/</span>
          <span>{title}</span></div>
        <section className="card stack">
          <h1>{title}</h1>
          {me === undefined ? <p className="muted">{t("common.loading")}</p>
            : me === null ? <p role="alert" className="error">{t("common.roleUnknown")}</p>
              : <p role="note">{refusal}</p>}
        </section>
      </main>
    </div>
  );
}
