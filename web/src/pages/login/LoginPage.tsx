import { useState, type FormEvent } from "react";
import { api, setTokens, type Tokens, errorText } from "../../api/client";
import { AuthLayout, TextField } from "../../components/AuthLayout";
import { useI18n } from "../../i18n";
import { Link, navigate } from "../../router";

export function LoginPage() {
  const { t } = useI18n();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      setTokens(await api<Tokens>("POST", "/auth/login", { email, password }));
      navigate("/app/flows", true);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthLayout title={t("auth.loginTitle")}>
      <form onSubmit={submit} className="stack">
        <TextField label={t("auth.email")} type="email" value={email} onChange={setEmail} autoComplete="email" />
        <TextField label={t("auth.password")} type="password" value={password} onChange={setPassword}
          autoComplete="current-password" />
        {error && <p role="alert" className="error">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>{t("auth.login")}</button>
      </form>
      <p className="muted">{t("auth.noAccount")} <Link to="/app/signup">{t("auth.signup")}</Link></p>
    </AuthLayout>
  );
}
