import { memo } from "react";
import { useI18n } from "../../i18n";
import { NODE_SCHEMAS, NODE_TYPES } from "../../schemas/catalog";
import { nodeTypeLabel } from "./nodeTypeLabel";

export const DRAG_MIME = "application/x-pytake-node";

/** Every node type, dragged from here onto the canvas, or added at the centre of the view with a click,
 *  a tap or Enter (`onAdd`: a keyboard or a touch screen has no drag and drop). Without `onAdd` (an old
 *  version being viewed) nothing can be added. */
export const Palette = memo(function Palette({ onAdd }: { onAdd?: (type: string) => void }) {
  const { t } = useI18n();
  return (
    <aside className="palette" aria-label={t("editor.palette")}>
      <h2>{t("editor.palette")}</h2>
      <p className="muted small">{t("editor.paletteHint")}</p>
      <ul>
        {NODE_TYPES.map((type) => (
          <li key={type}>
            <button type="button" className={`palette-item type-${type}`} draggable={!!onAdd} disabled={!onAdd}
              title={NODE_SCHEMAS[type]?.description} data-node-type={type} onClick={() => onAdd?.(type)}
              onDragStart={(e) => { e.dataTransfer.setData(DRAG_MIME, type); e.dataTransfer.effectAllowed = "move"; }}>
              {nodeTypeLabel(type, t)}
            </button>
          </li>
        ))}
      </ul>
    </aside>
  );
});
