/**
 * The models and batches the DP-SGD benchmarks share (bench/dpsgd.bench.ts,
 * bench/dpsgd-profile.bench.ts, bench/dpsgd-anchor.bench.ts): dpkit's MNIST models on a batch of
 * real MNIST images, and two text classifiers on synthetic token sequences.
 */
import { tf } from "../src/backend/index.js";
import { mnistInputShape, mnistModel, type MnistModelKind } from "../src/dpsgd/index.js";
import { loadMnist } from "../src/data/index.js";

/** The model families the DP-SGD benchmarks time. */
export type BenchModelKind = "mlp" | "cnn" | "embedding" | "lstm";

/** Vocabulary size of the text models. */
export const VOCAB = 20000;

/** The text classifiers: Embedding → GlobalAveragePooling1D → Dense, and Embedding(maskZero) → LSTM → Dense. */
export function textModel(kind: "embedding" | "lstm"): tf.LayersModel {
  const layers =
    kind === "embedding"
      ? [
          tf.layers.embedding({ inputDim: VOCAB, outputDim: 16 }),
          tf.layers.globalAveragePooling1d({}),
          tf.layers.dense({ units: 2, activation: "softmax" }),
        ]
      : [
          tf.layers.embedding({ inputDim: VOCAB, outputDim: 16, maskZero: true }),
          tf.layers.lstm({ units: 32 }),
          tf.layers.dense({ units: 2, activation: "softmax" }),
        ];
  const model = tf.sequential({ layers });
  model.build([null, kind === "lstm" ? 32 : 64]);
  return model;
}

/** `batchSize` sequences of word ids (Zipf-like: frequent words repeat), the last quarter of each padded with 0. */
export function textBatch(batchSize: number, steps: number): tf.Tensor2D {
  const ids = new Int32Array(batchSize * steps);
  let s = 12345;
  for (let i = 0; i < ids.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const u = (s >>> 8) / 2 ** 24;
    ids[i] = i % steps >= (3 * steps) / 4 ? 0 : 1 + Math.floor((VOCAB - 1) * u * u * u);
  }
  return tf.tensor2d(ids, [batchSize, steps], "int32");
}

/** A model of `kind` and its batch: the first `batchSize` MNIST training images, or token sequences. */
export function benchModelAndBatch(
  kind: BenchModelKind,
  batchSize: number,
): { model: tf.LayersModel; x: tf.Tensor; y: tf.Tensor1D; classes: number; images?: Float32Array; labels?: ArrayLike<number> } {
  if (kind === "embedding" || kind === "lstm") {
    const y = tf.tensor1d(
      Array.from({ length: batchSize }, (_, i) => i % 2),
      "float32",
    );
    return { model: textModel(kind), x: textBatch(batchSize, kind === "lstm" ? 32 : 64), y, classes: 2 };
  }
  const mnist = loadMnist({ split: "train", count: batchSize });
  const x = tf.tensor(mnist.images, [batchSize, ...mnistInputShape(kind as MnistModelKind)]);
  return {
    model: mnistModel(kind as MnistModelKind),
    x,
    y: tf.tensor1d(mnist.labels, "float32"),
    classes: 10,
    images: Float32Array.from(mnist.images),
    labels: mnist.labels,
  };
}
