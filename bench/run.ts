/**
 * Runs the benchmarks in bench/ (every `*.bench.ts`, or those named on the command line:
 * `npm run bench -- noise accounting`). Each prints a table and, as its last line, one JSON
 * object (see docs/performance.md). Never part of `npm test`.
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.dirname(fileURLToPath(import.meta.url));
const wanted = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
if (files.length === 0) {
  console.log(wanted.length ? `no benchmark matches ${wanted.join(", ")}` : "no benchmarks yet");
}
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(dir, f)], { stdio: "inherit" });
  if (r.status !== 0) failed++;
}
process.exitCode = failed ? 1 : 0;
