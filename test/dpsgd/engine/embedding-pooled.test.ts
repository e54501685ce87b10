/**
 * The Embedding → GlobalAveragePooling1D route (issue 19): the engine forms the mean of the looked-up
 * rows in the per-example module (`embeddingRule.linearMeanOverSteps`), skips the pooling layer, and
 * the rule takes its per-example terms from the gradient of the mean (`meanOverSteps`). Checked, on
 * cpu and wasm, against batch-of-one gradients (docs/testing.md section 5) for odd sizes, batch 1,
 * repeated tokens and the padding token 0 (tfjs's GlobalAveragePooling1D refuses a mask, so no
 * `maskZero`), through the tensor and the host-sum routes; that the route is taken (no `GatherV2` and no
 * `Mean` kernel run; with the route off `Mean` is); and the same results as the route switched off.
 * Negative control: a rule whose pooled norms ignore the token counts fails the same comparison.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { computeClippedSum } from "../../../src/dpsgd/gradients.js";
import { clippedGradients, embeddingRule, registerLayerRule, type LayerRule } from "../../../src/dpsgd/engine/index.js";
import { setEmbeddingPooledRoute } from "../../../src/dpsgd/engine/layers/embedding.js";
import { compareWithReference, lcg, randInt, referencePerExample } from "./reference.js";
import { randomizeWeights } from "./cases.js";

const TOL = 1e-5;

interface PooledCase {
  name: string;
  model: tf.LayersModel;
  x: tf.Tensor;
  y: tf.Tensor;
}

function pooledCases(): PooledCase[] {
  const r = lcg(1919);
  const out: PooledCase[] = [];
  const configs = [
    { n: 1, steps: 5, vocab: 7, dim: 4 },
    { n: 3, steps: 9, vocab: 6, dim: 8 },
    { n: 5, steps: 7, vocab: 11, dim: 12 },
    { n: 4, steps: 1, vocab: 3, dim: 4 },
  ];
  for (const c of configs) {
    // a quarter of each example padded with 0, the rest small ids: repeated tokens
    const ids = Array.from({ length: c.n * c.steps }, (_, p) =>
      p % c.steps >= c.steps - Math.floor(c.steps / 4) ? 0 : randInt(r, 0, c.vocab - 1),
    );
    const model = tf.sequential({
      layers: [
        tf.layers.embedding({ inputDim: c.vocab, outputDim: c.dim, inputLength: c.steps }),
        tf.layers.globalAveragePooling1d({}),
        tf.layers.dense({ units: 3, activation: "softmax" }),
      ],
    });
    randomizeWeights(model);
    out.push({
      name: `n=${c.n} T=${c.steps} V=${c.vocab} D=${c.dim}`,
      model,
      x: tf.tensor2d(ids, [c.n, c.steps], "int32"),
      y: tf.tensor1d(Array.from({ length: c.n }, () => randInt(r, 0, 2))),
    });
  }
  return out;
}

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Kernel names run by the engine once on the case. */
async function kernelsRun(c: PooledCase, clip: number): Promise<string[]> {
  let names: string[] = [];
  const info = await tf.profile(() => {
    const r = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: "sparseCategoricalCrossentropy", l2NormClip: clip });
    tf.dispose(r.clippedSum);
  });
  names = info.kernels.map((k) => k.name);
  return names;
}

describe.each(["cpu", "wasm"] as const)("Embedding → GlobalAveragePooling1D route on %s", (backend) => {
  let cases: PooledCase[] = [];
  afterAll(() => {
    setEmbeddingPooledRoute({ enabled: true });
    registerLayerRule(embeddingRule);
    for (const c of cases) {
      c.model.dispose();
      tf.dispose([c.x, c.y]);
    }
  });

  it("equals batch-of-one gradients (tensor and host-sum routes) and the route switched off; no lookup, no Mean kernel", async () => {
    await prepareBackend({ backend, announce: false });
    cases = pooledCases();
    for (const c of cases) {
      const ref = referencePerExample(c.model, c.x, c.y, "sparseCategoricalCrossentropy");
      for (const clip of [median(ref.norms), 10 * Math.max(...ref.norms)]) {
        const on = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: "sparseCategoricalCrossentropy", l2NormClip: clip });
        const cmp = compareWithReference(on, ref, clip);
        expect(cmp.keysMatch, c.name).toBe(true);
        expect(cmp.normError, `${c.name}: norms`).toBeLessThanOrEqual(TOL);
        expect(cmp.sumError, `${c.name}: sum`).toBeLessThanOrEqual(TOL);
        // the DP step's host-sum route
        const parts = computeClippedSum({ model: c.model, loss: "sparseCategoricalCrossentropy", x: c.x, y: c.y, l2NormClip: clip });
        const hostSum: tf.NamedTensorMap = {};
        parts.names.forEach((name, k) => (hostSum[name] = tf.tensor(parts.sums[k], parts.shapes[k])));
        const viaHost = compareWithReference(
          { clippedSum: hostSum, norms: parts.norms, lossValue: 0, batchSize: parts.batchSize },
          ref,
          clip,
        );
        expect(viaHost.normError, `${c.name}: host norms`).toBeLessThanOrEqual(TOL);
        expect(viaHost.sumError, `${c.name}: host sum`).toBeLessThanOrEqual(TOL);
        tf.dispose(hostSum);
        // the same as the route switched off (the [N, T, D] lookup and the broadcast gradient)
        setEmbeddingPooledRoute({ enabled: false });
        const off = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: "sparseCategoricalCrossentropy", l2NormClip: clip });
        setEmbeddingPooledRoute({ enabled: true });
        for (let i = 0; i < on.norms.length; i++)
          expect(Math.abs(on.norms[i] - off.norms[i])).toBeLessThanOrEqual(1e-6 * Math.max(1, off.norms[i]));
        for (const name of Object.keys(off.clippedSum)) {
          const a = on.clippedSum[name].dataSync();
          const b = off.clippedSum[name].dataSync();
          const scale = Math.max(1e-30, ...Array.from(b, Math.abs));
          for (let j = 0; j < b.length; j++) expect(Math.abs(a[j] - b[j]) / scale, `${c.name}: ${name}`).toBeLessThanOrEqual(1e-6);
        }
        tf.dispose([on.clippedSum, off.clippedSum]);
      }
      const clip = median(ref.norms);
      const taken = await kernelsRun(c, clip);
      expect(taken, c.name).not.toContain("GatherV2");
      expect(taken, c.name).not.toContain("Mean");
      setEmbeddingPooledRoute({ enabled: false });
      const notTaken = await kernelsRun(c, clip);
      setEmbeddingPooledRoute({ enabled: true });
      expect(notTaken, c.name).toContain("Mean");
    }
  });

  it("negative control: pooled norms that ignore the token counts (sum_v c_v instead of sum_v c_v^2) fail", () => {
    const c = cases.find((k) => k.name.startsWith("n=3")) ?? cases[1];
    const ref = referencePerExample(c.model, c.x, c.y, "sparseCategoricalCrossentropy");
    const clip = median(ref.norms);
    const steps = c.x.shape[1] as number;
    const broken: LayerRule = {
      ...embeddingRule,
      perExample(layer, args) {
        const terms = embeddingRule.perExample(layer, args);
        if (args.meanOverSteps !== true) throw new Error("the pooled route was not taken");
        // ‖h_i‖² · T: every position a row of its own (repeated tokens not summed)
        const dy = args.outputGradient.arraySync() as number[][];
        const sq = dy.map((row) => steps * row.reduce((s, v) => s + (v / steps) ** 2, 0));
        return { ...terms, squaredNorms: tf.tensor1d(sq) };
      },
    };
    registerLayerRule(broken);
    try {
      const r = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: "sparseCategoricalCrossentropy", l2NormClip: clip });
      const cmp = compareWithReference(r, ref, clip);
      tf.dispose(r.clippedSum);
      expect(cmp.normError).toBeGreaterThan(1e-2);
    } finally {
      registerLayerRule(embeddingRule);
    }
    const r = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: "sparseCategoricalCrossentropy", l2NormClip: clip });
    expect(compareWithReference(r, ref, clip).normError).toBeLessThanOrEqual(TOL);
    tf.dispose(r.clippedSum);
  });
});
