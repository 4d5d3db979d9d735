import { useI18n } from "../../i18n";
import { newer, older, PAGE_SIZES, type Pager } from "./logsModel";

/** Newer / Older over the API's keyset pages, the page number, and how many logs a page holds. */
export function LogPager({ id, pager, next, onPager, limit, onLimit }: {
  id: string; pager: Pager; next: string | null; onPager: (p: Pager) => void; limit: number; onLimit: (n: number) => void;
}) {
  const { t } = useI18n();
  return (
    <div className="row small log-pager" data-pager={id}>
      <button type="button" disabled={pager.length <= 1} onClick={() => onPager(newer(pager))}>{t("logs.newer")}</button>
      <span data-page>{t("logs.page", { page: pager.length })}</span>
      <button type="button" disabled={!next} onClick={() => next && onPager(older(pager, next))}>{t("logs.older")}</button>
      <label className="inline-field">{t("logs.perPage")}
        <select value={limit} onChange={(e) => onLimit(Number(e.target.value))}>
          {PAGE_SIZES.map((n) => <option key={n} value={n}>{n}</option>)}
        </select>
      </label>
    </div>
  );
}
