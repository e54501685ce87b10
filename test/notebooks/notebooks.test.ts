import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JUPYTER, ensureBuilt, executeNotebook, kernelPath, listNotebooks } from "../../scripts/run-notebooks.js";

// Every notebook in notebooks/ is executed in real Jupyter (nbconvert + the Deno kernel), into a
// temporary folder, so none can rot; a failing cell fails the suite and is named.
const haveJupyter = existsSync(JUPYTER);
if (!haveJupyter && process.env.CI) throw new Error(`${JUPYTER} is missing: .ci/run must install jupyter-nbconvert and python3-ipykernel`);

interface Nb {
  cells: { cell_type: string; execution_count?: number | null; outputs?: { output_type: string }[] }[];
  metadata: { kernelspec?: { name?: string } };
}
const read = (f: string): Nb => JSON.parse(readFileSync(f, "utf8"));

describe("notebooks as committed", () => {
  const files = listNotebooks();
  it("are numbered 01, 02, … without gaps", () => {
    const numbers = files.map((f) => Number(path.basename(f).slice(0, 2)));
    expect(numbers).toEqual(numbers.map((_, i) => i + 1));
    for (const f of files) expect(path.basename(f)).toMatch(/^\d\d-[a-z0-9-]+\.ipynb$/);
  });
  for (const file of files) {
    it(`${path.basename(file)} names the Deno kernel and holds the outputs of a full run`, () => {
      const nb = read(file);
      expect(nb.metadata.kernelspec?.name).toBe("deno");
      const counts = nb.cells.filter((c) => c.cell_type === "code").map((c) => c.execution_count);
      expect(counts).toEqual(counts.map((_, i) => i + 1));
      for (const c of nb.cells) expect((c.outputs ?? []).filter((o) => o.output_type === "error")).toEqual([]);
    });
  }
});

describe.skipIf(!haveJupyter)("notebooks run in Jupyter (Deno kernel)", () => {
  let scratch: string;
  let jupyterPath: string;
  beforeAll(() => {
    ensureBuilt();
    jupyterPath = kernelPath();
    scratch = mkdtempSync(path.join(os.tmpdir(), "dpkit-nb-test-"));
  }, 300_000);
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  for (const file of listNotebooks()) {
    it(path.basename(file), () => {
      const run = executeNotebook(file, { inplace: false, outputDir: scratch, jupyterPath });
      expect(run.error ?? "", `failed in cell ${run.failedCell}`).toBe("");
      expect(run.ok).toBe(true);
      const counts = read(run.output).cells.filter((c) => c.cell_type === "code").map((c) => c.execution_count);
      expect(counts.every((n) => typeof n === "number")).toBe(true);
    }, 900_000);
  }

  it("control: a notebook with a failing cell is reported as failing, naming the cell", () => {
    // Written beside the others (so it resolves dpkit the same way), removed at once.
    const dir = path.dirname(listNotebooks()[0]);
    const f = path.join(dir, `.control-${process.pid}.ipynb`);
    const cell = (s: string) => ({ cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: [s] });
    const md = { cell_type: "markdown", metadata: {}, source: ["# control"] };
    const nb = {
      cells: [md, cell('import { gaussianEvent } from "dpkit/accounting";\nconst a = gaussianEvent(1).noiseMultiplier;'), cell("throw new Error('boom ' + a);"), cell("console.log('never');")],
      metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    writeFileSync(f, JSON.stringify(nb));
    try {
      const run = executeNotebook(f, { inplace: false, outputDir: scratch, jupyterPath });
      expect(run.ok).toBe(false);
      expect(run.failedCell).toBe(2);
      expect(run.error).toMatch(/boom 1/);
    } finally {
      rmSync(f, { force: true });
    }
  }, 300_000);
});
