import { useEffect, useState } from "react";
import { ApiError, fetchBlobUrl } from "../../api/client";
import { useI18n } from "../../i18n";
import { formatSize } from "./interactiveModel";
import type { Message } from "./inboxModel";

export const MEDIA_TYPES = new Set(["image", "video", "audio", "document", "sticker"]);

/** A media message's file in its bubble: the picture, a player, or the document to open. The file is
 *  behind the bearer token, so it is fetched and shown from an object URL. A customer's file still
 *  being fetched from WhatsApp (409, or no `media` yet on a live message) is asked again a few times. */
export function MessageMedia({ message }: { message: Message }) {
  const { t } = useI18n();
  const media = message.media;
  const kind = message.type ?? "document";
  const path = media?.url ?? `/conversations/${message.conversation_id}/messages/${message.id}/media`;
  const [src, setSrc] = useState<string | null>(null);
  const [problem, setProblem] = useState("");

  useEffect(() => {
    if (media?.status === "failed" || (!media && message.direction === "outbound")) return;
    let url: string | null = null;
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const load = async (attempt: number) => {
      try {
        url = await fetchBlobUrl(path);
        if (stopped) URL.revokeObjectURL(url);
        else setSrc(url);
      } catch (err) {
        if (stopped) return;
        const waiting = err instanceof ApiError && (err.status === 409 || err.status === 404) && !media;
        if ((waiting || (err instanceof ApiError && err.status === 409)) && attempt < 20) {
          timer = setTimeout(() => void load(attempt + 1), Math.min(1000 * 2 ** attempt, 15_000));
        } else setProblem(err instanceof Error ? err.message : String(err));
      }
    };
    void load(0);
    return () => {
      stopped = true;
      clearTimeout(timer);
      if (url) URL.revokeObjectURL(url);
    };
  }, [path, media?.status, message.direction]);  // `media` itself is a new object on every live update

  if (media?.status === "failed") {
    return <p className="media-note small" role="note">{t("inbox.mediaFailed")} {media.error}</p>;
  }
  if (!media && message.direction === "outbound") return null;  // sent by URL: WhatsApp fetched it, we keep no copy
  const name = media?.filename || t(`inbox.kind.${kind === "sticker" ? "image" : kind}` as never);
  if (problem) return <p className="media-note small" role="note">{name}: {problem}</p>;
  if (!src) return <p className="media-note muted small">{t("inbox.mediaLoading")}</p>;
  if (kind === "image" || kind === "sticker") {
    return <a href={src} target="_blank" rel="noreferrer"><img className="bubble-media" src={src} alt={name} /></a>;
  }
  if (kind === "video") return <video className="bubble-media" src={src} controls preload="metadata" />;
  if (kind === "audio") return <audio className="bubble-audio" src={src} controls preload="metadata" />;
  return (
    <a className="bubble-document" href={src} download={media?.filename ?? undefined}>
      {name}{media?.size ? ` · ${formatSize(media.size)}` : ""}
    </a>
  );
}
