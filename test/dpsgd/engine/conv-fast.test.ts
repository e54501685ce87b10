/**
 * The engine's own input gradients (Dense: explicit transpose; Conv: a forward convolution of the
 * stride-spread output gradient with the rotated kernel) against tfjs's gradients, with a
 * negative control (an unrotated kernel must fail the same comparison).
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { conv2dFast, conv2dInputGradient } from "../../../src/dpsgd/engine/layers/conv-fast.js";
import { denseLinearFast } from "../../../src/dpsgd/engine/layers/matmul.js";
import { lcg, randInt } from "./reference.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

function relError(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.norm(tf.sub(a, b)).dataSync()[0] / Math.max(tf.norm(b).dataSync()[0], 1e-30));
}

describe("conv2dInputGradient equals tfjs's gradient of conv2d", () => {
  const r = lcg(77);
  const cases: [string, number, "same" | "valid"][] = [];
  for (const padding of ["same", "valid"] as const)
    for (const s of [1, 2, 3]) for (let k = 0; k < 3; k++) cases.push([`${padding} stride ${s} #${k}`, s, padding]);
  it.each(cases)("%s", (_n, s, padding) => {
    tf.tidy(() => {
      const kh = randInt(r, 1, 4);
      const kw = randInt(r, 1, 4);
      const x = tf.randomNormal(
        [randInt(r, 1, 3), randInt(r, kh + 1, 12), randInt(r, kw + 1, 12), randInt(r, 1, 3)],
        0,
        1,
        "float32",
        1,
      ) as tf.Tensor4D;
      const w = tf.randomNormal([kh, kw, x.shape[3], randInt(r, 1, 4)], 0, 1, "float32", 2) as tf.Tensor4D;
      const y = tf.conv2d(x, w, s, padding);
      const dy = tf.randomNormal(y.shape, 0, 1, "float32", 3) as tf.Tensor4D;
      const want = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, w, s, padding), dy)))(x);
      const got = conv2dInputGradient(dy, w, x.shape, [s, s], padding);
      expect(got.shape).toEqual(x.shape);
      expect(relError(got, want)).toBeLessThan(1e-5);
      // through customGrad, as the engine uses it
      const viaFast = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(conv2dFast(xx as tf.Tensor4D, w, null, [s, s], padding), dy)))(x);
      expect(relError(viaFast, want)).toBeLessThan(1e-5);
      // negative control: the kernel not rotated by 180 degrees
      if (kh > 1 || kw > 1) {
        const wrong = conv2dInputGradient(dy, tf.reverse(w, [0, 1]) as tf.Tensor4D, x.shape, [s, s], padding);
        expect(relError(wrong, want)).toBeGreaterThan(1e-3);
      }
    });
  });
});

describe("denseLinearFast", () => {
  it("has tfjs's value and input gradient", () => {
    tf.tidy(() => {
      const x = tf.randomNormal([5, 7], 0, 1, "float32", 4) as tf.Tensor2D;
      const w = tf.randomNormal([7, 3], 0, 1, "float32", 5) as tf.Tensor2D;
      const b = tf.randomNormal([3], 0, 1, "float32", 6);
      const dy = tf.randomNormal([5, 3], 0, 1, "float32", 7);
      expect(relError(denseLinearFast(x, w, b), tf.add(tf.matMul(x, w), b))).toBeLessThan(1e-6);
      const want = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.add(tf.matMul(xx as tf.Tensor2D, w), b), dy)))(x);
      const got = tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(denseLinearFast(xx as tf.Tensor2D, w, b), dy)))(x);
      expect(relError(got, want)).toBeLessThan(1e-6);
    });
  });
});
