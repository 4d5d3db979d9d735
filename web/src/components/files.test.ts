import { describe, expect, it } from "vitest";
import { fileStem, parseCanvas } from "./files";

describe("parseCanvas", () => {
  it("accepts a canvas and defaults its edges", () => {
    const canvas = parseCanvas(JSON.stringify({ nodes: [{ id: "s", type: "start", position: { x: 0, y: 0 }, data: {} }] }));
    expect(canvas.nodes.map((n) => n.id)).toEqual(["s"]);
    expect(canvas.edges).toEqual([]);
  });

  it("says why a file is not a canvas", () => {
    expect(() => parseCanvas("{nodes: [")).toThrow("not a JSON file");
    expect(() => parseCanvas("[1, 2]")).toThrow("not a JSON object");
    expect(() => parseCanvas('{"edges": []}')).toThrow("no `nodes` list");
    expect(() => parseCanvas('{"nodes": [], "edges": {}}')).toThrow("`edges` is not a list");
    expect(() => parseCanvas('{"nodes": [{"id": "a"}]}')).toThrow("node 1 has no `id` and `type`");
  });
});

describe("fileStem", () => {
  it("names an imported flow after its file", () => {
    expect(fileStem("Pedido de pizza.json")).toBe("Pedido de pizza");
    expect(fileStem("***.json")).toBe("imported");
  });
});
