import { useEffect, useState } from "react";
import { api, errorText } from "../../api/client";
import { AppHeader } from "../../components/AppHeader";
import { ErrorBanner } from "../../components/ErrorBanner";
import { useI18n } from "../../i18n";
import { aiOf, aiTotals, compactCount, formatCount, linePath, periodLabel, rangeStart, scale, type Period,
  type Snapshot } from "./analyticsModel";

const W = 560;
const H = 140;
const PERIODS: Period[] = ["hour", "day", "week", "month"];

interface Series { name: string; className: string; values: (number | null)[] }

/** Bars (one group per period, a bar per series) or a line, with the period labels under them;
 *  `tick` writes the axis' figures (default: `format`, which the bars' and points' titles use). */
function Chart({ id, title, kind, series, labels, max, format, tick = format }: {
  id: string; title: string; kind: "bar" | "line"; series: Series[]; labels: string[]; max?: number;
  format: (v: number | null) => string; tick?: (v: number | null) => string;
}) {
  const top = max ?? Math.max(1, ...series.flatMap((s) => s.values.map((v) => v ?? 0)));
  const slot = labels.length ? W / labels.length : W;
  const every = Math.max(1, Math.ceil(labels.length / 8));
  return (
    <figure className="chart" data-chart={id}>
      <figcaption><strong>{title}</strong>
        {series.length > 1 && series.map((s) => <span key={s.name} className={`legend ${s.className}`}>{s.name}</span>)}
      </figcaption>
      <svg viewBox={`-44 -8 ${W + 54} ${H + 30}`} role="img" aria-label={title}>
        <line x1={0} y1={H} x2={W} y2={H} className="axis" />
        <text x={-4} y={4} className="tick" textAnchor="end">{tick(top)}</text>
        <text x={-4} y={H} className="tick" textAnchor="end">{tick(0)}</text>
        {kind === "bar" && series.map((s, si) => s.values.map((v, i) => {
          const width = (slot * 0.8) / series.length;
          const height = ((v ?? 0) / top) * H;
          return (
            <rect key={`${s.name}-${i}`} className={`bar ${s.className}`} data-value={v ?? 0}
              x={i * slot + slot * 0.1 + si * width} y={H - height} width={width} height={height}>
              <title>{`${labels[i]} ${s.name}: ${format(v)}`}</title>
            </rect>
          );
        }))}
        {kind === "line" && series.map((s) => {
          const points = scale(s.values, W - slot, H, top).map((p) => ({ ...p, x: p.x + slot / 2 }));
          return (
            <g key={s.name} className={`line ${s.className}`}>
              <path d={linePath(points)} />
              {points.map((p, i) => p.value !== null && (
                <circle key={i} cx={p.x} cy={p.y} r={3} data-value={p.value}><title>{`${labels[i]}: ${format(p.value)}`}</title></circle>
              ))}
            </g>
          );
        })}
        {labels.map((label, i) => i % every === 0 && (
          <text key={i} x={i * slot + slot / 2} y={H + 16} className="tick" textAnchor="middle">{label}</text>
        ))}
      </svg>
    </figure>
  );
}

/** AI calls of the bots' ai_prompt nodes and the tokens the providers reported, over the periods shown. */
function AiUsage({ items, labels }: { items: Snapshot[]; labels: string[] }) {
  const { t, lang } = useI18n();
  const totals = aiTotals(items);
  const figures = items.map(aiOf);
  const grouped = (v: number | null) => formatCount(v, lang);
  const compact = (v: number | null) => compactCount(v, lang);
  const counters: [string, string, number][] = [
    ["ai-calls", t("analytics.ai.calls"), totals.calls], ["ai-prompt", t("analytics.ai.prompt"), totals.prompt],
    ["ai-completion", t("analytics.ai.completion"), totals.completion], ["ai-total", t("analytics.ai.total"), totals.total]];
  return (
    <section className="card analytics" aria-labelledby="ai-usage-title" data-section="ai-usage">
      <h2 id="ai-usage-title">{t("analytics.ai.title")}</h2>
      {totals.calls === 0 ? <p className="muted" data-empty="ai-usage">{t("analytics.ai.empty")}</p> : (
        <>
          <dl className="counters">
            {counters.map(([id, label, value]) => (
              <div key={id} className="counter" data-counter={id}><dt>{label}</dt><dd>{grouped(value)}</dd></div>
            ))}
          </dl>
          <Chart id="ai-tokens" title={t("analytics.ai.tokens")} kind="bar" labels={labels} format={grouped} tick={compact}
            series={[{ name: t("analytics.ai.prompt"), className: "s1", values: figures.map((f) => f.prompt) },
                     { name: t("analytics.ai.completion"), className: "s2", values: figures.map((f) => f.completion) }]} />
          <Chart id="ai-calls" title={t("analytics.ai.calls")} kind="bar" labels={labels} format={grouped}
            series={[{ name: t("analytics.ai.calls"), className: "s1", values: figures.map((f) => f.calls) }]} />
        </>
      )}
    </section>
  );
}

/** The organization's analytics over time (stored snapshots, in its timezone): conversations, messages, handoff rate, AI usage. */
export function AnalyticsPage() {
  const { t, lang } = useI18n();
  const [period, setPeriod] = useState<Period>("day");
  const [items, setItems] = useState<Snapshot[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    setItems(null);
    const from = rangeStart(period, new Date()).toISOString();
    api<{ items: Snapshot[] }>("GET", `/analytics/snapshots?period=${period}&from=${encodeURIComponent(from)}`)
      .then((r) => setItems(r.items))
      .catch((err) => setError(errorText(err)));
  }, [period]);

  const labels = (items ?? []).map((s) => periodLabel(s, lang));
  const count = (v: number | null) => (v === null ? "—" : String(Math.round(v)));
  const percent = (v: number | null) => (v === null ? "—" : `${Math.round(v * 100)}%`);
  const sum = (pick: (s: Snapshot) => number) => (items ?? []).reduce((n, s) => n + pick(s), 0);

  return (
    <div className="page">
      <AppHeader />
      <main className="content wide">
        {error && <ErrorBanner message={error} onDismiss={() => setError(null)} />}
        <section className="card analytics">
          <div className="card-head">
            <h1>{t("analytics.title")}</h1>
            <label className="inline-field">{t("analytics.period")}
              <select value={period} onChange={(e) => setPeriod(e.target.value as Period)} data-field="period">
                {PERIODS.map((p) => <option key={p} value={p}>{t(`analytics.period.${p}`)}</option>)}
              </select>
            </label>
          </div>
          {items === null ? <p className="muted">{t("common.loading")}</p>
            : items.length === 0 ? <p className="muted">{t("analytics.empty")}</p>
              : (
                <>
                  <dl className="counters">
                    <div className="counter" data-counter="conversations"><dt>{t("analytics.conversations")}</dt><dd>{sum((s) => s.conversations.new)}</dd></div>
                    <div className="counter" data-counter="messages"><dt>{t("analytics.messages")}</dt><dd>{sum((s) => s.messages.total)}</dd></div>
                    <div className="counter" data-counter="executions"><dt>{t("analytics.executions")}</dt><dd>{sum((s) => s.chatbots.total_executions)}</dd></div>
                  </dl>
                  <Chart id="conversations" title={t("analytics.newConversations")} kind="bar" labels={labels} format={count}
                    series={[{ name: t("analytics.new"), className: "s1", values: items.map((s) => s.conversations.new) }]} />
                  <Chart id="messages" title={t("analytics.messages")} kind="bar" labels={labels} format={count}
                    series={[{ name: t("analytics.inbound"), className: "s1", values: items.map((s) => s.messages.inbound) },
                             { name: t("analytics.outbound"), className: "s2", values: items.map((s) => s.messages.outbound) }]} />
                  <Chart id="handoff" title={t("analytics.handoffRate")} kind="line" labels={labels} format={percent} max={1}
                    series={[{ name: t("analytics.handoffRate"), className: "s2", values: items.map((s) => s.chatbots.handoff_rate) }]} />
                </>
              )}
        </section>
        {items !== null && <AiUsage items={items} labels={labels} />}
      </main>
    </div>
  );
}
