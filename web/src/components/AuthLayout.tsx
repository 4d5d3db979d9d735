import type { ReactNode } from "react";
import { LanguageSwitch, useI18n } from "../i18n";

/** The centred card of the login and signup pages. */
export function AuthLayout({ title, children }: { title: string; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="auth-page">
      <div className="auth-top"><LanguageSwitch /></div>
      <main className="auth-card">
        <div className="brand"><span className="brand-mark">P</span>{t("app.name")}</div>
        <p className="muted">{t("app.tagline")}</p>
        <h1>{title}</h1>
        {children}
      </main>
    </div>
  );
}

/** A labelled input: the label names the field for people and for tests. */
export function TextField(props: {
  label: string; value: string; onChange: (v: string) => void;
  type?: string; autoComplete?: string; hint?: string; required?: boolean;
}) {
  return (
    <label className="field">
      <span className="field-label">{props.label}</span>
      <input
        type={props.type ?? "text"} value={props.value} required={props.required ?? true}
        autoComplete={props.autoComplete} onChange={(e) => props.onChange(e.target.value)}
      />
      {props.hint && <span className="field-help">{props.hint}</span>}
    </label>
  );
}
