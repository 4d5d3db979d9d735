import type { ReactNode } from "react";
import { useI18n } from "../../i18n";

export type SideTab = "properties" | "simulator" | "versions" | "errors";
const TABS: { id: SideTab; label: "editor.properties" | "sim.title" | "versions.title" | "runErrors.title" }[] = [
  { id: "properties", label: "editor.properties" },
  { id: "simulator", label: "sim.title" },
  { id: "versions", label: "versions.title" },
  { id: "errors", label: "runErrors.title" },
];

/** The editor's right column: one of the node's properties, the simulator, the versions, the run errors;
 *  `without` the tabs the role may not use (the simulator needs `flows:write`, as the API does). */
export function SidePanel({ tab, onTab, without = [], children }: {
  tab: SideTab; onTab: (tab: SideTab) => void; without?: SideTab[]; children: ReactNode;
}) {
  const { t } = useI18n();
  return (
    <div className="side-panel">
      <div role="tablist" className="side-tabs">
        {TABS.filter((item) => !without.includes(item.id)).map((item) => (
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
