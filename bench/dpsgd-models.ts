/**
 * The models and batches the DP-SGD benchmarks share (bench/dpsgd.bench.ts,
 * bench/dpsgd-profile.bench.ts, bench/dpsgd-anchor.bench.ts): dpkit's MNIST models on a batch of
 * real MNIST images (and two more image models), and text classifiers on synthetic token sequences.
 */
import { tf } from "../src/backend/index.js";
import { mnistInputShape, mnistModel, type MnistModelKind } from "../src/dpsgd/index.js";
import { loadMnist } from "../src/data/index.js";

/**
 * The models the DP-SGD benchmarks time, one or more per supported layer family (docs/dpsgd.md "Models"):
 * dense `mlp`; convolutional `cnn` (Conv2D), `depthwise` (DepthwiseConv2D) and `conv1d` (Conv1D over
 * embedded tokens); embedding `embedding`; recurrent `lstm`, `gru`, `simplernn`, `bilstm`
 * (Bidirectional(LSTM)); normalisation `layernorm` (LayerNormalization); dense on sequences
 * `timedistributed` (TimeDistributed(Dense)).
 */
export type BenchModelKind =
  "mlp" | "cnn" | "embedding" | "lstm" | "gru" | "simplernn" | "bilstm" | "conv1d" | "timedistributed" | "layernorm" | "depthwise";

/** The kinds that read token sequences (the others read MNIST images). */
export type TextModelKind = "embedding" | "lstm" | "gru" | "simplernn" | "bilstm" | "conv1d" | "timedistributed";

const TEXT_KINDS: readonly string[] = ["embedding", "lstm", "gru", "simplernn", "bilstm", "conv1d", "timedistributed"];

/** Whether `kind` is a text model (token sequences in, two classes out). */
export function isTextModel(kind: string): kind is TextModelKind {
  return TEXT_KINDS.includes(kind);
}

/** Vocabulary size of the text models. */
export const VOCAB = 20000;

/** Tokens per sequence: 32 for the recurrent models, 64 for the others. */
export function textSteps(kind: TextModelKind): number {
  return kind === "lstm" || kind === "gru" || kind === "simplernn" || kind === "bilstm" ? 32 : 64;
}

/**
 * The text classifiers, each Embedding(20,000, 16) → (family layer) → Dense(2, softmax): `embedding`
 * GlobalAveragePooling1D; `lstm` / `gru` / `simplernn` a recurrent layer of 32 units over masked tokens
 * (`maskZero`); `bilstm` Bidirectional(LSTM(16)), concatenated; `conv1d` Conv1D(32, 5, relu) →
 * GlobalMaxPooling1D; `timedistributed` TimeDistributed(Dense(16, relu)) → GlobalAveragePooling1D.
 */
export function textModel(kind: TextModelKind): tf.LayersModel {
  const masked = kind === "lstm" || kind === "gru" || kind === "simplernn" || kind === "bilstm";
  const layers: tf.layers.Layer[] = [tf.layers.embedding({ inputDim: VOCAB, outputDim: 16, maskZero: masked })];
  switch (kind) {
    case "embedding":
      layers.push(tf.layers.globalAveragePooling1d({}));
      break;
    case "lstm":
      layers.push(tf.layers.lstm({ units: 32 }));
      break;
    case "gru":
      layers.push(tf.layers.gru({ units: 32 }));
      break;
    case "simplernn":
      layers.push(tf.layers.simpleRNN({ units: 32 }));
      break;
    case "bilstm":
      layers.push(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 16 }) as tf.RNN, mergeMode: "concat" }));
      break;
    case "conv1d":
      layers.push(tf.layers.conv1d({ filters: 32, kernelSize: 5, activation: "relu" }), tf.layers.globalMaxPooling1d({}));
      break;
    case "timedistributed":
      layers.push(
        tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 16, activation: "relu" }) }),
        tf.layers.globalAveragePooling1d({}),
      );
      break;
  }
  layers.push(tf.layers.dense({ units: 2, activation: "softmax" }));
  const model = tf.sequential({ layers });
  model.build([null, textSteps(kind)]);
  return model;
}

/** The image models beyond dpkit's MNIST models: `layernorm` and `depthwise`. */
function imageModel(kind: "layernorm" | "depthwise"): tf.LayersModel {
  if (kind === "layernorm") {
    // The MLP with a LayerNormalization between its two Dense layers.
    return tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [784], units: 128, activation: "linear" }),
        tf.layers.layerNormalization({}),
        tf.layers.activation({ activation: "tanh" }),
        tf.layers.dense({ units: 10, activation: "softmax" }),
      ],
    });
  }
  // Conv2D(16, 3×3) → DepthwiseConv2D(3×3, multiplier 1) → max pool 2 → Dense(10).
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, strides: 2, activation: "tanh" }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 1, activation: "tanh" }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten({}),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
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
  if (isTextModel(kind)) {
    const y = tf.tensor1d(
      Array.from({ length: batchSize }, (_, i) => i % 2),
      "float32",
    );
    return { model: textModel(kind), x: textBatch(batchSize, textSteps(kind)), y, classes: 2 };
  }
  const mnist = loadMnist({ split: "train", count: batchSize });
  const shape = kind === "layernorm" ? [784] : kind === "depthwise" ? [28, 28, 1] : mnistInputShape(kind as MnistModelKind);
  const x = tf.tensor(mnist.images, [batchSize, ...shape]);
  return {
    model: kind === "layernorm" || kind === "depthwise" ? imageModel(kind) : mnistModel(kind as MnistModelKind),
    x,
    y: tf.tensor1d(mnist.labels, "float32"),
    classes: 10,
    images: Float32Array.from(mnist.images),
    labels: mnist.labels,
  };
}
