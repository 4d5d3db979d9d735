import { describe, expect, it } from "vitest";
import type { Diagnostic } from "../../api/types";
import { byNode, sameDiagnostics } from "./DiagnosticsContext";
import { PerNode } from "./perNode";

const d = (node_id: string | null, message: string, severity = "error") =>
  ({ code: "x", node_id, path: null, message, severity }) as unknown as Diagnostic;

describe("PerNode", () => {
  it("keeps an entry's old value when the new one is the same, so that its node does not draw again", () => {
    const store = new PerNode<Diagnostic[]>();
    let calls = 0;
    store.subscribe(() => calls++);
    store.set(byNode([d("a", "no text"), d("b", "no next")]), sameDiagnostics);
    const [a, b] = [store.get("a"), store.get("b")];
    store.set(byNode([d("a", "no text"), d("b", "no variable")]), sameDiagnostics);
    expect(calls).toBe(2);
    expect(store.get("a")).toBe(a);
    expect(store.get("b")).not.toBe(b);
    expect(store.get("b")?.[0].message).toBe("no variable");
    store.set(new Map());
    expect(store.get("a")).toBeUndefined();
  });
});

describe("byNode", () => {
  it("indexes the diagnostics by node once, in order, leaving out those about no node", () => {
    const map = byNode([d("a", "1"), d(null, "canvas"), d("b", "2"), d("a", "3", "warning")]);
    expect([...map.keys()]).toEqual(["a", "b"]);
    expect(map.get("a")?.map((x) => x.message)).toEqual(["1", "3"]);
  });
});
