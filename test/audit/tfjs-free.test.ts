/**
 * The statistics and the step audits of dpkit/audit import no TensorFlow.js (transitively), so
 * they stay usable, and fast to load, without a model. Checked by bundling them with esbuild and
 * reading the bundle's inputs; the membership-inference file is the positive control.
 */
import { describe, expect, it } from "vitest";
import { build } from "esbuild";
import path from "node:path";
import { projectRoot } from "../helpers/cli.js";

async function inputsOf(files: string[]): Promise<string[]> {
  const contents = files.map((f) => `export * from ${JSON.stringify(path.join(projectRoot, "src/audit", f))};`).join("\n");
  const r = await build({
    stdin: { contents, resolveDir: projectRoot, loader: "ts" },
    bundle: true,
    write: false,
    platform: "node",
    format: "esm",
    metafile: true,
    logLevel: "silent",
    external: ["@resvg/*"],
  });
  return Object.keys(r.metafile.inputs);
}

describe("dpkit/audit module boundaries", () => {
  it("statistics, one-run, step and round audits, ROC plot: no @tensorflow in the import graph", async () => {
    const inputs = await inputsOf([
      "clopper-pearson.ts",
      "epsilon.ts",
      "threshold.ts",
      "roc.ts",
      "one-run.ts",
      "dpsgd-step.ts",
      "fedavg-round.ts",
      "plot.ts",
    ]);
    expect(inputs.some((i) => i.includes("src/dpsgd/privatize.ts"))).toBe(true);
    expect(inputs.filter((i) => i.includes("@tensorflow"))).toEqual([]);
  });

  it("control: membership inference does import tfjs", async () => {
    const inputs = await inputsOf(["mia.ts"]);
    expect(inputs.some((i) => i.includes("@tensorflow"))).toBe(true);
  });
});
