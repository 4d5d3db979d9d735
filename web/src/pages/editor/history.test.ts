import { describe, expect, it } from "vitest";
import { History } from "./history";

describe("History", () => {
  it("undoes edits in reverse order and redoes them forward", () => {
    const h = new History<string>();
    h.record("a"); // a -> b
    h.record("b"); // b -> c
    expect(h.undo("c")).toBe("b");
    expect(h.undo("b")).toBe("a");
    expect(h.undo("a")).toBeNull();
    expect(h.redo("a")).toBe("b");
    expect(h.redo("b")).toBe("c");
    expect(h.redo("c")).toBeNull();
  });

  it("a new edit after an undo drops what could be redone", () => {
    const h = new History<string>();
    h.record("a");
    expect(h.undo("b")).toBe("a");
    expect(h.canRedo).toBe(true);
    h.record("a"); // a -> x
    expect(h.canRedo).toBe(false);
    expect(h.undo("x")).toBe("a");
  });

  it("keeps at most `limit` steps, forgetting the oldest", () => {
    const h = new History<number>(3);
    for (let i = 0; i < 5; i++) h.record(i);
    expect([h.undo(5), h.undo(4), h.undo(3), h.undo(2)]).toEqual([4, 3, 2, null]);
  });
});
