/**
 * The per-layer rules on the `tensorflow` backend (@tensorflow/tfjs-node, native libtensorflow):
 * the engine's per-example norms and clipped sums equal batch-of-one gradients there too, for
 * every norm mode, as on cpu (rules.test.ts) and wasm (wasm.test.ts).
 *
 * @tensorflow/tfjs-node is an optional dependency whose install downloads libtensorflow; where it
 * does not load (no network at install time, an unsupported platform) this file skips and prints
 * why. Negative control: the same comparison with a clip bound other than the one used fails.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { clippedGradients } from "../../../src/dpsgd/engine/index.js";
import { denseCases, recurrentCases, structuredCases, type Case } from "./cases.js";
import { compareWithReference, referencePerExample } from "./reference.js";

const TOL = 1e-5;

async function tfjsNodeMissing(): Promise<string | undefined> {
  const moduleName = "@tensorflow/tfjs-node";
  try {
    await import(/* @vite-ignore */ moduleName);
    return undefined;
  } catch (e) {
    return (e instanceof Error ? e.message : String(e)).split("\n")[0];
  }
}

const missing = await tfjsNodeMissing();
if (missing !== undefined) console.log(`tfjs-node check skipped: @tensorflow/tfjs-node does not load here (${missing})`);

describe.skipIf(missing !== undefined)("per-layer rules on the tensorflow backend equal batch-size-1 gradients", () => {
  let cases: Case[] = [];
  beforeAll(async () => {
    await prepareBackend({ backend: "tensorflow", announce: false });
    expect(tf.getBackend()).toBe("tensorflow");
    cases = [...denseCases().filter((_, i) => i % 4 === 0), ...structuredCases(), ...recurrentCases()];
  });

  function clipFor(norms: Float32Array | number[]): number {
    const positive = Array.from(norms)
      .filter((v) => v > 0)
      .sort((a, b) => a - b);
    return positive.length ? positive[Math.floor(positive.length / 2)] : 1;
  }

  it("every case, every norm mode", () => {
    for (const c of cases) {
      const ref = referencePerExample(c.model, c.x, c.y, c.loss);
      const clip = clipFor(ref.norms);
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

  it("negative control: a clipped sum compared at another clip bound fails", () => {
    const c = cases[0];
    const ref = referencePerExample(c.model, c.x, c.y, c.loss);
    const clip = clipFor(ref.norms);
    const r = clippedGradients({ model: c.model, x: c.x, y: c.y, loss: c.loss, l2NormClip: clip, training: false });
    const cmp = compareWithReference(r, ref, clip / 2);
    tf.dispose(r.clippedSum);
    expect(cmp.sumError).toBeGreaterThan(1e-3);
  });
});
