/** Models and batches exercising every per-layer rule (shared by the cpu and wasm tests). */
import * as tf from "@tensorflow/tfjs";
import type { PerExampleLoss } from "../../../src/dpsgd/engine/types.js";
import { lcg, randInt } from "./reference.js";

export interface Case {
  name: string;
  model: tf.LayersModel;
  x: tf.Tensor;
  y: tf.Tensor;
  loss: PerExampleLoss;
}

let seed = 1;
function normal(shape: number[], scale = 1): tf.Tensor {
  return tf.mul(tf.randomNormal(shape, 0, 1, "float32", seed++), scale);
}

/** Re-draws every weight (biases too, so a missing bias term shows). */
export function randomizeWeights(model: tf.LayersModel, scale = 0.5): void {
  for (const w of model.weights) {
    const v = tf.tidy(() => normal(w.shape as number[], scale));
    w.write(v);
    v.dispose();
  }
}

function finish(name: string, layers: tf.layers.Layer[], x: tf.Tensor, y: tf.Tensor, loss: PerExampleLoss): Case {
  const model = tf.sequential({ layers });
  randomizeWeights(model);
  return { name, model, x, y, loss };
}

export const ACTIVATIONS = [
  "linear",
  "relu",
  "relu6",
  "elu",
  "selu",
  "sigmoid",
  "hardSigmoid",
  "tanh",
  "softplus",
  "softsign",
  "swish",
  "mish",
  "gelu",
  "softmax",
] as const;

/** Dense layers with every activation, with and without bias. */
export function denseCases(r = lcg(11)): Case[] {
  const out: Case[] = [];
  for (const activation of ACTIVATIONS) {
    for (const useBias of [true, false]) {
      const n = randInt(r, 2, 6);
      const d = randInt(r, 1, 7);
      const h = randInt(r, 1, 6);
      const k = randInt(r, 2, 4);
      out.push(
        finish(
          `dense ${activation} bias=${useBias} (${n}x${d}->${h}->${k})`,
          [
            tf.layers.dense({ inputShape: [d], units: h, activation, useBias }),
            tf.layers.dense({ units: k, activation: "softmax", useBias }),
          ],
          normal([n, d]),
          tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, k - 1))),
          "sparseCategoricalCrossentropy",
        ),
      );
    }
  }
  return out;
}

/** Dense on sequences, Conv2D/Conv1D/DepthwiseConv2D, Embedding, LayerNormalization, stateless layers. */
export function structuredCases(r = lcg(23)): Case[] {
  const out: Case[] = [];
  // Dense on [N, T, d] (ghost via Gram matrices or materialised)
  for (const useBias of [true, false]) {
    const n = randInt(r, 2, 5);
    const t = randInt(r, 2, 5);
    const d = randInt(r, 2, 6);
    out.push(
      finish(
        `dense on sequences bias=${useBias}`,
        [
          tf.layers.dense({ inputShape: [t, d], units: 3, activation: "tanh", useBias }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2, useBias }),
        ],
        normal([n, t, d]),
        normal([n, 2]),
        "meanSquaredError",
      ),
    );
  }
  // Conv2D: padding, strides, bias
  for (const padding of ["same", "valid"] as const) {
    for (const strides of [1, 2, 3]) {
      for (const useBias of [true, false]) {
        const n = randInt(r, 2, 4);
        const h = randInt(r, 5, 9);
        const w = randInt(r, 5, 9);
        const cin = randInt(r, 1, 3);
        const k = randInt(r, 1, 3);
        out.push(
          finish(
            `conv2d ${padding} stride=${strides} bias=${useBias} k=${k}`,
            [
              tf.layers.conv2d({
                inputShape: [h, w, cin],
                filters: randInt(r, 1, 4),
                kernelSize: k,
                strides,
                padding,
                useBias,
                activation: "relu",
              }),
              tf.layers.flatten(),
              tf.layers.dense({ units: 3, activation: "softmax", useBias }),
            ],
            normal([n, h, w, cin]),
            tf.oneHot(
              tf.tensor1d(
                Array.from({ length: n }, () => randInt(r, 0, 2)),
                "int32",
              ),
              3,
            ),
            "categoricalCrossentropy",
          ),
        );
      }
    }
  }
  // a small CNN with pooling (two convs, max and average pooling)
  out.push(
    finish(
      "cnn conv-maxpool-conv-avgpool-dense",
      [
        tf.layers.conv2d({ inputShape: [12, 12, 1], filters: 4, kernelSize: 4, strides: 2, padding: "same", activation: "tanh" }),
        tf.layers.maxPooling2d({ poolSize: 2, strides: 1 }),
        tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 1, padding: "valid", activation: "relu" }),
        tf.layers.averagePooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4, activation: "softmax" }),
      ],
      normal([5, 12, 12, 1]),
      tf.tensor1d([0, 1, 2, 3, 1]),
      "sparseCategoricalCrossentropy",
    ),
  );
  // max pooling: pool sizes, strides, same/valid padding (the engine's own pooling gradient)
  for (const padding of ["same", "valid"] as const) {
    for (const [poolSize, strides] of [
      [2, 1],
      [2, 2],
      [3, 2],
    ] as const) {
      const n = randInt(r, 2, 4);
      out.push(
        finish(
          `maxPooling2d pool=${poolSize} stride=${strides} ${padding}`,
          [
            tf.layers.conv2d({ inputShape: [9, 8, 2], filters: 3, kernelSize: 3, padding: "same", activation: "tanh" }),
            tf.layers.maxPooling2d({ poolSize, strides, padding }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 2 }),
          ],
          normal([n, 9, 8, 2]),
          normal([n, 2]),
          "meanSquaredError",
        ),
      );
    }
  }
  // two stacked convolutions: the gradient reaching the first flows back through the second
  for (const padding of ["same", "valid"] as const) {
    for (const strides of [1, 2, 3]) {
      const n = randInt(r, 2, 4);
      out.push(
        finish(
          `conv stack, second conv ${padding} stride=${strides}`,
          [
            tf.layers.conv2d({ inputShape: [11, 10, 2], filters: 3, kernelSize: 3, padding: "same", activation: "tanh" }),
            tf.layers.conv2d({ filters: 4, kernelSize: randInt(r, 2, 3), strides, padding, activation: "relu" }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 2 }),
          ],
          normal([n, 11, 10, 2]),
          normal([n, 2]),
          "meanSquaredError",
        ),
      );
    }
  }
  // Conv1D
  for (const padding of ["same", "valid"] as const) {
    for (const strides of [1, 2]) {
      const n = randInt(r, 2, 4);
      const len = randInt(r, 6, 10);
      out.push(
        finish(
          `conv1d ${padding} stride=${strides} (stacked)`,
          [
            tf.layers.conv1d({ inputShape: [len, 2], filters: 3, kernelSize: 2, padding: "same" }),
            tf.layers.conv1d({ filters: 3, kernelSize: 3, strides, padding, activation: "sigmoid" }),
            tf.layers.globalAveragePooling1d(),
            tf.layers.dense({ units: 1 }),
          ],
          normal([n, len, 2]),
          normal([n, 1]),
          "meanSquaredError",
        ),
      );
    }
  }
  // DepthwiseConv2D
  for (const padding of ["same", "valid"] as const) {
    for (const [strides, depthMultiplier] of [
      [1, 1],
      [2, 2],
    ] as const) {
      for (const useBias of [true, false]) {
        const n = randInt(r, 2, 4);
        out.push(
          finish(
            `depthwise ${padding} stride=${strides} mult=${depthMultiplier} bias=${useBias}`,
            [
              tf.layers.depthwiseConv2d({
                inputShape: [7, 6, 3],
                kernelSize: 3,
                strides,
                depthMultiplier,
                padding,
                useBias,
                activation: "elu",
              }),
              tf.layers.globalAveragePooling2d({}),
              tf.layers.dense({ units: 2, activation: "sigmoid" }),
            ],
            normal([n, 7, 6, 3]),
            tf.tensor2d(
              Array.from({ length: n * 2 }, () => randInt(r, 0, 1)),
              [n, 2],
            ),
            "binaryCrossentropy",
          ),
        );
      }
    }
  }
  // Embedding with repeated tokens (small vocabulary)
  for (const steps of [1, 6]) {
    const n = 5;
    const vocab = 4;
    out.push(
      finish(
        `embedding T=${steps}`,
        [
          tf.layers.embedding({ inputDim: vocab, outputDim: 3, inputLength: steps }),
          tf.layers.flatten(),
          tf.layers.dense({ units: 2, activation: "softmax" }),
        ],
        tf.tensor2d(
          Array.from({ length: n * steps }, () => randInt(r, 0, vocab - 1)),
          [n, steps],
        ),
        tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 1))),
        "sparseCategoricalCrossentropy",
      ),
    );
  }
  // LayerNormalization (rank 2 and rank 3, with and without centre/scale)
  for (const activation of ["linear", "tanh"] as const) {
    out.push(
      finish(
        `layerNorm rank2 then ${activation}`,
        [
          tf.layers.dense({ inputShape: [5], units: 6 }),
          tf.layers.layerNormalization({}),
          tf.layers.activation({ activation }),
          tf.layers.dense({ units: 2 }),
        ],
        normal([4, 5]),
        normal([4, 2]),
        "meanSquaredError",
      ),
    );
  }
  out.push(
    finish(
      "layerNorm rank3",
      [
        tf.layers.dense({ inputShape: [3, 4], units: 5 }),
        tf.layers.layerNormalization({}),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
      normal([4, 3, 4]),
      normal([4, 2]),
      "meanSquaredError",
    ),
  );
  // Stateless layers between trained ones
  out.push(
    finish(
      "stateless: activation, leakyReLU, dropout, reshape, zeroPadding, cropping, reLU, globalMaxPooling, softmax",
      [
        tf.layers.dense({ inputShape: [6], units: 16 }),
        tf.layers.activation({ activation: "tanh" }),
        tf.layers.leakyReLU({ alpha: 0.2 }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.reshape({ targetShape: [4, 4, 1] }),
        tf.layers.zeroPadding2d({ padding: 1 }),
        tf.layers.cropping2D({ cropping: [1, 1] }),
        tf.layers.conv2d({ filters: 2, kernelSize: 2, strides: 1 }),
        tf.layers.reLU(),
        tf.layers.globalMaxPooling2d({}),
        tf.layers.dense({ units: 3 }),
        tf.layers.softmax(),
      ],
      normal([4, 6]),
      tf.tensor1d([0, 1, 2, 1]),
      "sparseCategoricalCrossentropy",
    ),
  );
  // a custom loss function
  out.push(
    finish(
      "custom loss (absolute error)",
      [tf.layers.dense({ inputShape: [4], units: 3, activation: "relu" }), tf.layers.dense({ units: 1 })],
      normal([5, 4]),
      normal([5, 1]),
      (yTrue, yPred) => tf.sum(tf.abs(tf.sub(yTrue, yPred)), 1) as tf.Tensor1D,
    ),
  );
  out.push(...conv1dKernelCases());
  return out;
}

/**
 * Conv1D layers the per-example WebAssembly kernel takes (output channels a multiple of 4): 4,
 * 8 and 20 filters (its 16-wide and 4-wide column blocks), an odd number of input channels (row
 * pairs that straddle two kernel taps, and an odd last row), stride 2, "same" and
 * "valid" padding, with and without bias (dilation: tfjs has no gradient to compare with; see
 * test/dpsgd/kernels/per-example-wasm.test.ts). Its own random streams, so the cases above keep theirs.
 */
function conv1dKernelCases(r = lcg(1901)): Case[] {
  const out: Case[] = [];
  const configs = [
    { cin: 3, filters: 4, kernelSize: 3, strides: 1, dilationRate: 1, padding: "valid", useBias: true },
    { cin: 2, filters: 20, kernelSize: 2, strides: 2, dilationRate: 1, padding: "same", useBias: true },
    { cin: 3, filters: 8, kernelSize: 3, strides: 1, dilationRate: 1, padding: "same", useBias: false },
    { cin: 1, filters: 16, kernelSize: 5, strides: 1, dilationRate: 1, padding: "valid", useBias: false },
    { cin: 4, filters: 4, kernelSize: 4, strides: 2, dilationRate: 1, padding: "same", useBias: true },
  ] as const;
  for (const c of configs) {
    const n = randInt(r, 2, 5);
    const len = randInt(r, 9, 13);
    out.push(
      finish(
        `conv1d kernel route cin=${c.cin} filters=${c.filters} k=${c.kernelSize} stride=${c.strides} dilation=${c.dilationRate} ${c.padding} bias=${c.useBias}`,
        [
          tf.layers.conv1d({ inputShape: [len, c.cin], ...c, activation: "tanh" }),
          tf.layers.globalMaxPooling1d({}),
          tf.layers.dense({ units: 2, activation: "softmax" }),
        ],
        tf.randomNormal([n, len, c.cin], 0, 1, "float32", 1901 + len),
        tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 1))),
        "sparseCategoricalCrossentropy",
      ),
    );
  }
  // Embeddings the module takes (outputDim a multiple of 4), repeated tokens (maskZero: the recurrent cases)
  for (const [steps, dim] of [
    [6, 4],
    [7, 8],
  ] as const) {
    const m = randInt(r, 3, 5);
    const ids = Array.from({ length: m * steps }, () => randInt(r, 0, 4));
    out.push(
      finish(
        `embedding kernel route T=${steps} D=${dim}`,
        [
          tf.layers.embedding({ inputDim: 5, outputDim: dim, inputLength: steps }),
          tf.layers.globalAveragePooling1d({}),
          tf.layers.dense({ units: 2, activation: "softmax" }),
        ],
        tf.tensor2d(ids, [m, steps]),
        tf.tensor1d(Array.from({ length: m }, () => randInt(r, 0, 1))),
        "sparseCategoricalCrossentropy",
      ),
    );
  }
  // two Conv1D layers: the first one's gradients leave the module's memory when the second needs it
  const n = randInt(r, 2, 5);
  out.push(
    finish(
      "conv1d kernel route, stacked (4 then 8 filters)",
      [
        tf.layers.conv1d({ inputShape: [10, 3], filters: 4, kernelSize: 3, padding: "same", activation: "relu" }),
        tf.layers.conv1d({ filters: 8, kernelSize: 2, strides: 2, activation: "tanh" }),
        tf.layers.globalAveragePooling1d({}),
        tf.layers.dense({ units: 2, activation: "softmax" }),
      ],
      tf.randomNormal([n, 10, 3], 0, 1, "float32", 1902),
      tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 1))),
      "sparseCategoricalCrossentropy",
    ),
  );
  // the text CNN of the benchmarks, small: Embedding → Conv1D(relu) → GlobalMaxPooling1D (a sparse
  // output gradient: the Conv1D kernel's scatter path) → Dense; the Embedding's module instance is its own
  const m = randInt(r, 3, 5);
  const steps = 12;
  out.push(
    finish(
      "text CNN: embedding -> conv1d(32, relu) -> global max pooling",
      [
        tf.layers.embedding({ inputDim: 9, outputDim: 4, inputLength: steps }),
        tf.layers.conv1d({ filters: 32, kernelSize: 5, activation: "relu" }),
        tf.layers.globalMaxPooling1d({}),
        tf.layers.dense({ units: 2, activation: "softmax" }),
      ],
      tf.tensor2d(
        Array.from({ length: m * steps }, (_, p) => (p % steps >= steps - 3 ? 0 : randInt(r, 0, 8))),
        [m, steps],
      ),
      tf.tensor1d(Array.from({ length: m }, () => randInt(r, 0, 1))),
      "sparseCategoricalCrossentropy",
    ),
  );
  return out;
}

const RNN_ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear", "elu", "softsign", "hardSigmoid", "selu", "softplus"] as const;
const RECURRENT_ACTIVATIONS = ["hardSigmoid", "sigmoid", "tanh"] as const;

function recurrentLayer(kind: "simpleRNN" | "lstm" | "gru", args: Record<string, unknown>): tf.layers.Layer {
  return (tf.layers[kind] as unknown as (a: Record<string, unknown>) => tf.layers.Layer)(args);
}

function tokens(r: () => number, n: number, steps: number, vocab: number): tf.Tensor2D {
  const v = Array.from({ length: n * steps }, () => randInt(r, 0, vocab - 1));
  for (let t = 0; t < steps; t++) v[t] = 0; // example 0: every step masked
  v[steps] = 0; // example 1 starts with a masked step
  return tf.tensor2d(v, [n, steps]);
}

/**
 * SimpleRNN, LSTM, GRU (returnSequences on/off, bias on/off, goBackwards, their activations),
 * with and without masks from Embedding({ maskZero: true }), stacked, Bidirectional (every merge
 * mode), TimeDistributed(Dense) and the generic fallback (tf.layers.rnn with a cell,
 * TimeDistributed(LayerNormalization)).
 */
export function recurrentCases(r = lcg(37)): Case[] {
  const out: Case[] = [];
  const kinds = ["simpleRNN", "lstm", "gru"] as const;
  let a = 0;
  for (const kind of kinds) {
    for (const returnSequences of [false, true]) {
      for (const useBias of [true, false]) {
        const n = randInt(r, 2, 4);
        const steps = randInt(r, 2, 5);
        const d = randInt(r, 1, 4);
        const units = randInt(r, 1, 4);
        const activation = RNN_ACTIVATIONS[a++ % RNN_ACTIVATIONS.length];
        const recurrentActivation = RECURRENT_ACTIVATIONS[a % RECURRENT_ACTIVATIONS.length];
        const goBackwards = a % 2 === 0;
        const rnnArgs = {
          units,
          returnSequences,
          useBias,
          activation,
          goBackwards,
          ...(kind === "simpleRNN" ? {} : { recurrentActivation }),
        };
        // without a mask: dense inputs
        out.push(
          finish(
            `${kind} ${activation}/${kind === "simpleRNN" ? "-" : recurrentActivation} seq=${returnSequences} bias=${useBias} back=${goBackwards} (${n}x${steps}x${d}->${units})`,
            [
              recurrentLayer(kind, { inputShape: [steps, d], ...rnnArgs }),
              ...(returnSequences ? [tf.layers.flatten()] : []),
              tf.layers.dense({ units: 2, useBias }),
            ],
            normal([n, steps, d]),
            normal([n, 2]),
            "meanSquaredError",
          ),
        );
        // with a mask from Embedding({ maskZero: true })
        const vocab = 5;
        const layers = [
          tf.layers.embedding({ inputDim: vocab, outputDim: d + 1, maskZero: true, inputLength: steps }),
          recurrentLayer(kind, rnnArgs),
        ];
        const y = returnSequences
          ? tf.tensor2d(
              Array.from({ length: n * steps }, () => randInt(r, 0, 2)),
              [n, steps],
            )
          : tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 2)));
        layers.push(
          returnSequences
            ? tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3, activation: "softmax", useBias }) })
            : tf.layers.dense({ units: 3, activation: "softmax", useBias }),
        );
        out.push(
          finish(
            `masked embedding -> ${kind} seq=${returnSequences} bias=${useBias} back=${goBackwards}`,
            layers,
            tokens(r, n, steps, vocab),
            y,
            "sparseCategoricalCrossentropy",
          ),
        );
      }
    }
  }
  // stacked, masked: LSTM(returnSequences) -> GRU -> SimpleRNN
  out.push(
    finish(
      "masked embedding -> lstm(seq) -> gru(seq) -> simpleRNN",
      [
        tf.layers.embedding({ inputDim: 6, outputDim: 3, maskZero: true, inputLength: 5 }),
        tf.layers.lstm({ units: 3, returnSequences: true }),
        tf.layers.gru({ units: 2, returnSequences: true }),
        tf.layers.simpleRNN({ units: 2 }),
        tf.layers.dense({ units: 2, activation: "softmax" }),
      ],
      tokens(r, 4, 5, 6),
      tf.tensor1d([0, 1, 1, 0]),
      "sparseCategoricalCrossentropy",
    ),
  );
  // Bidirectional around each kind, every merge mode, with and without mask
  const merges = ["concat", "sum", "ave", "mul"] as const;
  let m = 0;
  for (const kind of kinds) {
    for (const returnSequences of [false, true]) {
      const mergeMode = merges[m++ % merges.length];
      const n = randInt(r, 2, 4);
      const steps = randInt(r, 2, 4);
      out.push(
        finish(
          `bidirectional ${kind} ${mergeMode} seq=${returnSequences}`,
          [
            tf.layers.bidirectional({
              layer: recurrentLayer(kind, { units: 2, returnSequences }) as tf.RNN,
              mergeMode,
              inputShape: [steps, 3],
            }),
            ...(returnSequences ? [tf.layers.flatten()] : []),
            tf.layers.dense({ units: 2 }),
          ],
          normal([n, steps, 3]),
          normal([n, 2]),
          "meanSquaredError",
        ),
      );
      out.push(
        finish(
          `masked embedding -> bidirectional ${kind} ${merges[m % merges.length]} seq=${returnSequences}`,
          [
            tf.layers.embedding({ inputDim: 5, outputDim: 3, maskZero: true, inputLength: steps }),
            tf.layers.bidirectional({
              layer: recurrentLayer(kind, { units: 2, returnSequences }) as tf.RNN,
              mergeMode: merges[m % merges.length],
            }),
            ...(returnSequences ? [tf.layers.lstm({ units: 2 })] : []),
            tf.layers.dense({ units: 2, activation: "softmax" }),
          ],
          tokens(r, n, steps, 5),
          tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 1))),
          "sparseCategoricalCrossentropy",
        ),
      );
    }
  }
  // the fallback: tf.layers.rnn with a cell, TimeDistributed around a layer without a sequence rule
  out.push(
    finish(
      "fallback: rnn(lstmCell) -> timeDistributed(layerNormalization)",
      [
        tf.layers.rnn({ cell: tf.layers.lstmCell({ units: 3 }), returnSequences: true, inputShape: [4, 2] }),
        tf.layers.timeDistributed({ layer: tf.layers.layerNormalization({}) }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 2 }),
      ],
      normal([3, 4, 2]),
      normal([3, 2]),
      "meanSquaredError",
    ),
  );
  // LSTM with tanh and hard / plain sigmoid gates: the host recurrence op on cpu and wasm
  // (src/dpsgd/engine/layers/lstm-host.ts), masked and not, both directions, sequences on and off.
  let h = 0;
  for (const recurrentActivation of ["hardSigmoid", "sigmoid"] as const) {
    for (const returnSequences of [false, true]) {
      const goBackwards = h % 2 === 1;
      const useBias = h++ !== 2;
      const n = randInt(r, 2, 5);
      const steps = randInt(r, 2, 6);
      const rnnArgs = { units: randInt(r, 1, 4), returnSequences, goBackwards, useBias, recurrentActivation };
      const tail = returnSequences ? [tf.layers.flatten()] : [];
      out.push(
        finish(
          `lstm host op ${recurrentActivation} seq=${returnSequences} back=${goBackwards} bias=${useBias}`,
          [tf.layers.lstm({ inputShape: [steps, 3], ...rnnArgs }), ...tail, tf.layers.dense({ units: 2 })],
          normal([n, steps, 3]),
          normal([n, 2]),
          "meanSquaredError",
        ),
      );
      out.push(
        finish(
          `masked embedding -> lstm host op ${recurrentActivation} seq=${returnSequences} back=${goBackwards} bias=${useBias}`,
          [
            tf.layers.embedding({ inputDim: 7, outputDim: 3, maskZero: true, inputLength: steps }),
            tf.layers.lstm(rnnArgs),
            ...(returnSequences ? [tf.layers.lstm({ units: 2 })] : []),
            tf.layers.dense({ units: 2, activation: "softmax" }),
          ],
          tokens(r, n, steps, 7),
          tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 1))),
          "sparseCategoricalCrossentropy",
        ),
      );
    }
  }
  out.push(...rnnHostCases(r));
  return out;
}

/**
 * GRU (tanh with hard / plain sigmoid gates) and SimpleRNN (tanh, relu, linear): the host
 * recurrence ops on cpu and wasm (src/dpsgd/engine/layers/rnn-host.ts), masked and not, both
 * directions, sequences on and off, bias on and off, and Bidirectional around them in every
 * merge mode.
 */
function rnnHostCases(r: () => number): Case[] {
  const out: Case[] = [];
  const variants = [
    { kind: "gru", activation: "tanh", recurrentActivation: "hardSigmoid" },
    { kind: "gru", activation: "tanh", recurrentActivation: "sigmoid" },
    { kind: "simpleRNN", activation: "tanh" },
    { kind: "simpleRNN", activation: "relu" },
    { kind: "simpleRNN", activation: "linear" },
  ] as const;
  let h = 0;
  for (const v of variants) {
    for (const returnSequences of [false, true]) {
      const goBackwards = h % 2 === 1;
      const useBias = h++ % 3 !== 2;
      const n = randInt(r, 2, 5);
      const steps = randInt(r, 2, 6);
      const { kind, ...acts } = v;
      const rnnArgs = { units: randInt(r, 1, 4), returnSequences, goBackwards, useBias, ...acts };
      const label = `${kind} host op ${Object.values(acts).join("/")} seq=${returnSequences} back=${goBackwards} bias=${useBias}`;
      out.push(
        finish(
          label,
          [
            recurrentLayer(kind, { inputShape: [steps, 3], ...rnnArgs }),
            ...(returnSequences ? [tf.layers.flatten()] : []),
            tf.layers.dense({ units: 2 }),
          ],
          normal([n, steps, 3]),
          normal([n, 2]),
          "meanSquaredError",
        ),
      );
      out.push(
        finish(
          `masked embedding -> ${label}`,
          [
            tf.layers.embedding({ inputDim: 7, outputDim: 3, maskZero: true, inputLength: steps }),
            recurrentLayer(kind, rnnArgs),
            ...(returnSequences ? [recurrentLayer(kind, { units: 2 })] : []),
            tf.layers.dense({ units: 2, activation: "softmax" }),
          ],
          tokens(r, n, steps, 7),
          tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 1))),
          "sparseCategoricalCrossentropy",
        ),
      );
    }
  }
  const merges = ["concat", "sum", "ave", "mul"] as const;
  for (let m = 0; m < merges.length; m++) {
    const kind = m % 2 === 0 ? "gru" : "simpleRNN";
    const returnSequences = m >= 2;
    const acts = kind === "gru" ? { recurrentActivation: m === 0 ? "sigmoid" : "hardSigmoid" } : { activation: m === 1 ? "relu" : "tanh" };
    const n = randInt(r, 2, 4);
    const steps = randInt(r, 2, 5);
    out.push(
      finish(
        `masked embedding -> bidirectional ${kind} host op ${merges[m]} seq=${returnSequences}`,
        [
          tf.layers.embedding({ inputDim: 6, outputDim: 3, maskZero: true, inputLength: steps }),
          tf.layers.bidirectional({ layer: recurrentLayer(kind, { units: 3, returnSequences, ...acts }) as tf.RNN, mergeMode: merges[m] }),
          ...(returnSequences ? [recurrentLayer(kind, { units: 2 })] : []),
          tf.layers.dense({ units: 2, activation: "softmax" }),
        ],
        tokens(r, n, steps, 6),
        tf.tensor1d(Array.from({ length: n }, () => randInt(r, 0, 1))),
        "sparseCategoricalCrossentropy",
      ),
    );
  }
  return out;
}
