import { describe, expect, it } from "vitest";
import path from "node:path";
import { listNotebooks, runNotebook } from "../../scripts/run-notebooks.js";

// Every notebook in notebooks/ is executed headless, cell by cell in order, so none can rot.
describe("notebooks run", () => {
  for (const file of listNotebooks()) {
    it(path.basename(file), () => {
      const run = runNotebook(file);
      expect(run.error ?? "", `failed in cell ${run.failedCell}`).toBe("");
      expect(run.ok).toBe(true);
    }, 600_000);
  }

  it("control: a notebook with a failing cell is reported as failing", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const os = await import("node:os");
    const dir = mkdtempSync(path.join(os.tmpdir(), "nb-"));
    const f = path.join(dir, "bad.ipynb");
    const cell = (s: string) => ({ cell_type: "code", metadata: {}, outputs: [], execution_count: null, source: [s] });
    writeFileSync(f, JSON.stringify({ cells: [cell("const a = 1;"), cell("throw new Error('boom ' + a);")], metadata: {}, nbformat: 4, nbformat_minor: 5 }));
    const run = runNotebook(f);
    expect(run.ok).toBe(false);
    expect(run.failedCell).toBe(1);
    expect(run.error).toMatch(/boom 1/);
  });
});
