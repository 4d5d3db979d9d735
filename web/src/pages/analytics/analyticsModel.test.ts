import { describe, expect, it } from "vitest";
import { linePath, periodLabel, rangeStart, scale, type Snapshot } from "./analyticsModel";

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
