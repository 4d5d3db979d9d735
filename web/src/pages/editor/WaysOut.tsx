import { useId } from "react";
import { useI18n } from "../../i18n";

export type Target = { id: string; label: string };
export type Way = { handle: string; target: string | null };

/** The selected node's ways out, each with the node it leads to: a choice of any node that can be
 *  entered, or none. Connects nodes without dragging an edge from a handle, which a keyboard and a
 *  touch screen cannot do; a choice replaces the edge already leaving that way, as a drag does. */
export function WaysOut({ nodeId, ways, targets, onConnect }: {
  nodeId: string; ways: Way[]; targets: Target[];
  onConnect: (source: string, handle: string, target: string | null) => void;
}) {
  const { t } = useI18n();
  const base = useId();
  if (ways.length === 0) return null;
  return (
    <fieldset className="field-group ways-out">
      <legend>{t("editor.waysOut")}</legend>
      {ways.map((way, i) => (
        <div key={way.handle} className="field">
          <label htmlFor={`${base}-${i}`} className="field-label">{t("editor.wayTo", { handle: way.handle })}</label>
          <select id={`${base}-${i}`} value={way.target ?? ""}
            onChange={(e) => onConnect(nodeId, way.handle, e.target.value || null)}>
            <option value="">{t("editor.notConnected")}</option>
            {/* a target the list no longer has (a start node, say) still shows where the edge goes */}
            {way.target !== null && !targets.some((n) => n.id === way.target) && (
              <option value={way.target}>{way.target}</option>
            )}
            {targets.map((n) => (
              <option key={n.id} value={n.id}>
                {n.id === nodeId ? t("editor.thisNode", { label: n.label }) : n.label === n.id ? n.id : `${n.label} (${n.id})`}
              </option>
            ))}
          </select>
        </div>
      ))}
    </fieldset>
  );
}
