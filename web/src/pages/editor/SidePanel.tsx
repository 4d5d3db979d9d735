import type { ReactNode } from "react";
import { useI18n } from "../../i18n";

export type SideTab = "properties" | "simulator" | "versions" | "errors";
const TABS: { id: SideTab; label: "editor.properties" | "sim.title" | "versions.title" | "runErrors.title" }[] = [
  { id: "properties", label: "editor.properties" },
  { id: "simulator", label: "sim.title" },
  { id: "versions", label: "versions.title" },
  { id: "errors", label: "runErrors.title" },
];

/** The editor's right column: one of the node's properties, the simulator, the versions, the run errors. */
export function SidePanel({ tab, onTab, children }: { tab: SideTab; onTab: (tab: SideTab) => void; children: ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="side-panel">
      <div role="tablist" className="side-tabs">
        {TABS.map((item) => (
          <button key={item.id} type="button" role="tab" aria-selected={tab === item.id}
            className={tab === item.id ? "active" : ""} onClick={() => onTab(item.id)}>
            {t(item.label)}
          </button>
        ))}
      </div>
      <div role="tabpanel" className="side-body">{children}</div>
    </div>
  );
}
