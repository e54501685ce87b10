/**
 * Executes Jupyter notebooks (TypeScript kernel, tslab semantics) headless, without Jupyter:
 * the code cells of each notebook run in order as one ES module under tsx, so declarations made
 * in one cell are visible in the next and top-level `await` works, as in tslab. `dpkit` imports
 * resolve to src/ (tsconfig paths) and `tslab`'s `display` is recorded.
 *
 * Usage: tsx scripts/run-notebooks.ts [--write] [notebooks/x.ipynb ...]
 *   --write  store each cell's printed output and displays back into the notebook
 * Exit code 1 if any notebook fails; the failing cell is named.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const MARK = "\u0000CELL ";

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
  metadata?: unknown;
}
interface Notebook {
  cells: Cell[];
  [k: string]: unknown;
}

/** Result of running one notebook. */
export interface NotebookRun {
  file: string;
  ok: boolean;
  failedCell?: number;
  error?: string;
  seconds: number;
  outputs: Map<number, { stdout: string; displays: { mime: string; data: string }[] }>;
}

function sourceOf(c: Cell): string {
  return Array.isArray(c.source) ? c.source.join("") : c.source;
}

/** Runs one notebook and returns what each code cell printed. */
export function runNotebook(file: string, timeoutMs = 600_000): NotebookRun {
  const nb = JSON.parse(readFileSync(file, "utf8")) as Notebook;
  const codeCells = nb.cells.map((c, i) => [c, i] as const).filter(([c]) => c.cell_type === "code");
  const parts: string[] = [];
  for (const [c, i] of codeCells) {
    parts.push(`process.stdout.write(${JSON.stringify(MARK + i + "\n")});`);
    parts.push(`// ---- cell ${i}\n${sourceOf(c)}\n;`);
  }
  parts.push(`process.stdout.write(${JSON.stringify(MARK + "end\n")});`);
  const runDir = path.join(path.dirname(file), ".run");
  mkdirSync(runDir, { recursive: true });
  const mod = path.join(runDir, path.basename(file).replace(/\.ipynb$/, ".mts"));
  // Imports written relative to notebooks/ must resolve from .run/ the same way.
  writeFileSync(mod, parts.join("\n").replace(/from "\.\.\//g, 'from "../../'));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["--import", import.meta.resolve("tsx"), mod], {
    cwd: path.dirname(file),
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, TSX_TSCONFIG_PATH: path.join(root, "tsconfig.json"), DPKIT_NOTEBOOK: "1" },
  });
  const seconds = (Date.now() - t0) / 1000;
  rmSync(mod, { force: true });
  const outputs: NotebookRun["outputs"] = new Map();
  let current = -1;
  for (const line of (r.stdout ?? "").split("\n")) {
    if (line.startsWith(MARK)) {
      const tag = line.slice(MARK.length);
      current = tag === "end" ? -2 : Number(tag);
      if (current >= 0) outputs.set(current, { stdout: "", displays: [] });
      continue;
    }
    const o = outputs.get(current);
    if (!o) continue;
    if (line.startsWith("\u0000DISPLAY ")) {
      const [, mime, b64] = line.split(" ");
      o.displays.push({ mime, data: Buffer.from(b64, "base64").toString() });
    } else o.stdout += line + "\n";
  }
  const ok = r.status === 0 && current === -2;
  const started = [...outputs.keys()];
  return {
    file,
    ok,
    failedCell: ok ? undefined : started[started.length - 1],
    error: ok ? undefined : (r.error?.message ?? "") + (r.stderr ?? "").split("\n").slice(-15).join("\n"),
    seconds,
    outputs,
  };
}

function writeOutputs(file: string, run: NotebookRun): void {
  const nb = JSON.parse(readFileSync(file, "utf8")) as Notebook;
  let count = 0;
  nb.cells.forEach((c, i) => {
    if (c.cell_type !== "code") return;
    const o = run.outputs.get(i);
    c.execution_count = ++count;
    c.outputs = [];
    if (!o) return;
    const text = o.stdout.replace(/\n+$/, "\n");
    if (text.trim()) c.outputs.push({ name: "stdout", output_type: "stream", text: text.split(/(?<=\n)/) });
    for (const d of o.displays) c.outputs.push({ output_type: "display_data", data: { [d.mime]: d.data }, metadata: {} });
  });
  writeFileSync(file, JSON.stringify(nb, null, 1) + "\n");
}

/** The notebooks in notebooks/, sorted. */
export function listNotebooks(): string[] {
  const dir = path.join(root, "notebooks");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ipynb"))
    .sort()
    .map((f) => path.join(dir, f));
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const write = args.includes("--write");
  const files = args.filter((a) => !a.startsWith("--"));
  let failed = 0;
  for (const f of files.length ? files.map((f) => path.resolve(f)) : listNotebooks()) {
    const run = runNotebook(f);
    process.stdout.write(`${run.ok ? "ok  " : "FAIL"} ${path.relative(root, f)} (${run.seconds.toFixed(1)} s)\n`);
    if (!run.ok) {
      failed++;
      process.stdout.write(`  failed in cell ${run.failedCell}:\n${run.error}\n`);
    } else if (write) writeOutputs(f, run);
  }
  process.exitCode = failed ? 1 : 0;
}
