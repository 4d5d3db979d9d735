import type { Translate } from "../../i18n";
import type { MessageKey } from "../../i18n/messages";
import { humanize } from "../../schemas/form";

/** "question" → "Question" / "Pergunta". Unknown types (a new schema) get a humanized name. */
export function nodeTypeLabel(type: string, t: Translate): string {
  const key = `node.${type}` as MessageKey;
  const text = t(key);
  return text && text !== key ? text : humanize(type);
}
