// The editor's analytics overlay: its toolbar controls (toggle, period, version), the
// fetching of the report, and the legend drawn over the canvas.
import type { Edge } from "@xyflow/react";
import { useEffect, useLayoutEffect, useMemo, useState } from "react";
import { api, errorText } from "../../api/client";
import { useI18n } from "../../i18n";
import {
  DROP_SCALE, edgeFigures, nodeFigures, PERIODS, periodStart, sameEdgeFigures, sameNodeFigures,
  type AnalyticsReport, type Period,
} from "./analyticsModel";
import type { AnalyticsStores } from "./AnalyticsContext";

type Source = { flowId: string; stores: AnalyticsStores; version: number | null; edges: Edge[] };

const ON = new Map<string, true>([["on", true]]);

/** The report of the period and version while the overlay is on, into `stores`. */
export function useAnalytics({ flowId, stores, version, edges }: Source, on: boolean, period: Period) {
  const [report, setReport] = useState<AnalyticsReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!on) return;
    let stale = false;
    const query = new URLSearchParams({ from: periodStart(period, new Date()) });
    if (version !== null) query.set("version", String(version));
    setError(null);
    api<AnalyticsReport>("GET", `/flows/${flowId}/analytics?${query}`).then((r) => {
      if (!stale) setReport(r);
    }).catch((err) => {
      if (!stale) { setReport(null); setError(errorText(err)); }
    });
    return () => { stale = true; };
  }, [flowId, on, period, version]);
  const shown = on && report !== null;
  useLayoutEffect(() => stores.shown.set(shown ? ON : new Map()), [stores, shown]);
  useLayoutEffect(() => {
    if (report) stores.nodes.set(nodeFigures(report), sameNodeFigures);
  }, [stores, report]);
  useLayoutEffect(() => {
    if (report && on) stores.edges.set(edgeFigures(report, edges), sameEdgeFigures);
  }, [stores, report, edges, on]);
  return { report: on ? report : null, error: on ? error : null };
}

type Controls = {
  on: boolean; onToggle: () => void; period: Period; onPeriod: (p: Period) => void;
  /** The version asked for (null: the live one), and the report's. */
  version: number | null; report: AnalyticsReport | null; error: string | null;
};

export function AnalyticsControls({ on, onToggle, period, onPeriod, version, report, error }: Controls) {
  const { t } = useI18n();
  const shown = report?.version ?? version;
  return (
    <span className="analytics-controls">
      <button type="button" aria-pressed={on} className={on ? "active" : undefined} onClick={onToggle}>
        {t("analytics.toggle")}
      </button>
      {on && (
        <>
          <select aria-label={t("analytics.overlayPeriod")} value={period} onChange={(e) => onPeriod(e.target.value as Period)}>
            {PERIODS.map((p) => <option key={p} value={p}>{t(`analytics.period.${p}`)}</option>)}
          </select>
          <span className="small muted" data-testid="analytics-version">
            {shown === null ? "…" : t(version === null ? "analytics.liveVersion" : "analytics.version", { version: shown })}
          </span>
          {error && <span role="alert" className="small status error">{error}</span>}
        </>
      )}
    </span>
  );
}

export function AnalyticsLegend({ report }: { report: AnalyticsReport }) {
  const { t } = useI18n();
  const total = useMemo(() => report.nodes.reduce((n, x) => Math.max(n, x.count), 0), [report]);
  let lower = 0;
  return (
    <div className="analytics-legend" role="note" aria-label={t("analytics.legend")}>
      <strong>{t("analytics.legend")}</strong>
      <div className="small">{t("analytics.legendEntries")}</div>
      <div className="small">{t("analytics.legendEdges")}</div>
      <div className="legend-scale small">
        {DROP_SCALE.map((s) => {
          const text = s.upTo === 0 ? "0%" : `${lower + 1}–${s.upTo}%`;
          lower = s.upTo;
          return <span key={s.level} className={`drop-chip drop-${s.level}`}>{text}</span>;
        })}
      </div>
      {total === 0 && <div className="small muted">{t("analytics.overlayEmpty")}</div>}
    </div>
  );
}
