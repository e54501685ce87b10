/**
 * dpkit's faster wasm gradient kernels (src/dpsgd/kernels/fast-gradients.ts) against the cpu
 * backend's kernels on the same inputs: Conv2DBackpropInput (stride 1 through Conv2D, other
 * strides through tfjs-wasm's own), BatchMatMul (every transpose combination, both ways of
 * computing the product, broadcast batches) and the registered MaxPoolGrad
 * (overlapping windows, ties at 0 as after a ReLU, -Infinity).
 * Negative controls: an input gradient without the filter flip, and a product with the operands'
 * roles swapped, fail the same comparisons.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { registerDpkitWasmKernels } from "../../../src/dpsgd/kernels/register.js";
import { lcg, randInt } from "../engine/reference.js";

const TOL = 1e-5;

type Inputs = Record<string, { values: Float32Array; shape: number[] }>;

function runOn(backend: string, kernel: string, inputs: Inputs, attrs: Record<string, unknown>) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const ins: tf.NamedTensorMap = {};
    for (const [k, v] of Object.entries(inputs)) ins[k] = tf.tensor(v.values, v.shape);
    const out = tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { shape: out.shape, values: out.dataSync().slice() as Float32Array };
  });
}

function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let s = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    s += b[i] ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(s), 1e-30);
}

function compare(kernel: string, inputs: Inputs, attrs: Record<string, unknown>): number {
  const cpu = runOn("cpu", kernel, inputs, attrs);
  const wasm = runOn("wasm", kernel, inputs, attrs);
  if (JSON.stringify(cpu.shape) !== JSON.stringify(wasm.shape)) return Infinity;
  return relError(wasm.values, cpu.values);
}

function randomValues(r: () => number, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => r() * 2 - 1);
}

let tfjsConv2DBackpropInput: tf.KernelConfig | undefined;
let tfjsBatchMatMul: tf.KernelConfig | undefined;
let tfjsMaxPoolGrad: tf.KernelConfig | undefined;

beforeAll(async () => {
  await import("@tensorflow/tfjs-backend-wasm");
  tfjsConv2DBackpropInput = tf.getKernel("Conv2DBackpropInput", "wasm");
  tfjsBatchMatMul = tf.getKernel("BatchMatMul", "wasm");
  tfjsMaxPoolGrad = tf.getKernel("MaxPoolGrad", "wasm");
  await prepareBackend({ backend: "wasm", announce: false });
});

describe("registration", () => {
  it("prepareBackend replaced tfjs-wasm's Conv2DBackpropInput, BatchMatMul and MaxPoolGrad; registering again is a no-op", () => {
    expect(tf.getKernel("Conv2DBackpropInput", "wasm")?.kernelFunc).not.toBe(tfjsConv2DBackpropInput?.kernelFunc);
    expect(tf.getKernel("BatchMatMul", "wasm")?.kernelFunc).not.toBe(tfjsBatchMatMul?.kernelFunc);
    expect(tf.getKernel("MaxPoolGrad", "wasm")?.kernelFunc).not.toBe(tfjsMaxPoolGrad?.kernelFunc);
    expect(registerDpkitWasmKernels()).toEqual([]);
  });
});

describe("Conv2DBackpropInput (wasm, through Conv2D for stride 1) equals the cpu kernel", () => {
  const r = lcg(41);
  const cases: [string, number, string][] = [];
  for (const pad of ["same", "valid", "explicit"])
    for (const s of [1, 2]) for (let rep = 0; rep < 3; rep++) cases.push([`${pad} stride ${s} #${rep}`, s, pad]);
  const inputsFor = (s: number, pad: string) => {
    const n = randInt(r, 1, 3);
    const kh = randInt(r, 1, 5);
    const kw = randInt(r, 1, 5);
    const h = randInt(r, kh + 1, 12);
    const w = randInt(r, kw + 1, 12);
    const cin = randInt(r, 1, 4);
    const cout = randInt(r, 1, 5);
    const padAttr =
      pad === "explicit"
        ? [
            [0, 0],
            [randInt(r, 0, kh - 1), randInt(r, 0, kh - 1)],
            [randInt(r, 0, kw - 1), randInt(r, 0, kw - 1)],
            [0, 0],
          ]
        : pad;
    const info = tf.backend_util.computeConv2DInfo([n, h, w, cin], [kh, kw, cin, cout], s, 1, padAttr as "same");
    const inputs = {
      dy: { values: randomValues(r, n * info.outHeight * info.outWidth * cout), shape: [n, info.outHeight, info.outWidth, cout] },
      filter: { values: randomValues(r, kh * kw * cin * cout), shape: [kh, kw, cin, cout] },
    };
    const attrs = { strides: [s, s], pad: padAttr, dataFormat: "NHWC", dimRoundingMode: undefined, inputShape: [n, h, w, cin] };
    return { inputs, attrs };
  };
  it.each(cases)("%s", (_name, s, pad) => {
    const { inputs, attrs } = inputsFor(s, pad);
    expect(compare("Conv2DBackpropInput", inputs, attrs)).toBeLessThan(TOL);
  });

  it("the paper CNN's second layer (10×14×14×64, 5×5×32×64, same) equals tfjs-wasm's own kernel", () => {
    const rr = lcg(3);
    const inputs = {
      dy: { values: randomValues(rr, 10 * 14 * 14 * 64), shape: [10, 14, 14, 64] },
      filter: { values: randomValues(rr, 5 * 5 * 32 * 64), shape: [5, 5, 32, 64] },
    };
    const attrs = { strides: [1, 1], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined, inputShape: [10, 14, 14, 32] };
    const mine = runOn("wasm", "Conv2DBackpropInput", inputs, attrs);
    const current = tf.getKernel("Conv2DBackpropInput", "wasm") as tf.KernelConfig;
    expect(current.kernelFunc).not.toBe(tfjsConv2DBackpropInput?.kernelFunc);
    tf.unregisterKernel("Conv2DBackpropInput", "wasm");
    tf.registerKernel(tfjsConv2DBackpropInput as tf.KernelConfig);
    try {
      const theirs = runOn("wasm", "Conv2DBackpropInput", inputs, attrs);
      expect(relError(mine.values, theirs.values)).toBeLessThan(TOL);
    } finally {
      tf.unregisterKernel("Conv2DBackpropInput", "wasm");
      tf.registerKernel(current);
    }
  });

  it("negative control: the same convolution without the filter flip is caught", () => {
    const rr = lcg(8);
    const dy = tf.tensor4d(randomValues(rr, 2 * 6 * 6 * 3), [2, 6, 6, 3]);
    const f = tf.tensor4d(randomValues(rr, 3 * 3 * 2 * 3), [3, 3, 2, 3]);
    tf.setBackend("wasm");
    const unflipped = tf
      .conv2d(dy, tf.transpose(f, [0, 1, 3, 2]) as tf.Tensor4D, 1, "same")
      .dataSync()
      .slice();
    const flipped = tf
      .conv2d(dy, tf.transpose(tf.reverse(f, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D, 1, "same")
      .dataSync()
      .slice();
    const cpu = runOn(
      "cpu",
      "Conv2DBackpropInput",
      { dy: { values: dy.dataSync() as Float32Array, shape: dy.shape }, filter: { values: f.dataSync() as Float32Array, shape: f.shape } },
      { strides: [1, 1], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined, inputShape: [2, 6, 6, 2] },
    );
    expect(relError(flipped, cpu.values)).toBeLessThan(TOL);
    expect(relError(unflipped, cpu.values)).toBeGreaterThan(0.1);
  });
});

describe("BatchMatMul (wasm, untransposed operands) equals the cpu kernel", () => {
  const r = lcg(77);
  // [a rows, inner, b cols, batch a, batch b]: small and large right operands, so that both the
  // direct product and the transposed one run.
  const shapes: [number, number, number, number, number][] = [
    [3, 5, 4, 1, 1],
    [10, 300, 64, 1, 1],
    [64, 300, 10, 1, 1],
    [2, 7, 3, 4, 4],
    [2, 7, 3, 4, 1],
    [5, 6, 200, 1, 3],
  ];
  const cases: [string, number, boolean, boolean][] = [];
  shapes.forEach((sh, i) => {
    for (const ta of [false, true]) for (const tb of [false, true]) cases.push([`${sh.join("×")} tA=${ta} tB=${tb}`, i, ta, tb]);
  });
  it.each(cases)("%s", (_name, i, ta, tb) => {
    const [m, k, n, ba, bb] = shapes[i];
    const aShape = [ba, ta ? k : m, ta ? m : k];
    const bShape = [bb, tb ? n : k, tb ? k : n];
    const inputs = {
      a: {
        values: randomValues(
          r,
          aShape.reduce((x, y) => x * y, 1),
        ),
        shape: aShape,
      },
      b: {
        values: randomValues(
          r,
          bShape.reduce((x, y) => x * y, 1),
        ),
        shape: bShape,
      },
    };
    expect(compare("BatchMatMul", inputs, { transposeA: ta, transposeB: tb })).toBeLessThan(TOL);
  });

  it("rank 2 (a dense layer's forward and both gradients)", () => {
    tf.setBackend("wasm");
    const x = tf.tensor2d(randomValues(r, 10 * 300), [10, 300]);
    const w = tf.tensor2d(randomValues(r, 300 * 40), [300, 40]);
    const dy = tf.tensor2d(randomValues(r, 10 * 40), [10, 40]);
    const onWasm = [tf.matMul(x, w), tf.matMul(x, dy, true, false), tf.matMul(dy, w, false, true)].map((t) => t.dataSync().slice());
    tf.setBackend("cpu");
    const xc = tf.tensor2d(x.dataSync(), [10, 300]);
    const wc = tf.tensor2d(w.dataSync(), [300, 40]);
    const dyc = tf.tensor2d(dy.dataSync(), [10, 40]);
    const onCpu = [tf.matMul(xc, wc), tf.matMul(xc, dyc, true, false), tf.matMul(dyc, wc, false, true)].map((t) => t.dataSync().slice());
    onCpu.forEach((c, j) => expect(relError(onWasm[j], c), `product ${j}`).toBeLessThan(TOL));
    // negative control: the product with the roles swapped (Bᵀ·Aᵀ, not transposed back) differs
    expect(relError(tf.matMul(dyc, xc, true, false).transpose().dataSync(), onCpu[1])).toBeLessThan(TOL);
    expect(relError(tf.matMul(dyc, xc, true, false).dataSync(), onCpu[1])).toBeGreaterThan(0.1);
  });
});

describe("MaxPoolGrad (wasm, the registered one-pass kernel) equals the cpu kernel with ties and -Infinity", () => {
  const r = lcg(59);
  const cases: [string, number, number, string][] = [];
  for (const pad of ["same", "valid"])
    for (const [p, st] of [
      [2, 2],
      [2, 1],
      [3, 1],
      [3, 2],
      [2, 3],
    ])
      cases.push([`pool ${p} stride ${st} ${pad}`, p, st, pad]);
  it.each(cases)("%s", (_name, p, st, pad) => {
    const n = randInt(r, 1, 3);
    const h = randInt(r, p + 1, 10);
    const w = randInt(r, p + 1, 10);
    const c = randInt(r, 1, 4);
    // a quarter of the inputs tied at 0 (as after a ReLU), one -Infinity
    const xv = randomValues(r, n * h * w * c).map((v) => (v < -0.5 ? 0 : v));
    xv[randInt(r, 0, xv.length - 1)] = -Infinity;
    const attrs = { filterSize: p, strides: st, pad, dimRoundingMode: undefined };
    const yv = runOn("cpu", "MaxPool", { x: { values: xv, shape: [n, h, w, c] } }, attrs);
    const inputs = {
      dy: { values: randomValues(r, yv.values.length), shape: yv.shape },
      input: { values: xv, shape: [n, h, w, c] },
      output: { values: yv.values, shape: yv.shape },
    };
    expect(compare("MaxPoolGrad", inputs, attrs)).toBeLessThan(TOL);
  });
});
