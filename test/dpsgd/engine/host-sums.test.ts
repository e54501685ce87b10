/**
 * The DP step's route for sums a rule forms on the host (`weightedSumHost`, the Embedding rule):
 * `computeClippedSum` takes them as arrays (no tensor, noise added in place later). Checked against
 * batch-of-one gradients like every rule (docs/testing.md section 5), on cpu and wasm; negative
 * control: a host sum that ignores the clip factors fails the same comparison while the tensor
 * route of the same rule still passes.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { computeClippedSum } from "../../../src/dpsgd/gradients.js";
import { clippedGradients, embeddingRule, registerLayerRule, type LayerRule } from "../../../src/dpsgd/engine/index.js";
import { clippedGradientsWithHostSums } from "../../../src/dpsgd/engine/clipped-gradients.js";
import { structuredCases, type Case } from "./cases.js";
import { compareWithReference, referencePerExample, type Comparison } from "./reference.js";

const TOL = 1e-5;

function median(v: number[]): number {
  const s = v.filter((x) => x > 0).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 1;
}

/** The DP step's clipped sum (host arrays where a rule forms them) against the reference. */
function hostRoute(c: Case, clip: number, ref: ReturnType<typeof referencePerExample>): Comparison {
  const parts = computeClippedSum({ model: c.model, loss: c.loss, x: c.x, y: c.y, l2NormClip: clip });
  const clippedSum: tf.NamedTensorMap = {};
  parts.names.forEach((name, k) => (clippedSum[name] = tf.tensor(parts.sums[k], parts.shapes[k])));
  try {
    return compareWithReference({ clippedSum, norms: parts.norms, lossValue: 0, batchSize: parts.batchSize }, ref, clip);
  } finally {
    tf.dispose(clippedSum);
  }
}

describe.each(["cpu", "wasm"] as const)("host sums on %s", (backend) => {
  const cases: Case[] = [];
  afterAll(() => {
    registerLayerRule(embeddingRule);
    for (const c of cases) {
      c.model.dispose();
      tf.dispose([c.x, c.y]);
    }
  });

  it("the Embedding rule's host sum equals batch-of-one gradients, and the DP step takes it", async () => {
    await prepareBackend({ backend, announce: false });
    cases.push(...structuredCases().filter((c) => c.name.startsWith("embedding")));
    expect(cases.length).toBeGreaterThan(0);
    for (const c of cases) {
      // computeClippedSum runs in training mode: these models have no Dropout, so it equals the reference's inference mode.
      const ref = referencePerExample(c.model, c.x, c.y, c.loss);
      const clip = median(ref.norms);
      const table = (c.model.layers[0].trainableWeights[0].read() as tf.Variable).name;
      const r = clippedGradientsWithHostSums({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip }, true);
      expect(Object.keys(r.hostSums), c.name).toEqual([table]);
      expect(r.clippedSum[table], c.name).toBeUndefined();
      tf.dispose(r.clippedSum);
      const cmp = hostRoute(c, clip, ref);
      expect(cmp.keysMatch, c.name).toBe(true);
      expect(cmp.normError, `${c.name}: norms`).toBeLessThanOrEqual(TOL);
      expect(cmp.sumError, `${c.name}: sum`).toBeLessThanOrEqual(TOL);
    }
  });

  it("negative control: a host sum that ignores the clip factors fails (the tensor route of the same rule passes)", () => {
    const c = cases.find((k) => k.name === "embedding T=6") ?? cases[0];
    const broken: LayerRule = {
      ...embeddingRule,
      perExample(layer, args) {
        const terms = embeddingRule.perExample(layer, args);
        return { ...terms, weightedSumHost: (w: Float32Array) => terms.weightedSumHost!(new Float32Array(w.length).fill(1)) };
      },
    };
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const clip = median(ref.norms) / 4; // every example clipped
    registerLayerRule(broken);
    try {
      expect(hostRoute(c, clip, ref).sumError).toBeGreaterThan(TOL);
      const viaTensors = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip });
      const ok = compareWithReference(viaTensors, ref, clip);
      tf.dispose(viaTensors.clippedSum);
      expect(ok.sumError).toBeLessThanOrEqual(TOL);
    } finally {
      registerLayerRule(embeddingRule);
    }
    expect(hostRoute(c, clip, ref).sumError).toBeLessThanOrEqual(TOL);
  });
});
