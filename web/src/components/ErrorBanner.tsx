import { useI18n } from "../i18n";

/** A page's error: the message (an alert, read out when it appears) and a Dismiss button that a
 *  keyboard reaches with Tab and a screen reader names (a click on the message dismissed it, which
 *  only a mouse could do). */
export function ErrorBanner({ message, onDismiss }: { message: string; onDismiss: () => void }) {
  const { t } = useI18n();
  return (
    <div className="error banner">
      <p role="alert">{message}</p>
      <button type="button" className="banner-dismiss" aria-label={t("common.dismiss")} title={t("common.dismiss")}
        onClick={onDismiss}>×</button>
    </div>
  );
}
