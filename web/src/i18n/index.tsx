// The UI language: English or Brazilian Portuguese, from the browser unless
// the person picked one (kept in localStorage).
import { createContext, useContext, useState, type ReactNode } from "react";
import { en, ptBR, type MessageKey } from "./messages";

export type Lang = "en" | "pt-BR";
const DICTIONARIES: Record<Lang, Record<MessageKey, string>> = { en, "pt-BR": ptBR };
const STORAGE_KEY = "pytake.lang";

export function browserLang(languages: readonly string[]): Lang {
  for (const l of languages) {
    if (l.toLowerCase().startsWith("pt")) return "pt-BR";
    if (l.toLowerCase().startsWith("en")) return "en";
  }
  return "en";
}

function initialLang(): Lang {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (saved === "en" || saved === "pt-BR") return saved;
  return browserLang(navigator.languages ?? [navigator.language]);
}

export type Translate = (key: MessageKey, values?: Record<string, string | number>) => string;

export function translate(lang: Lang, key: MessageKey, values?: Record<string, string | number>): string {
  let text: string = DICTIONARIES[lang][key] ?? en[key] ?? key;
  for (const [name, value] of Object.entries(values ?? {})) text = text.replace(`{${name}}`, String(value));
  return text;
}

type I18n = { lang: Lang; setLang: (l: Lang) => void; t: Translate };
const I18nContext = createContext<I18n | null>(null);

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = (l: Lang) => {
    localStorage.setItem(STORAGE_KEY, l);
    document.documentElement.lang = l;
    setLangState(l);
  };
  const t: Translate = (key, values) => translate(lang, key, values);
  return <I18nContext.Provider value={{ lang, setLang, t }}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const value = useContext(I18nContext);
  if (!value) throw new Error("useI18n outside I18nProvider");
  return value;
}

export function LanguageSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <label className="lang-switch">
      <span className="visually-hidden">{t("lang.label")}</span>
      <select aria-label={t("lang.label")} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
        <option value="en">English</option>
        <option value="pt-BR">Português (Brasil)</option>
      </select>
    </label>
  );
}
