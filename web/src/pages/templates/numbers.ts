import type { WhatsAppNumber } from "../../api/types";

/** How a WhatsApp number is named in pickers and lists. */
export function numberLabel(n: WhatsAppNumber): string {
  return n.display_name ? `${n.display_name} (${n.phone_number})` : n.phone_number;
}
