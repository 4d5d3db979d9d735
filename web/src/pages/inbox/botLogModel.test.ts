import { describe, expect, it } from "vitest";
import { type BotSession, durationText, latencyText, sessionState, stateKind, tokens } from "./botLogModel";

const session = (over: Partial<BotSession>) => ({
  id: "s", session_start: "2026-12-02T12:00:00Z", message_count: 2, bot_message_count: 1, human_message_count: 1,
  flow_path: [], ai_prompts: [], ai_usage: { calls: 0, prompt_tokens: 0, completion_tokens: 0, tokens_used: 0 },
  handoff_occurred: false, ...over }) as BotSession;

describe("sessionState", () => {
  it("is the outcome once the session ended", () => {
    expect(sessionState(session({ session_end: "2026-12-02T12:01:00Z", outcome: "ended" }))).toBe("ended");
    expect(sessionState(session({ session_end: "2026-12-02T12:01:00Z", outcome: "closed", handoff_occurred: true })))
      .toBe("closed");
  });
  it("is handoff while a person holds the conversation the bot handed over", () => {
    expect(sessionState(session({ handoff_occurred: true }))).toBe("handoff");
  });
  it("is running while the flow waits, and error when a node failed", () => {
    expect(sessionState(session({}))).toBe("running");
    expect(sessionState(session({ outcome: "error" }))).toBe("error");
  });
  it("colours ends green, waits amber, failures red", () => {
    expect([stateKind("ended"), stateKind("handoff"), stateKind("error"), stateKind("closed")])
      .toEqual(["ok", "wait", "error", ""]);
  });
});

describe("figures", () => {
  it("writes durations in s, min and h", () => {
    expect([durationText(45), durationText(185), durationText(120), durationText(7800), durationText(3600)])
      .toEqual(["45 s", "3 min 5 s", "2 min", "2 h 10 min", "1 h"]);
    expect(durationText(null)).toBe("—");
  });
  it("writes latency in ms below a second, else in seconds in the reader's language", () => {
    expect(latencyText(812, "en")).toBe("812 ms");
    expect(latencyText(1250, "en")).toBe("1.3 s");
    expect(latencyText(1250, "pt-BR")).toBe("1,3 s");
    expect(latencyText(null, "en")).toBe("—");
  });
  it("shows a dash, not 0, when the provider reported no tokens", () => {
    expect(tokens(null, "en")).toBe("—");
    expect(tokens(0, "en")).toBe("0");
    expect(tokens(12345, "pt-BR")).toBe("12.345");
  });
});
