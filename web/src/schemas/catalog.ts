// Node types and their JSON Schemas, read at build time from ../flow_schemas
// (the compiler validates against the same files).
import type { JsonSchema } from "./form";

const files = import.meta.glob<JsonSchema>("../../../flow_schemas/nodes/*.schema.json", {
  eager: true,
  import: "default",
});

export const NODE_SCHEMAS: Record<string, JsonSchema> = Object.fromEntries(
  Object.entries(files).map(([path, schema]) => [
    path.split("/").pop()!.replace(".schema.json", ""),
    schema,
  ]),
);

// Palette order: the order of the canvas schema's node type enum.
import canvasSchema from "../../../flow_schemas/canvas.schema.json";

export const NODE_TYPES: string[] = (
  canvasSchema as { $defs: { node: { properties: { type: { enum: string[] } } } } }
).$defs.node.properties.type.enum.filter((t) => t in NODE_SCHEMAS);
