import { useEffect, useState } from "react";
import { ApiError, fetchBlobUrl, errorText } from "../../api/client";
import { useI18n } from "../../i18n";
import { formatSize } from "./interactiveModel";
import { mediaLink, type Message } from "./inboxModel";

export const MEDIA_TYPES = new Set(["image", "video", "audio", "document", "sticker"]);

/** A media message's file in its bubble: the picture, a player, or the document to open. A stored file
 *  is behind the bearer token, so it is fetched and shown from an object URL; one sent by URL (a bot's
 *  `media_url`: PyTake keeps no copy) is shown from that address when it is http(s) (`mediaLink`). A
 *  customer's file still being fetched from WhatsApp (409, or no `media` yet on a live message) is asked
 *  again a few times. */
export function MessageMedia({ message }: { message: Message }) {
  const { t } = useI18n();
  const media = message.media;
  const kind = message.type ?? "document";
  const link = mediaLink(message);
  const path = media?.url ?? `/conversations/${message.conversation_id}/messages/${message.id}/media`;
  const [src, setSrc] = useState<string | null>(null);
  const [problem, setProblem] = useState("");

  useEffect(() => {
    if (media?.status === "failed" || (!media && message.direction === "outbound")) return;  // nothing stored
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
        } else setProblem(errorText(err));
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
  const sentName = link ? (message.content as { filename?: unknown } | null)?.filename : null;
  const filename = media?.filename || (typeof sentName === "string" ? sentName : "");
  const name = filename || t(`inbox.kind.${kind === "sticker" ? "image" : kind}` as never);
  if (link) return <MediaFile kind={kind} src={link} name={name} external />;  // sent by URL: shown from there
  if (!media && message.direction === "outbound") return null;  // by an address that is not http(s): not shown
  if (problem) return <p className="media-note small" role="note">{name}: {problem}</p>;
  if (!src) return <p className="media-note muted small">{t("inbox.mediaLoading")}</p>;
  return <MediaFile kind={kind} src={src} name={name} download={media?.filename ?? undefined}
    size={media?.size ?? undefined} />;
}

/** The file itself: a picture (opened full size by a click), a player, or a link to the document. A
 *  picture or a document on another host (`external`) is asked for without a referrer (the agent's
 *  inbox address is not the host's business), and such a document opens in a new tab. */
export function MediaFile({ kind, src, name, download, size, external = false }: {
  kind: string; src: string; name: string; download?: string; size?: number; external?: boolean;
}) {
  const { t } = useI18n();
  const [broken, setBroken] = useState(false);
  useEffect(() => setBroken(false), [src]);
  const referrer = external ? "no-referrer" : undefined;
  // a file on another host that the browser could not load (gone, refused, not allowed by the
  // page's policy: PYTAKE_WEB_MEDIA_SOURCES) is said so, with its address, never a broken picture
  if (broken && external) {
    return (
      <p className="media-note small" role="note">
        {t("inbox.linkFailed", { name, host: hostOf(src) })}{" "}
        <a href={src} target="_blank" rel="noreferrer" referrerPolicy="no-referrer">{t("inbox.openLink")}</a>
      </p>
    );
  }
  const failed = () => setBroken(true);
  if (kind === "image" || kind === "sticker") {
    return <a href={src} target="_blank" rel="noreferrer">
      <img className="bubble-media" src={src} alt={name} referrerPolicy={referrer} onError={failed} /></a>;
  }
  if (kind === "video") return <video className="bubble-media" src={src} controls preload="metadata" onError={failed} />;
  if (kind === "audio") return <audio className="bubble-audio" src={src} controls preload="metadata" onError={failed} />;
  return (
    <a className="bubble-document" href={src} {...(external ? { target: "_blank", rel: "noreferrer" } : { download })}
      referrerPolicy={referrer}>
      {name}{size ? ` · ${formatSize(size)}` : ""}
    </a>
  );
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return url;
  }
}
