import { describe, expect, it } from "vitest";
import { aiOf, aiTotals, compactCount, formatCount, linePath, periodLabel, rangeStart, scale,
  type Snapshot } from "./analyticsModel";

describe("scale", () => {
  it("puts the largest value at the top and zero at the bottom", () => {
    const points = scale([0, 5, 10], 100, 50);
    expect(points.map((p) => [p.x, p.y])).toEqual([[0, 50], [50, 25], [100, 0]]);
  });
  it("keeps a fixed maximum (rates: 1)", () => {
    expect(scale([0.5], 100, 40, 1)[0]).toEqual({ x: 50, y: 20, value: 0.5 });
  });
  it("draws all zeros flat at the bottom", () => {
    expect(scale([0, 0], 10, 10).map((p) => p.y)).toEqual([10, 10]);
  });
});

describe("linePath", () => {
  it("breaks the line where a value is missing", () => {
    expect(linePath(scale([1, null, 1, 1], 30, 10))).toBe("M0.0,0.0 M20.0,0.0 L30.0,0.0");
  });
});

describe("periods", () => {
  it("looks 30 days back for days", () => {
    expect(rangeStart("day", new Date("2026-03-31T00:00:00Z")).toISOString()).toBe("2026-03-01T00:00:00.000Z");
  });
  it("labels a day in the organization's timezone, not the browser's", () => {
    const s = { period: "day", start: "2026-03-09T03:00:00Z", timezone: "America/Sao_Paulo" } as Snapshot;
    expect(periodLabel(s, "en-GB")).toBe("09/03");
  });
});

const day = (chatbots: Partial<Snapshot["chatbots"]>) =>
  ({ period: "day", chatbots: { total_executions: 0, completion_rate: null, avg_completion_time: null,
    handoff_rate: null, ...chatbots } }) as Snapshot;

describe("AI usage", () => {
  it("reads a period's calls and the provider's token counts", () => {
    expect(aiOf(day({ ai_calls: 2, ai_prompt_tokens: 74, ai_completion_tokens: 19, ai_tokens: 93 })))
      .toEqual({ calls: 2, prompt: 74, completion: 19, total: 93 });
  });
  it("counts 0 for a snapshot stored before AI usage was counted", () => {
    expect(aiOf(day({}))).toEqual({ calls: 0, prompt: 0, completion: 0, total: 0 });
    expect(aiOf(day({ ai_calls: null, ai_tokens: null }))).toEqual({ calls: 0, prompt: 0, completion: 0, total: 0 });
  });
  it("keeps the snapshot's own total (a call without usage adds a call, no tokens)", () => {
    expect(aiOf(day({ ai_calls: 3, ai_prompt_tokens: 10, ai_completion_tokens: 5 })).total).toBe(15);
    expect(aiOf(day({ ai_calls: 3, ai_prompt_tokens: 10, ai_completion_tokens: 5, ai_tokens: 15 }))).toEqual(
      { calls: 3, prompt: 10, completion: 5, total: 15 });
  });
  it("adds up the periods shown", () => {
    const items = [day({ ai_calls: 1, ai_prompt_tokens: 41, ai_completion_tokens: 7, ai_tokens: 48 }), day({}),
                   day({ ai_calls: 2, ai_prompt_tokens: 33, ai_completion_tokens: 12, ai_tokens: 45 })];
    expect(aiTotals(items)).toEqual({ calls: 3, prompt: 74, completion: 19, total: 93 });
    expect(aiTotals([])).toEqual({ calls: 0, prompt: 0, completion: 0, total: 0 });
  });
  it("writes counts the way each language groups digits", () => {
    expect(formatCount(1234567, "en")).toBe("1,234,567");
    expect(formatCount(1234567, "pt-BR")).toBe("1.234.567");
    expect(formatCount(null, "en")).toBe("—");
    expect(compactCount(950, "en")).toBe("950");
    expect(compactCount(48200, "en")).toBe("48.2K");
  });
});
