// The source handles of each node type, from its data. Mirrors
// compiler/node_types.py (`FIXED_HANDLES`, `handles`), which
// flow_schemas/README.md documents; tests/web checks the two agree.

export const FIXED_HANDLES: Record<string, string[]> = {
  start: ["next"],
  message: ["next"],
  question: ["next", "invalid", "timeout"],
  condition: [],
  action: ["next"],
  api_call: ["success", "error"],
  ai_prompt: ["success", "error"],
  jump: ["next"],
  end: [],
  handoff: [],
};

/** Node types without an entry handle. */
export const NO_TARGET = new Set(["start"]);

function ids(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list
    .map((item) => (item && typeof item === "object" ? (item as { id?: unknown }).id : undefined))
    .filter((id): id is string => typeof id === "string" && id !== "");
}

/** Handles in the order they are drawn: built-in ones, then one per option / case. */
export function handlesOf(type: string, data: Record<string, unknown>): string[] {
  if (type === "condition") {
    if ("cases" in data) return [...new Set([...ids(data.cases), "default"])];
    return ["true", "false"];
  }
  const fixed = FIXED_HANDLES[type] ?? [];
  const extra = type === "question" ? ids(data.options) : [];
  return [...new Set([...fixed, ...extra])];
}
