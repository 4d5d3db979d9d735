// What the simulator shows of the bot's messages (POST /flows/{id}/simulate):
// their text and the choices a customer can tap (buttons, list rows).

export type Choice = { id: string; title: string; description?: string };
export type BotMessage = { type?: string; content?: Record<string, unknown> };

export type SimulateStep = {
  status: "waiting" | "ended" | "handoff" | "error";
  messages: BotMessage[];
  trace: Record<string, unknown>[];
  current_node?: string | null;
  variables: Record<string, unknown>;
  session: Record<string, unknown>;
};

function choices(list: unknown): Choice[] {
  if (!Array.isArray(list)) return [];
  return list.filter((c) => c && typeof c === "object" && typeof c.id === "string")
    .map((c) => ({ id: c.id, title: String(c.title ?? c.id), ...(c.description ? { description: String(c.description) } : {}) }));
}

/** The text of a bot message (a media message: its caption; a template: its name and
 *  rendered parameters; else its type in brackets). */
export function messageText(message: BotMessage): string {
  const content = message.content ?? {};
  const template = content.template as { name?: unknown; parameters?: unknown } | undefined;
  if (message.type === "template" && template && typeof template.name === "string") {
    const values = Array.isArray(template.parameters) ? template.parameters.map(String) : [];
    return `[template ${template.name}${values.length ? ": " + values.join(", ") : ""}]`;
  }
  for (const key of ["text", "caption", "body"]) {
    if (typeof content[key] === "string" && content[key]) return content[key] as string;
  }
  return `[${message.type ?? "message"}]`;
}

/** The buttons or list rows of a bot message, and the list's button label. */
export function messageChoices(message: BotMessage): { choices: Choice[]; listButton?: string } {
  const content = message.content ?? {};
  if (message.type === "button") return { choices: choices(content.buttons) };
  if (message.type === "list") {
    const rows = Array.isArray(content.rows) ? choices(content.rows)
      : (Array.isArray(content.sections) ? content.sections : []).flatMap((s: { rows?: unknown }) => choices(s?.rows));
    return { choices: rows, listButton: typeof content.button === "string" ? content.button : undefined };
  }
  return { choices: [] };
}
