import { useState, type FormEvent } from "react";
import { api, ApiError, setTokens, type Tokens, errorText } from "../../api/client";
import { AuthLayout, TextField } from "../../components/AuthLayout";
import { useI18n } from "../../i18n";
import { Link, navigate } from "../../router";

export function SignupPage() {
  const { t } = useI18n();
  const [form, setForm] = useState({ organization_name: "", full_name: "", email: "", password: "" });
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (key: keyof typeof form) => (value: string) => setForm({ ...form, [key]: value });
  const labels: Record<string, string> = { organization_name: t("auth.organization"), full_name: t("auth.fullName"),
    email: t("auth.email"), password: t("auth.password") };

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setTokens(await api<Tokens>("POST", "/auth/signup", form));
      navigate("/app/flows", true);
    } catch (err) {
      setError(err instanceof ApiError ? fieldError(err, labels) : errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title={t("auth.signupTitle")}>
      <form onSubmit={submit} className="stack">
        <TextField label={t("auth.organization")} value={form.organization_name} onChange={set("organization_name")}
          autoComplete="organization" />
        <TextField label={t("auth.fullName")} value={form.full_name} onChange={set("full_name")} autoComplete="name" />
        <TextField label={t("auth.email")} type="email" value={form.email} onChange={set("email")} autoComplete="email" />
        <TextField label={t("auth.password")} type="password" value={form.password} onChange={set("password")}
          autoComplete="new-password" hint={t("auth.passwordHint")} />
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>{t("auth.signup")}</button>
      </form>
      <p className="muted">{t("auth.haveAccount")} <Link to="/app/login">{t("auth.login")}</Link></p>
    </AuthLayout>
  );
}

/** The API's refusal as the person reads it: the field's label, then the API's words (a 422's message
 *  already starts with the field's key, `password: String should have…`: said once, not twice). */
function fieldError(err: ApiError, labels: Record<string, string>): string {
  if (!err.field) return err.message;
  const prefix = `${err.field}: `;
  const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return `${labels[err.field] ?? err.field}: ${message}`;
}
