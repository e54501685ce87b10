/**
 * The fast route's GlobalAveragePooling1D (`meanOverSteps` in src/dpsgd/engine/fast.ts): the same
 * value and, bit for bit, the same gradient as tfjs's `Mean` (whose gradient builds a ones tensor
 * of the input's size in JS and uploads it; here it is filled on the backend), on cpu and wasm, for
 * shapes with T a power of two and not. Negative control: the gradient formed as dy·(1/T) differs
 * in the last bits for T = 3, 7, 192.
 */
import * as tf from "@tensorflow/tfjs";
import { describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { meanOverSteps } from "../../../src/dpsgd/engine/fast.js";

const bits = (t: tf.Tensor): number[] => Array.from(new Uint32Array(Float32Array.from(t.dataSync()).buffer));

function gradsOf(f: (x: tf.Tensor) => tf.Tensor, x: tf.Tensor, w: tf.Tensor): tf.Tensor {
  return tf.grad((v: tf.Tensor) => tf.sum(tf.mul(f(v), w)))(x);
}

describe.each(["cpu", "wasm"] as const)("meanOverSteps on %s", (backend) => {
  it("equals tf.mean(x, 1) and its gradient bit for bit; a reciprocal-multiply gradient does not", async () => {
    await prepareBackend({ backend, announce: false });
    const reciprocal = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      const [n, steps, d] = x.shape;
      return { value: tf.mean(x, 1), gradFunc: (dy: tf.Tensor) => tf.tile(tf.mul(tf.reshape(dy, [n, 1, d]), 1 / steps), [1, steps, 1]) };
    }) as (x: tf.Tensor) => tf.Tensor;
    let reciprocalDiffers = 0;
    for (const [n, steps, d] of [
      [4, 3, 5],
      [2, 7, 3],
      [8, 64, 16],
      [3, 192, 4],
      [1, 1, 2],
    ]) {
      tf.tidy(() => {
        const x = tf.randomUniform([n, steps, d], -3, 3, "float32", 11);
        const w = tf.randomUniform([n, d], -2, 2, "float32", 12);
        expect(bits(meanOverSteps(x))).toEqual(bits(tf.mean(x, 1)));
        const want = gradsOf((v) => tf.mean(v, 1), x, w);
        const got = gradsOf(meanOverSteps, x, w);
        expect(got.shape).toEqual([n, steps, d]);
        expect(bits(got)).toEqual(bits(want));
        if (bits(gradsOf(reciprocal, x, w)).join() !== bits(want).join()) reciprocalDiffers++;
      });
    }
    expect(reciprocalDiffers).toBeGreaterThanOrEqual(2); // the negative control (T = 3, 7, 192)
  });
});
