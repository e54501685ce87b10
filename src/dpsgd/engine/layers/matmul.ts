/**
 * Matrix products with a transposed operand, written as an explicit transpose followed by a
 * plain product: tfjs-backend-wasm 4.22 runs `matMul(a, b, transposeA/B)` 5–15 times slower
 * than `matMul(transpose(a), b)` (only the plain form takes XNNPACK's fast path).
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** `a^T · b` for 2-D `a`, `b`. */
export function matMulTransposeA(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(tf.transpose(a), b);
}

/** `a · b^T` for 2-D `a`, `b`. */
export function matMulTransposeB(a: tf.Tensor2D, b: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(a, tf.transpose(b));
}

/**
 * `x · kernel (+ bias)` whose gradient with respect to `x` (the only one taken: the engine
 * never asks tfjs for weight gradients) is `dy · kernel^T` with an explicit transpose.
 */
export function denseLinearFast(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor | null): tf.Tensor2D {
  const body = (input: tf.Tensor) => {
    let value: tf.Tensor = tf.matMul(input as tf.Tensor2D, kernel);
    if (bias) value = tf.add(value, bias);
    return { value, gradFunc: (dy: tf.Tensor) => matMulTransposeB(dy as tf.Tensor2D, kernel) };
  };
  const f = tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor2D;
}
