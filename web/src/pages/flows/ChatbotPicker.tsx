import { useState, type FormEvent } from "react";
import type { Chatbot } from "../../api/types";
import { useI18n } from "../../i18n";
import { errorText } from "../../api/client";

/** Which chatbot's flows are shown; creating one (the first when there is none), unless `onCreate` is
 *  left out (a role that may not create chatbots). A name the API refuses (`onCreate` rejects) stays in
 *  the field with the reason under it. */
export function ChatbotPicker(props: {
  chatbots: Chatbot[]; value: string | null; onChange: (id: string) => void; onCreate?: (name: string) => Promise<void>;
}) {
  const { t } = useI18n();
  const [name, setName] = useState("");
  const [problem, setProblem] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim() || !props.onCreate) return;
    setBusy(true);
    try {
      await props.onCreate(name.trim());
      setName("");
      setProblem("");
    } catch (err) {
      setProblem(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card">
      {props.chatbots.length === 0 && <p>{t(props.onCreate ? "flows.noChatbot" : "flows.noChatbotReadOnly")}</p>}
      <div className="row">
        {props.chatbots.length > 0 && (
          <label className="field">
            <span className="field-label">{t("flows.chatbot")}</span>
            <select value={props.value ?? ""} onChange={(e) => props.onChange(e.target.value)}>
              {props.chatbots.map((c) => <option key={c.id} value={c.id}>{c.name}</option>)}
            </select>
          </label>
        )}
        {props.onCreate && <form className="row grow" onSubmit={submit}>
          <label className={`field grow ${problem ? "invalid" : ""}`}>
            <span className="field-label">{t("flows.chatbotName")}</span>
            <input value={name} onChange={(e) => setName(e.target.value)}
              aria-invalid={problem ? true : undefined} aria-describedby={problem ? "chatbot-name-problem" : undefined} />
            {problem && <span className="field-problem error" role="alert" id="chatbot-name-problem">{problem}</span>}
          </label>
          <button type="submit" className="align-end" disabled={busy}>{t("flows.createChatbot")}</button>
        </form>}
      </div>
    </section>
  );
}
