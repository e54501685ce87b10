/**
 * docs/testing.md section 5: every per-layer rule against gradients computed one example at a time
 * (batch size 1), to 1e-5 relative, on random shapes, with and without bias, every supported
 * layer kind and activation, and every norm mode. Negative controls: a rule that forgets the
 * bias term and an unclipped sum must fail the same comparison.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clippedGradients,
  denseRule,
  embeddingRule,
  recurrentRule,
  registerLayerRule,
  type LayerRule,
} from "../../../src/dpsgd/engine/index.js";
import { denseCases, recurrentCases, structuredCases, type Case } from "./cases.js";
import { compareWithReference, referencePerExample, referenceWeights } from "./reference.js";

const TOL = 1e-5;
const MODES = ["auto", "ghost", "materialize"] as const;

/** Median of the positive norms (so that some examples are clipped and some are not). */
function median(v: number[]): number {
  const s = v.filter((x) => x > 0).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 1;
}

function check(c: Case, mode: (typeof MODES)[number], clip: number, ref = referencePerExample(c.model, c.x, c.y, c.loss)) {
  const result = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip, strategy: mode, training: false });
  try {
    return compareWithReference(result, ref, clip);
  } finally {
    tf.dispose(result.clippedSum);
  }
}

beforeAll(async () => {
  await tf.setBackend("cpu");
});

describe.each([
  ["dense and activations", () => denseCases()],
  ["structured layers", () => structuredCases()],
  ["recurrent layers and wrappers", () => recurrentCases()],
])("per-layer rules equal batch-size-1 gradients (%s)", (_label, make) => {
  const cases = make();
  afterAll(() => {
    for (const c of cases) {
      c.model.dispose();
      tf.dispose([c.x, c.y]);
    }
  });
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const clip = median(ref.norms);
    for (const mode of MODES) {
      const cmp = check(c, mode, clip, ref);
      expect(cmp.keysMatch, `${mode}: keys`).toBe(true);
      expect(cmp.normError, `${mode}: norms`).toBeLessThanOrEqual(TOL);
      expect(cmp.sumError, `${mode}: clipped sum`).toBeLessThanOrEqual(TOL);
    }
    // no clipping at all (C above every norm): the plain sum of per-example gradients
    const big = check(c, "auto", 10 * Math.max(1e-6, ...ref.norms), ref);
    expect(big.sumError).toBeLessThanOrEqual(TOL);
  });
});

describe("negative controls: the batch-size-1 comparison catches wrong rules", () => {
  const c = denseCases()[2]; // dense relu with bias
  afterAll(() => {
    registerLayerRule(denseRule);
    c.model.dispose();
  });

  it("a Dense rule that forgets the bias term in the norm fails", () => {
    const broken: LayerRule = {
      ...denseRule,
      perExample(layer, args) {
        const terms = denseRule.perExample(layer, args);
        const g = args.outputGradient;
        return { ...terms, squaredNorms: tf.sub(terms.squaredNorms, tf.sum(tf.square(g), 1)) as tf.Tensor1D };
      },
    };
    registerLayerRule(broken);
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const cmp = check(c, "auto", median(ref.norms), ref);
    registerLayerRule(denseRule);
    expect(cmp.normError).toBeGreaterThan(TOL);
    expect(cmp.sumError).toBeGreaterThan(TOL);
    // and the real rule passes on the same case
    const ok = check(c, "auto", median(ref.norms), ref);
    expect(ok.normError).toBeLessThanOrEqual(TOL);
  });

  it("an unclipped sum fails the clipped-sum comparison", () => {
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const clip = median(ref.norms);
    // the engine's clipped sum compared against the reference's *unclipped* sum, and vice versa
    const result = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip, training: false });
    const unclippedRef = compareWithReference(
      result,
      ref,
      clip,
      ref.norms.map(() => 1),
    );
    tf.dispose(result.clippedSum);
    expect(unclippedRef.sumError).toBeGreaterThan(TOL);
    const unclipped = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: 1e9, training: false });
    const cmp = compareWithReference(unclipped, ref, clip, referenceWeights(ref.norms, clip));
    tf.dispose(unclipped.clippedSum);
    expect(cmp.sumError).toBeGreaterThan(TOL);
  });
});

describe("negative controls for the recurrent rules", () => {
  const cases = recurrentCases();
  afterAll(() => {
    registerLayerRule(recurrentRule);
    for (const c of cases) c.model.dispose();
  });
  const masked = cases.filter((c) => c.name.startsWith("masked embedding -> lstm seq=false"))[0];
  const plain = cases.filter((c) => c.name.startsWith("gru "))[0];

  it("a recurrent rule that ignores the mask fails on a masked case (and the real rule passes)", () => {
    const broken: LayerRule = {
      ...recurrentRule,
      activate: (layer, z) => recurrentRule.activate(layer, z, null),
      perExample: (layer, args) => recurrentRule.perExample(layer, { ...args, mask: null }),
    };
    const ref = referencePerExample(masked.model, masked.x, masked.y, masked.loss);
    const clip = median(ref.norms);
    registerLayerRule(broken);
    const bad = check(masked, "auto", clip, ref);
    registerLayerRule(recurrentRule);
    expect(Math.max(bad.normError, bad.sumError)).toBeGreaterThan(TOL);
    const ok = check(masked, "auto", clip, ref);
    expect(Math.max(ok.normError, ok.sumError)).toBeLessThanOrEqual(TOL);
  });

  it("a GRU rule that leaves the recurrent kernel out of the norm fails", () => {
    const broken: LayerRule = {
      ...recurrentRule,
      perExample(layer, args) {
        const terms = recurrentRule.perExample(layer, args);
        return {
          squaredNorms: terms.squaredNorms,
          weightedSum(w) {
            const [k, rk, ...rest] = terms.weightedSum(w);
            return [k, tf.zerosLike(rk), ...rest];
          },
        };
      },
    };
    const ref = referencePerExample(plain.model, plain.x, plain.y, plain.loss);
    registerLayerRule(broken);
    const bad = check(plain, "auto", median(ref.norms), ref);
    registerLayerRule(recurrentRule);
    expect(bad.sumError).toBeGreaterThan(TOL);
  });
});

describe("negative control for the Embedding rule", () => {
  const c = structuredCases().filter((k) => k.name === "embedding T=6")[0];
  afterAll(() => {
    registerLayerRule(embeddingRule);
    c.model.dispose();
  });

  it("a rule that counts repeated tokens as separate rows (sum_t ||g_t||^2) fails", () => {
    const broken: LayerRule = {
      ...embeddingRule,
      perExample(layer, args) {
        const terms = embeddingRule.perExample(layer, args);
        const n = args.input.shape[0];
        return { ...terms, squaredNorms: tf.sum(tf.reshape(tf.square(args.outputGradient), [n, -1]), 1) as tf.Tensor1D };
      },
    };
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    registerLayerRule(broken);
    const bad = check(c, "auto", median(ref.norms), ref);
    registerLayerRule(embeddingRule);
    expect(bad.normError).toBeGreaterThan(TOL);
    const ok = check(c, "auto", median(ref.norms), ref);
    expect(ok.normError).toBeLessThanOrEqual(TOL);
  });
});
