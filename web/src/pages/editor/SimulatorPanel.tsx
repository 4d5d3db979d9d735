import { useEffect, useRef, useState, type FormEvent } from "react";
import { api, errorText } from "../../api/client";
import type { Canvas } from "../../api/types";
import { useI18n } from "../../i18n";
import { messageChoices, messageText, type BotMessage, type SimulateStep } from "./simulatorModel";

const STATUS = { ended: "sim.ended", handoff: "sim.handoff", error: "sim.error" } as const;

type Line = { from: "customer" | "bot"; message: BotMessage; step: number };

/** Chat with the editor's canvas (the draft) through the real interpreter: nothing
 *  is saved or sent to WhatsApp. The current node is reported to be highlighted. */
export function SimulatorPanel({ flowId, canvas, onCurrentNode }: {
  flowId: string; canvas: () => Canvas; onCurrentNode: (node: string | null) => void;
}) {
  const { t } = useI18n();
  const [lines, setLines] = useState<Line[]>([]);
  const [step, setStep] = useState<SimulateStep | null>(null);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const chat = useRef<HTMLOListElement>(null);

  /** One step; whether the API took it (a refused message stays in the field to send again). */
  async function run(body: Record<string, unknown>, said?: string): Promise<boolean> {
    setBusy(true);
    setError(null);
    try {
      const next = await api<SimulateStep>("POST", `/flows/${flowId}/simulate`, { canvas: canvas(), ...body });
      setLines((ls) => [
        ...ls,
        ...(said !== undefined ? [{ from: "customer" as const, message: { type: "text", content: { text: said } }, step: ls.length }] : []),
        ...next.messages.map((m, i) => ({ from: "bot" as const, message: m, step: ls.length + 1 + i })),
      ]);
      setStep(next);
      onCurrentNode(next.current_node ?? null);
      return true;
    } catch (err) {
      setError(errorText(err));
      return false;
    } finally {
      setBusy(false);
    }
  }

  const restart = () => {
    setLines([]);
    setStep(null);
    onCurrentNode(null);
    return run({});
  };

  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => { restart(); return () => onCurrentNode(null); }, []);
  useEffect(() => { if (chat.current) chat.current.scrollTop = chat.current.scrollHeight; }, [lines]);

  const waiting = step?.status === "waiting";
  const send = (e: FormEvent) => {
    e.preventDefault();
    if (!text.trim() || !waiting) return;
    const said = text;
    run({ session: step!.session, message: { text: said } }, said).then((ok) => {
      if (ok) setText((now) => (now === said ? "" : now));
    });
  };
  const tap = (id: string, title: string) => {
    if (waiting) run({ session: step!.session, message: { reply_id: id, text: title } }, title);
  };
  const lastBot = lines.length - 1;

  return (
    <section className="side-section simulator" aria-label={t("sim.title")}>
      <div className="row">
        <h2 className="grow">{t("sim.title")}</h2>
        <button type="button" onClick={restart} disabled={busy}>{t("sim.restart")}</button>
      </div>
      <p className="muted small">{t("sim.hint")}</p>
      <ol ref={chat} className="chat" aria-label={t("sim.chat")}>
        {lines.map((line, i) => {
          const { choices, listButton } = messageChoices(line.message);
          return (
            <li key={i} className={`bubble ${line.from}`} aria-label={t(line.from === "bot" ? "sim.bot" : "sim.customer")}>
              <div className="bubble-text">{messageText(line.message)}</div>
              {choices.length > 0 && (
                <div className="choices" role="group" aria-label={listButton ?? t("sim.choices")}>
                  {listButton && <div className="muted small">☰ {listButton}</div>}
                  {choices.map((c) => (
                    <button type="button" key={c.id} className="choice" disabled={busy || !waiting || i !== lastBot}
                      onClick={() => tap(c.id, c.title)} title={c.description}>
                      {c.title}{c.description && <span className="muted small"> — {c.description}</span>}
                    </button>
                  ))}
                </div>
              )}
            </li>
          );
        })}
      </ol>
      {error && <p role="alert" className="error small">{error}</p>}
      {step && step.status !== "waiting" && (

        <p className={`small sim-status ${step.status}`} role="status">{t(STATUS[step.status])}</p>
      )}
      <form className="row" onSubmit={send}>
        <label className="field grow">
          <span className="visually-hidden">{t("sim.message")}</span>
          <input aria-label={t("sim.message")} value={text} placeholder={t("sim.placeholder")}
            disabled={!waiting || busy} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={!waiting || busy || !text.trim()}>{t("sim.send")}</button>
      </form>
      {waiting && (
        <button type="button" className="link small" onClick={() => run({ session: step!.session, timeout: true })}
          disabled={busy}>{t("sim.timeout")}</button>
      )}
      <details open>
        <summary>{t("sim.variables")}</summary>
        <table className="vars" aria-label={t("sim.variables")}>
          <tbody>
            {Object.entries(step?.variables ?? {}).map(([k, v]) => (
              <tr key={k}><th scope="row"><code>{k}</code></th><td><code>{JSON.stringify(v)}</code></td></tr>
            ))}
          </tbody>
        </table>
        {Object.keys(step?.variables ?? {}).length === 0 && <p className="muted small">{t("sim.noVariables")}</p>}
      </details>
      <details>
        <summary>{t("sim.trace")}</summary>
        <ol className="trace small">
          {(step?.trace ?? []).map((e, i) => (
            <li key={i}><code>{String(e.type)}</code> {e.node ? <code>{String(e.node)}</code> : null}</li>
          ))}
        </ol>
      </details>
    </section>
  );
}
