// `onBackendActivated` keeps its documented promise: a hook registered after a backend is already
// active runs at once. The case that broke: prepareBackend() picks wasm *before* dpkit/dpsgd is
// imported, so dpkit's wasm kernels never registered and plain tfjs Embedding training failed
// with "UnsortedSegmentSum not registered". Run in a child process so the import order is real.
import { spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../helpers/cli.js";

function runModule(name: string, code: string): { status: number | null; stdout: string; stderr: string } {
  const dir = path.join(projectRoot, "test/docs/.run");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, name);
  writeFileSync(file, code);
  const r = spawnSync(process.execPath, ["--import", "tsx", file], { cwd: projectRoot, encoding: "utf8", timeout: 120_000 });
  rmSync(file, { force: true });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const embeddingTraining = (importDpsgd: boolean) => `
import * as tf from "@tensorflow/tfjs";
import { prepareBackend, onBackendActivated } from "${projectRoot}/src/backend/index.js";
const info = await prepareBackend({ backend: "wasm", announce: false });
let late = "";
onBackendActivated((name) => { late = name; });
${importDpsgd ? `const { DPKIT_WASM_KERNELS } = await import("${projectRoot}/src/dpsgd/index.js");` : "const DPKIT_WASM_KERNELS = [];"}
const model = tf.sequential({ layers: [
  tf.layers.embedding({ inputDim: 20, outputDim: 4, inputLength: 3 }),
  tf.layers.flatten(),
  tf.layers.dense({ units: 2, activation: "softmax" }),
] });
model.compile({ optimizer: "sgd", loss: "sparseCategoricalCrossentropy" });
const x = tf.tensor2d([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 5, 9]], [4, 3], "int32");
const y = tf.tensor1d([0, 1, 0, 1]);
const h = await model.fit(x, y, { epochs: 2, batchSize: 2, verbose: 0 });
console.log(JSON.stringify({ backend: info.name, late, kernels: DPKIT_WASM_KERNELS.filter((k) => tf.getKernel(k, "wasm") !== undefined), loss: h.history.loss.length }));
`;

describe("onBackendActivated after the backend is active", () => {
  it("prepareBackend() before importing dpkit/dpsgd: dpkit's wasm kernels register and Embedding trains", () => {
    const r = runModule("activation-late-import.mts", embeddingTraining(true));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim());
    expect(out.backend).toBe("wasm");
    expect(out.late).toBe("wasm"); // a hook registered late ran at once
    expect(out.kernels).toContain("UnsortedSegmentSum");
    expect(out.loss).toBe(2);
  });

  it("control: without dpkit/dpsgd the wasm backend lacks UnsortedSegmentSum and the same training fails", () => {
    const r = runModule("activation-no-dpsgd.mts", embeddingTraining(false));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/UnsortedSegmentSum/);
  });
});
