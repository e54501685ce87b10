/**
 * Small MNIST models that train well with DP-SGD: bounded (tanh) activations, few parameters,
 * no BatchNormalization (Papernot, Thakurta, Song, Chien & Erlingsson, "Tempered Sigmoid
 * Activations for Deep Learning with Differential Privacy", AAAI 2021).
 *
 * @see https://arxiv.org/abs/2007.14191
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { requireOneOf } from "../errors.js";

/** The MNIST architectures of {@link mnistModel}. */
export type MnistModelKind = "mlp" | "cnn" | "papernot";

/** Every {@link MnistModelKind}. */
export const MNIST_MODEL_KINDS: readonly MnistModelKind[] = ["mlp", "cnn", "papernot"];

/**
 * A fresh, uncompiled MNIST classifier (softmax output, inputs in [0, 1]).
 *
 * @remarks
 * - `"mlp"`: 784 → 128 tanh → 10 (about 102k parameters); input shape [784].
 * - `"cnn"`: 2×2 average pooling to 14×14, conv 16 5×5 tanh, 2×2 max pooling, conv 32 3×3
 *   tanh, dense 10 (about 8k parameters); input shape [28, 28, 1]. Cheap on one CPU core.
 * - `"papernot"`: the tanh CNN of Papernot et al. (conv 16 8×8/2, max pool 2/1, conv 32 4×4/2,
 *   max pool 2/1, dense 32 tanh, dense 10; about 26k parameters); input shape [28, 28, 1].
 *
 * Architecture choices are public: they spend no privacy.
 *
 * @param kind - which architecture
 * @returns an uncompiled `tf.Sequential`
 * @throws {@link DpError} `invalid_parameter` for an unknown kind
 * @example
 * ```ts
 * import { mnistModel } from "dpkit/dpsgd";
 * const model = mnistModel("mlp");
 * console.log(model.countParams()); // 101770
 * ```
 * @see https://arxiv.org/abs/2007.14191
 */
export function mnistModel(kind: MnistModelKind): tf.Sequential {
  requireOneOf("kind", kind, MNIST_MODEL_KINDS);
  if (kind === "mlp") {
    return tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: 128, activation: "tanh" }),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    });
  }
  if (kind === "cnn") {
    return tf.sequential({
      layers: [
        tf.layers.averagePooling2d({ inputShape: [28, 28, 1], poolSize: 2, strides: 2 }),
        tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: "tanh" }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
        tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: "tanh" }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    });
  }
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 8, strides: 2, padding: "same", activation: "tanh" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 4, strides: 2, padding: "valid", activation: "tanh" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, activation: "tanh" }),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
}

/** The input shape (without the batch axis) of a {@link mnistModel} kind. */
export function mnistInputShape(kind: MnistModelKind): number[] {
  return kind === "mlp" ? [784] : [28, 28, 1];
}
