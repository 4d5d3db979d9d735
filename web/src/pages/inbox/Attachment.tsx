import { useState } from "react";
import { ApiError, upload, errorText } from "../../api/client";
import { Field } from "../../components/Field";
import { useI18n } from "../../i18n";
import { formatSize, LIMITS, length, mediaKind, takesCaption } from "./interactiveModel";

type Uploaded = { upload_id: string; kind: string; mime_type: string; size: number; filename?: string | null };

/** A picked file waiting to go: its name and size, a caption when WhatsApp shows one, then
 *  `POST /uploads` (its progress shown) and the media reply. Refusals show the API's words. */
export function PendingAttachment(props: { file: File; disabled: boolean; onCancel: () => void;
  send: (body: Record<string, unknown>) => Promise<string | null> }) {
  const { t } = useI18n();
  const { file } = props;
  const kind = mediaKind(file.type);
  const [caption, setCaption] = useState("");
  const [progress, setProgress] = useState<number | null>(null);
  const [problem, setProblem] = useState("");
  const [field, setField] = useState("");
  const tooLong = length(caption) > LIMITS.caption;

  const go = async () => {
    setProblem("");
    setField("");
    setProgress(0);
    try {
      const saved = await upload<Uploaded>("/uploads", file, setProgress);
      setProgress(1);
      const type = saved.kind;
      const body: Record<string, unknown> = { type, upload_id: saved.upload_id };
      if (takesCaption(type) && caption.trim()) body.caption = caption.trim();
      const refused = await props.send(body);
      if (refused !== null) {
        setProblem(refused);
        setProgress(null);
      }
    } catch (err) {
      setProgress(null);
      if (err instanceof ApiError) {
        setProblem(err.message);
        setField(err.field ?? "");
      } else setProblem(errorText(err));
    }
  };

  const busy = progress !== null;
  return (
    <div className="attachment card" data-attachment={kind}>
      <div className="attachment-file">
        <PaperClip />
        <span className="attachment-name">{file.name}</span>
        <span className="muted small">{formatSize(file.size)} · {t(`inbox.kind.${kind}` as never)}</span>
      </div>
      {takesCaption(kind) && (
        <Field id="caption" label={t("inbox.caption")} help={`${length(caption)}/${LIMITS.caption}`}
          problem={tooLong ? t("inbox.tooLong", { limit: LIMITS.caption }) : field === "caption" ? problem : undefined}>
          <input value={caption} disabled={busy} onChange={(e) => setCaption(e.target.value)}
            onKeyDown={(e) => { if (e.key === "Enter") { e.preventDefault(); if (!tooLong && !busy) void go(); } }} />
        </Field>
      )}
      {busy && (
        <div className="upload-progress">
          <progress max={1} value={progress} aria-label={t("inbox.uploading")} />
          <span className="muted small">{progress < 1 ? t("inbox.uploading") : t("inbox.sendingFile")}
            {" "}{Math.round(progress * 100)}%</span>
        </div>
      )}
      {problem && field !== "caption" && <p className="error small" role="alert">{problem}</p>}
      <div className="row">
        <button type="button" className="primary" disabled={busy || tooLong || props.disabled} onClick={() => void go()}>
          {t("inbox.sendFile")}
        </button>
        <button type="button" className="ghost" disabled={busy} onClick={props.onCancel}>{t("inbox.removeFile")}</button>
      </div>
    </div>
  );
}

/** drawn, not an emoji: a machine without an emoji font shows a box for those */
export function PaperClip() {
  return (
    <svg className="paper-clip" width="18" height="18" viewBox="0 0 24 24" fill="none" stroke="currentColor"
      strokeWidth="2" strokeLinecap="round" strokeLinejoin="round" aria-hidden="true">
      <path d="M21.4 11.1l-9.2 9.2a6 6 0 0 1-8.5-8.5l9.2-9.2a4 4 0 0 1 5.7 5.7l-9.2 9.2a2 2 0 0 1-2.8-2.8l8.5-8.5" />
    </svg>
  );
}
