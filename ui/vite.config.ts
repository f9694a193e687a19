import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

// Output goes straight into the Rust crate's embed/ folder (committed, served by src/ui.rs).
// Hashed names get immutable caching there; scripts/postbuild.mjs adds the .gz siblings.
export default defineConfig({
  plugins: [solid()],
  base: "/",
  build: {
    outDir: "../embed",
    emptyOutDir: true,
    target: "es2020",
    assetsDir: "assets",
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:7655",
      "/ws": { target: "ws://127.0.0.1:7655", ws: true },
    },
  },
  test: {
    environment: "node",
    include: ["src/**/*.test.ts"],
  },
} as any);
