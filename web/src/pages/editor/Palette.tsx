import { memo } from "react";
import { useI18n } from "../../i18n";
import { NODE_SCHEMAS, NODE_TYPES } from "../../schemas/catalog";
import { nodeTypeLabel } from "./nodeTypeLabel";

export const DRAG_MIME = "application/x-pytake-node";

/** Every node type, dragged from here onto the canvas. */
export const Palette = memo(function Palette() {
  const { t } = useI18n();
  return (
    <aside className="palette" aria-label={t("editor.palette")}>
      <h2>{t("editor.palette")}</h2>
      <p className="muted small">{t("editor.paletteHint")}</p>
      <ul>
        {NODE_TYPES.map((type) => (
          <li key={type} className={`palette-item type-${type}`} draggable title={NODE_SCHEMAS[type]?.description}
            data-node-type={type}
            onDragStart={(e) => { e.dataTransfer.setData(DRAG_MIME, type); e.dataTransfer.effectAllowed = "move"; }}>
            {nodeTypeLabel(type, t)}
          </li>
        ))}
      </ul>
    </aside>
  );
});
