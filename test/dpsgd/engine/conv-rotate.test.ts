/**
 * The rotated kernel of the Conv input gradient (`rotateKernel`, src/dpsgd/engine/layers/conv-fast.ts):
 * on cpu and wasm it is a JS permutation of the kernel's values (tfjs-wasm's `Reverse` is slow), and
 * it must give the bytes of `tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])` for square and
 * non-square kernels and any channel counts, also for a disposed reshape of a live variable (what
 * Conv1D passes: `dataSync` would refuse it, the tfjs ops did not). Negative controls: the same comparison fails for a
 * rotation without the channel swap, and for one that reverses a single spatial axis.
 */
import * as tf from "@tensorflow/tfjs";
import { afterAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { rotateKernel } from "../../../src/dpsgd/engine/layers/conv-fast.js";

const SHAPES: [number, number, number, number][] = [
  [1, 1, 1, 1],
  [3, 3, 16, 32],
  [5, 5, 1, 16],
  [2, 4, 3, 5],
  [4, 1, 7, 2],
];

function bytes(t: tf.Tensor): Buffer {
  return Buffer.from((t.dataSync() as Float32Array).slice().buffer);
}

/** A kernel whose every value differs (so a wrong permutation shows). */
function kernel(shape: [number, number, number, number]): tf.Tensor4D {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor4d(
    Float32Array.from({ length: n }, (_, i) => (i + 1) * 0.37 - 3),
    shape,
  );
}

afterAll(async () => {
  await prepareBackend({ backend: "cpu", announce: false });
});

describe.each(["cpu", "wasm"] as const)("rotateKernel on %s", (backend) => {
  it.each(SHAPES)("[%i, %i, %i, %i] gives the bytes of reverse + transpose", async (kh, kw, cin, cout) => {
    await prepareBackend({ backend, announce: false });
    expect(tf.getBackend()).toBe(backend);
    const k = kernel([kh, kw, cin, cout]);
    const got = rotateKernel(k);
    const want = tf.transpose(tf.reverse(k, [0, 1]), [0, 1, 3, 2]);
    expect(got.shape).toEqual([kh, kw, cout, cin]);
    expect(bytes(got).equals(bytes(want))).toBe(true);
    tf.dispose([k, got, want]);
  });

  it("reads a kernel that is a disposed reshape of a live variable, as tfjs's ops do (Conv1D's kernel)", async () => {
    await prepareBackend({ backend, announce: false });
    const v = tf.variable(kernel([1, 3, 2, 4]).reshape([3, 2, 4]));
    const k = tf.reshape(v, [1, 3, 2, 4]) as tf.Tensor4D;
    k.dispose(); // as at the end of the forward pass's scope; its values live on as the variable's
    const want = tf.tidy(() => tf.transpose(tf.reverse(tf.reshape(v, [1, 3, 2, 4]), [0, 1]), [0, 1, 3, 2]));
    const got = rotateKernel(k);
    expect(bytes(got).equals(bytes(want))).toBe(true);
    tf.dispose([v, got, want]);
  });

  it("negative controls: no channel swap, or one spatial axis reversed, differ", async () => {
    await prepareBackend({ backend, announce: false });
    const k = kernel([3, 3, 4, 4]); // square channels: the unswapped rotation has the same shape
    const got = rotateKernel(k);
    const noSwap = tf.reverse(k, [0, 1]);
    const oneAxis = tf.transpose(tf.reverse(k, [0]), [0, 1, 3, 2]);
    expect(bytes(got).equals(bytes(noSwap))).toBe(false);
    expect(bytes(got).equals(bytes(oneAxis))).toBe(false);
    tf.dispose([k, got, noSwap, oneAxis]);
  });
});
