// Bundles the pages' scripts (esbuild) and copies the static files into
// dist/, which is committed: the Rust build embeds dist/ and needs no Node.
// HOTLINE_WEB_OUT builds elsewhere (the test command compares that build
// with the committed one).
import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";

const out = process.env.HOTLINE_WEB_OUT || "dist";
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ["src/agent.js", "src/supervisor.js", "src/caller.js", "src/admin.js"],
  bundle: true,
  format: "esm",
  // The generated API and the protobuf runtime go in one shared chunk.
  splitting: true,
  chunkNames: "shared-[hash]",
  minify: true,
  sourcemap: false,
  target: ["chrome110", "firefox110", "safari16"],
  outdir: out,
  legalComments: "none",
});
cpSync("static", out, { recursive: true });
