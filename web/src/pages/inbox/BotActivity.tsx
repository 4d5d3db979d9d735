import { useCallback, useEffect, useState } from "react";
import { api, ApiError, errorText } from "../../api/client";
import { useI18n } from "../../i18n";
import type { MessageKey } from "../../i18n/messages";
import { nodeTypeLabel } from "../editor/nodeTypeLabel";
import { type AiCall, type AiUsage, type BotSession, type ConversationLog, durationText, latencyText, logTime,
  sessionState, stateKind, tokens } from "./botLogModel";

const STATES = new Set(["ended", "closed", "handoff", "running", "error"]);

/** Calls and tokens, as counters (the conversation's total, or one session's). */
function Usage({ usage, id }: { usage: AiUsage; id: string }) {
  const { t, lang } = useI18n();
  return (
    <dl className="bot-usage" data-usage={id}>
      <div data-figure="calls"><dt>{t("inbox.bot.calls")}</dt><dd>{tokens(usage.calls, lang)}</dd></div>
      <div data-figure="prompt"><dt>{t("inbox.bot.prompt")}</dt><dd>{tokens(usage.prompt_tokens, lang)}</dd></div>
      <div data-figure="completion"><dt>{t("inbox.bot.completion")}</dt><dd>{tokens(usage.completion_tokens, lang)}</dd></div>
      <div data-figure="total"><dt>{t("inbox.bot.total")}</dt><dd>{tokens(usage.tokens_used, lang)}</dd></div>
    </dl>
  );
}

function Call({ call }: { call: AiCall }) {
  const { t, lang } = useI18n();
  return (
    <li className={`bot-call${call.ok === false ? " failed" : ""}`} data-node={call.node_id ?? ""}>
      <p className="bot-call-head">
        <strong data-model>{call.model || "—"}</strong>
        <span className="muted small">{call.provider}</span>
        <time className="muted small">{logTime(call.timestamp, lang)}</time>
      </p>
      <dl className="bot-call-figures">
        <div data-figure="prompt"><dt>{t("inbox.bot.prompt")}</dt><dd>{tokens(call.prompt_tokens, lang)}</dd></div>
        <div data-figure="completion"><dt>{t("inbox.bot.completion")}</dt><dd>{tokens(call.completion_tokens, lang)}</dd></div>
        <div data-figure="total"><dt>{t("inbox.bot.total")}</dt><dd>{tokens(call.tokens_used, lang)}</dd></div>
        <div data-figure="latency"><dt>{t("inbox.bot.latency")}</dt><dd>{latencyText(call.latency_ms, lang)}</dd></div>
      </dl>
      {call.ok === false && <p className="error small" role="note">{t("inbox.bot.callFailed")} {call.error ?? ""}</p>}
      {call.ok !== false && call.prompt_tokens == null && <p className="muted small">{t("inbox.bot.noUsage")}</p>}
      {(call.prompt || call.response) && (
        <details className="bot-call-text">
          <summary>{t("inbox.bot.promptAndAnswer")}</summary>
          {call.prompt && <p><span className="muted">{t("inbox.bot.promptText")}</span> {call.prompt}</p>}
          {call.response && <p><span className="muted">{t("inbox.bot.answerText")}</span> {call.response}</p>}
        </details>
      )}
    </li>
  );
}

function Session({ session, n }: { session: BotSession; n: number }) {
  const { t, lang } = useI18n();
  const state = sessionState(session);
  return (
    <li className="bot-session" data-session={n} data-state={state}>
      <header className="bot-session-head">
        <h3>{t("inbox.bot.session", { n })}</h3>
        <span className={`pill ${stateKind(state)}`} data-outcome>
          {STATES.has(state) ? t(`inbox.bot.state.${state}` as MessageKey) : state}
        </span>
      </header>
      <dl className="facts">
        <dt>{t("inbox.bot.started")}</dt><dd data-start>{logTime(session.session_start, lang)}</dd>
        <dt>{t("inbox.bot.ended")}</dt><dd data-end>{session.session_end ? logTime(session.session_end, lang) : t("inbox.bot.notEnded")}</dd>
        {session.duration_seconds != null && <><dt>{t("inbox.bot.duration")}</dt><dd>{durationText(session.duration_seconds)}</dd></>}
        <dt>{t("inbox.bot.messages")}</dt>
        <dd>{t("inbox.bot.messageCounts", { bot: session.bot_message_count, people: session.human_message_count })}</dd>
        {session.handoff_occurred && <><dt>{t("inbox.bot.handoff")}</dt>
          <dd data-handoff>{session.handoff_reason || "—"} · {logTime(session.handoff_timestamp, lang)}</dd></>}
      </dl>
      <h4>{t("inbox.bot.path")}</h4>
      {session.flow_path.length === 0 ? <p className="muted small">{t("inbox.bot.noPath")}</p> : (
        <ol className="bot-path" aria-label={t("inbox.bot.path")}>
          {session.flow_path.map((step, i) => (
            <li key={i} data-node={step.node_id ?? ""}>
              <span className={`bot-step-type type-${step.node_type ?? ""}`}>{step.node_type ? nodeTypeLabel(step.node_type, t) : "—"}</span>
              <code>{step.node_id}</code>
              <time className="muted small">{logTime(step.timestamp, lang)}</time>
            </li>
          ))}
        </ol>
      )}
      <h4>{t("inbox.bot.aiCalls")}</h4>
      {session.ai_prompts.length === 0 ? <p className="muted small">{t("inbox.bot.noCalls")}</p> : (
        <>
          <ul className="bot-calls">{session.ai_prompts.map((call, i) => <Call key={i} call={call} />)}</ul>
          <p className="small bot-session-usage" data-usage={`session-${n}`}>{t("inbox.bot.sessionUsage", {
            calls: tokens(session.ai_usage.calls, lang), prompt: tokens(session.ai_usage.prompt_tokens, lang),
            completion: tokens(session.ai_usage.completion_tokens, lang), total: tokens(session.ai_usage.tokens_used, lang) })}</p>
        </>
      )}
    </li>
  );
}

/** The conversation's bot sessions from the log store: when each ran and how it ended, the nodes
 *  it went through, its AI calls (model, tokens, latency) and the AI usage of the whole conversation.
 *  A refusal (the API's 403/404, or 503 when the log store is down) shows as the API words it. */
export function BotActivity({ conversationId }: { conversationId: string }) {
  const { t } = useI18n();
  const [log, setLog] = useState<ConversationLog | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(true);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setLog(await api<ConversationLog>("GET", `/logs/conversations/${conversationId}`));
      setError("");
    } catch (err) {
      setLog(null);
      setError(err instanceof ApiError ? `${err.message} (${err.status})` : errorText(err));
    } finally {
      setLoading(false);
    }
  }, [conversationId]);
  useEffect(() => { void load(); }, [load]);

  const sessions = log?.sessions ?? [];
  return (
    <section className="bot-activity" aria-label={t("inbox.bot.title")}>
      <div className="row">
        <h2 className="grow">{t("inbox.bot.title")}</h2>
        <button type="button" className="link" onClick={() => void load()} disabled={loading}>{t("inbox.bot.refresh")}</button>
      </div>
      {error && <p className="error small" role="alert">{t("inbox.bot.refused")} {error}</p>}
      {!log && !error && <p className="muted">{t("common.loading")}</p>}
      {log && (
        <>
          <h3>{t("inbox.bot.conversationUsage")}</h3>
          <Usage usage={log.ai_usage} id="conversation" />
          {sessions.length === 0 ? <p className="muted">{t("inbox.bot.empty")}</p> : (
            <ol className="bot-sessions">
              {sessions.map((s, i) => <Session key={s.id} session={s} n={sessions.length - i} />)}
            </ol>
          )}
        </>
      )}
    </section>
  );
}
