import { useI18n } from "../../i18n";
import type { Preview } from "./templateModel";

const ICONS = { QUICK_REPLY: "↩", URL: "↗", PHONE_NUMBER: "✆" } as const;
const MEDIA = { IMAGE: "🖼", VIDEO: "▶", DOCUMENT: "📄", LOCATION: "📍" } as const;

/** The message bubble as WhatsApp renders it: header, body, footer, then the buttons below. */
export function TemplatePreview({ preview }: { preview: Preview }) {
  const { t } = useI18n();
  const { header } = preview;
  return (
    <div className="wa-screen" aria-label={t("templates.preview")} role="figure">
      <div className="wa-bubble">
        {header?.kind === "TEXT" && header.text && <div className="wa-header" data-testid="preview-header">{header.text}</div>}
        {header && header.kind !== "TEXT" && (
          <div className="wa-media" data-testid="preview-header" title={"url" in header ? header.url : undefined}>
            <span aria-hidden="true">{MEDIA[header.kind]}</span> {t(`templates.header.${header.kind}`)}
          </div>
        )}
        <div className="wa-body" data-testid="preview-body">
          {preview.body || <span className="muted">{t("templates.previewEmpty")}</span>}
        </div>
        {preview.footer && <div className="wa-footer" data-testid="preview-footer">{preview.footer}</div>}
        <div className="wa-time" aria-hidden="true">12:00</div>
      </div>
      {preview.buttons.map((b, i) => (
        <div key={i} className="wa-button" title={b.target} data-testid="preview-button">
          <span aria-hidden="true">{ICONS[b.kind]}</span> {b.text || "…"}
        </div>
      ))}
    </div>
  );
}
