/**
 * The per-layer rules once more on the wasm backend (whose reference gradients need dpkit's
 * wasm kernels: Conv2DBackpropFilter, the depthwise backprops, UnsortedSegmentSum).
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { clippedGradients } from "../../../src/dpsgd/engine/index.js";
import { denseCases, recurrentCases, structuredCases, type Case } from "./cases.js";
import { compareWithReference, referencePerExample } from "./reference.js";

const TOL = 1e-5;

beforeAll(async () => {
  await prepareBackend({ backend: "wasm", announce: false });
});

describe("per-layer rules on wasm equal batch-size-1 gradients", () => {
  let cases: Case[] = [];
  beforeAll(() => {
    expect(tf.getBackend()).toBe("wasm");
    cases = [...denseCases().filter((_, i) => i % 4 === 0), ...structuredCases(), ...recurrentCases()];
  });
  it("every case, every norm mode", () => {
    for (const c of cases) {
      const ref = referencePerExample(c.model, c.x, c.y, c.loss);
      const positive = ref.norms.filter((v) => v > 0).sort((a, b) => a - b);
      const clip = positive.length ? positive[Math.floor(positive.length / 2)] : 1;
      for (const strategy of ["auto", "ghost", "materialize"] as const) {
        const before = tf.memory().numTensors;
        const r = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip, strategy, training: false });
        const cmp = compareWithReference(r, ref, clip);
        tf.dispose(r.clippedSum);
        expect(tf.memory().numTensors, `${c.name} ${strategy}: tensors`).toBeLessThanOrEqual(before);
        expect(cmp.normError, `${c.name} ${strategy}: norms`).toBeLessThanOrEqual(TOL);
        expect(cmp.sumError, `${c.name} ${strategy}: sum`).toBeLessThanOrEqual(TOL);
      }
    }
  });
});
