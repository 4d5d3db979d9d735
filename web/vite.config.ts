/// <reference types="vitest/config" />
// The PyTake web app. `npm run build` writes web/dist, which `pytake serve`
// serves at `/`. Node schemas are read from ../flow_schemas at build time
// (src/schemas/catalog.ts): one source of truth for the compiler and the forms.
import { defineConfig } from "vite";

export default defineConfig({
  esbuild: { jsx: "automatic" },
  server: {
    fs: { allow: [".."] },
    // `npm exec vite` during development: the API runs on :8000.
    proxy: Object.fromEntries(
      ["/auth", "/chatbots", "/flows", "/health"].map((p) => [p, "http://127.0.0.1:8000"]),
    ),
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      // @xyflow/react marks itself "use client" (for React Server Components): harmless here.
      onwarn(warning, warn) {
        if (warning.code !== "MODULE_LEVEL_DIRECTIVE") warn(warning);
      },
    },
  },
  test: { environment: "node", include: ["src/**/*.test.ts"] },
});
