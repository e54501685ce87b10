/**
 * Executes the notebooks in real Jupyter: `jupyter nbconvert --to notebook --execute` with the
 * Deno kernel (the `deno` npm package, pinned in devDependencies). Cells are plain ES-module
 * TypeScript with top-level await; `import … from "dpkit/…"` resolves through the repository's
 * own package.json `exports` to the built `dist/` (rebuilt first when `src/` is newer).
 *
 * Usage: tsx scripts/run-notebooks.ts [--check] [notebooks/x.ipynb ...]
 *   (default)  execute each notebook and write its outputs (plots included) back into the file
 *   --check    execute into a temporary folder; the committed files are left as they are
 * Exit code 1 if any notebook fails; the failing cell is named.
 *
 * Needs Debian's `jupyter-nbconvert` and `python3-ipykernel` (installed by .ci/run). The Deno
 * kernel spec is written to a folder inside node_modules/.cache and found through JUPYTER_PATH,
 * so nothing is registered in the user's home directory.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ensureBuilt } from "./ensure-built.js";

export { ensureBuilt };

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** The Jupyter front end: Debian's, whatever python comes first on PATH. */
export const JUPYTER = process.env.DPKIT_JUPYTER ?? "/usr/bin/jupyter";
/** The kernel spec name the notebooks name in their metadata. */
export const KERNEL_NAME = "deno";

/** Result of executing one notebook. */
export interface NotebookRun {
  file: string;
  ok: boolean;
  /** Index (in `cells`) of the cell that failed. */
  failedCell?: number;
  error?: string;
  seconds: number;
  /** The executed notebook (the file itself, or a copy in a temporary folder with --check). */
  output: string;
}

interface Cell {
  cell_type: string;
  source: string | string[];
  outputs?: { output_type: string; ename?: string; evalue?: string }[];
}

function sourceOf(c: Cell): string {
  return Array.isArray(c.source) ? c.source.join("") : c.source;
}

/** The deno binary of the `deno` npm package. */
export function denoBinary(): string {
  const bin = path.join(root, "node_modules/.bin/deno");
  const r = spawnSync(bin, ["eval", "console.log(Deno.execPath())"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`the deno binary does not run (npm install installs it): ${r.stderr || r.error?.message}`);
  return r.stdout.trim();
}

/** Writes the Deno kernel spec into node_modules/.cache and returns the folder for JUPYTER_PATH. */
export function kernelPath(): string {
  const dir = path.join(root, "node_modules/.cache/dpkit-jupyter");
  const spec = path.join(dir, "kernels", KERNEL_NAME);
  mkdirSync(spec, { recursive: true });
  const kernel = {
    argv: [denoBinary(), "jupyter", "--kernel", "--conn", "{connection_file}"],
    display_name: "Deno",
    language: "typescript",
    env: { NO_COLOR: "1" },
  };
  writeFileSync(path.join(spec, "kernel.json"), JSON.stringify(kernel, null, 2) + "\n");
  return dir;
}

/** Finds which cell failed: the first code cell with an error output, else the one nbconvert quotes. */
function failedCellOf(executed: string | undefined, original: string, stderr: string): number | undefined {
  for (const file of [executed, original]) {
    if (!file || !existsSync(file)) continue;
    const cells = (JSON.parse(readFileSync(file, "utf8")) as { cells: Cell[] }).cells;
    const i = cells.findIndex((c) => c.cell_type === "code" && (c.outputs ?? []).some((o) => o.output_type === "error"));
    if (i >= 0) return i;
    const quoted = /executing the following cell:\n-+\n([\s\S]*?)\n-+\n/.exec(stderr)?.[1];
    if (quoted !== undefined) {
      const j = cells.findIndex((c) => c.cell_type === "code" && sourceOf(c).trim() === quoted.trim());
      if (j >= 0) return j;
    }
  }
  return undefined;
}

/**
 * Executes one notebook with `jupyter nbconvert --to notebook --execute`.
 *
 * @param file - the .ipynb file
 * @param options - `inplace` writes the outputs into the file; otherwise into `outputDir`
 */
export function executeNotebook(
  file: string,
  options: { inplace: boolean; outputDir?: string; timeoutSeconds?: number; jupyterPath?: string },
): NotebookRun {
  const jupyterPath = options.jupyterPath ?? kernelPath();
  const outputDir = options.inplace ? path.dirname(file) : (options.outputDir ?? mkdtempSync(path.join(os.tmpdir(), "dpkit-nb-")));
  const args = [
    "nbconvert",
    "--to",
    "notebook",
    "--execute",
    `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
    `--ExecutePreprocessor.timeout=${options.timeoutSeconds ?? 900}`,
    "--ExecutePreprocessor.record_timing=False",
    ...(options.inplace ? ["--inplace"] : ["--output-dir", outputDir]),
    file,
  ];
  const t0 = Date.now();
  const r = spawnSync(JUPYTER, args, {
    cwd: path.dirname(file),
    encoding: "utf8",
    timeout: ((options.timeoutSeconds ?? 900) + 120) * 1000,
    maxBuffer: 256 * 1024 * 1024,
    env: {
      ...process.env,
      // Debian's jupyter and ipykernel, not a python found earlier on PATH (pyenv).
      PATH: `/usr/bin:${process.env.PATH ?? ""}`,
      JUPYTER_PATH: jupyterPath,
      NO_COLOR: "1",
      PYDEVD_DISABLE_FILE_VALIDATION: "1",
    },
  });
  const seconds = (Date.now() - t0) / 1000;
  const output = path.join(outputDir, path.basename(file));
  const ok = r.status === 0;
  const error = ok
    ? undefined
    : `${r.error?.message ?? ""}${r.stderr ?? ""}`
        .split("\n")
        .filter((l) => !/Warning|validate\(nb\)/.test(l))
        .slice(-40)
        .join("\n");
  return {
    file,
    ok,
    failedCell: ok ? undefined : failedCellOf(options.inplace ? undefined : output, file, r.stderr ?? ""),
    error,
    seconds,
    output,
  };
}

/** The notebooks in notebooks/, sorted. */
export function listNotebooks(): string[] {
  const dir = path.join(root, "notebooks");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".ipynb") && !f.startsWith("."))
    .sort()
    .map((f) => path.join(dir, f));
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const check = args.includes("--check");
  const files = args.filter((a) => !a.startsWith("--"));
  ensureBuilt();
  const jupyterPath = kernelPath();
  const scratch = check ? mkdtempSync(path.join(os.tmpdir(), "dpkit-nb-")) : undefined;
  let failed = 0;
  for (const f of files.length ? files.map((f) => path.resolve(f)) : listNotebooks()) {
    const run = executeNotebook(f, { inplace: !check, outputDir: scratch, jupyterPath });
    process.stdout.write(`${run.ok ? "ok  " : "FAIL"} ${path.relative(root, f)} (${run.seconds.toFixed(1)} s)\n`);
    if (!run.ok) {
      failed++;
      process.stdout.write(`  failed in cell ${run.failedCell}:\n${run.error}\n`);
    }
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true });
  process.exitCode = failed ? 1 : 0;
}
