/**
 * dpkit's wasm gradient kernels against the cpu backend's native kernels (same inputs, same
 * attributes, through tf.engine().runKernel), for same/valid padding, strides 1–3 and dilations.
 * Negative control: a filter gradient with the wrong stride fails the same comparison.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { DPKIT_WASM_KERNELS, registerDpkitWasmKernels } from "../../../src/dpsgd/kernels/index.js";
import { lcg, randInt } from "../engine/reference.js";

const TOL = 1e-5;

function runOn(
  backend: string,
  kernel: string,
  inputs: Record<string, { values: Float32Array | Int32Array; shape: number[]; dtype?: "float32" | "int32" }>,
  attrs: Record<string, unknown>,
) {
  tf.setBackend(backend);
  return tf.tidy(() => {
    const ins: tf.NamedTensorMap = {};
    for (const [k, v] of Object.entries(inputs)) ins[k] = tf.tensor(v.values, v.shape, v.dtype ?? "float32");
    const out = tf.engine().runKernel(kernel, ins, attrs as tf.NamedAttrMap) as tf.Tensor;
    return { shape: out.shape, values: out.dataSync().slice() };
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

function compare(kernel: string, inputs: Parameters<typeof runOn>[2], attrs: Record<string, unknown>, wasmAttrs = attrs): number {
  const cpu = runOn("cpu", kernel, inputs, attrs);
  const wasm = runOn("wasm", kernel, inputs, wasmAttrs);
  if (JSON.stringify(cpu.shape) !== JSON.stringify(wasm.shape)) return Infinity;
  return relError(wasm.values, cpu.values);
}

function randomValues(r: () => number, size: number): Float32Array {
  return Float32Array.from({ length: size }, () => r() * 2 - 1);
}

function outSize(inSize: number, k: number, s: number, d: number, pad: string): number {
  const ek = (k - 1) * d + 1;
  return pad === "same" ? Math.ceil(inSize / s) : Math.ceil((inSize - ek + 1) / s);
}

let originalMaxPoolGrad: tf.KernelConfig | undefined;

beforeAll(async () => {
  await import("@tensorflow/tfjs-backend-wasm");
  originalMaxPoolGrad = tf.getKernel("MaxPoolGrad", "wasm"); // tfjs's own, before dpkit replaces it
  await prepareBackend({ backend: "wasm", announce: false });
});

describe("wasm kernel registration", () => {
  it("prepareBackend installed the kernels; registering again is a no-op", () => {
    for (const name of DPKIT_WASM_KERNELS) expect(tf.getKernel(name, "wasm"), name).toBeDefined();
    expect(registerDpkitWasmKernels()).toEqual([]);
  });
});

describe("Conv2DBackpropFilter (wasm) equals the cpu kernel", () => {
  const r = lcg(5);
  const cases: [string, number, string][] = [];
  for (const pad of ["same", "valid"])
    for (const s of [1, 2, 3]) for (let rep = 0; rep < 2; rep++) cases.push([`${pad} stride ${s} #${rep}`, s, pad]);
  it.each(cases)("%s", (_name, s, pad) => {
    const n = randInt(r, 1, 4);
    const kh = randInt(r, 1, 4);
    const kw = randInt(r, 1, 4);
    const h = randInt(r, kh + 1, 11);
    const w = randInt(r, kw + 1, 11);
    const cin = randInt(r, 1, 3);
    const cout = randInt(r, 1, 4);
    const ho = outSize(h, kh, s, 1, pad);
    const wo = outSize(w, kw, s, 1, pad);
    const inputs = {
      x: { values: randomValues(r, n * h * w * cin), shape: [n, h, w, cin] },
      dy: { values: randomValues(r, n * ho * wo * cout), shape: [n, ho, wo, cout] },
    };
    const attrs = { strides: [s, s], pad, dataFormat: "NHWC", dimRoundingMode: undefined, filterShape: [kh, kw, cin, cout] };
    expect(compare("Conv2DBackpropFilter", inputs, attrs)).toBeLessThan(TOL);
  });

  it("gives the same gradient as tf.grad of a conv2d layer on the cpu backend (end to end)", () => {
    const grads = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor4d(
          Float32Array.from({ length: 2 * 9 * 9 * 2 }, (_, i) => Math.sin(i)),
          [2, 9, 9, 2],
        );
        const f = tf.tensor4d(
          Float32Array.from({ length: 3 * 3 * 2 * 4 }, (_, i) => Math.cos(i)),
          [3, 3, 2, 4],
        );
        return tf
          .grad((ff: tf.Tensor) => tf.sum(tf.square(tf.conv2d(x, ff as tf.Tensor4D, 2, "same"))))(f)
          .dataSync()
          .slice();
      });
    };
    expect(relError(grads("wasm"), grads("cpu"))).toBeLessThan(TOL);
  });

  it("negative control: a wrong stride is caught by the same comparison", () => {
    const inputs = {
      x: { values: randomValues(r, 2 * 8 * 8 * 2), shape: [2, 8, 8, 2] },
      dy: { values: randomValues(r, 2 * 4 * 4 * 3), shape: [2, 4, 4, 3] },
    };
    const attrs = { strides: [2, 2], pad: "same", dataFormat: "NHWC", dimRoundingMode: undefined, filterShape: [3, 3, 2, 3] };
    expect(
      compare("Conv2DBackpropFilter", inputs, attrs, {
        ...attrs,
        strides: [1, 1],
        pad: [
          [0, 0],
          [0, 0],
          [0, 0],
          [0, 0],
        ],
      }),
    ).toBeGreaterThan(TOL);
  });
});

/** Direct float64 loops for the depthwise gradients (the cpu kernels are wrong for valid padding with dilation > 1). */
function depthwiseDirect(xShape: number[], filterShape: number[], s: number, d: number, pad: string) {
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    s,
    d,
    pad as "same",
    undefined,
    true,
  );
  const [n, h, w, c] = xShape;
  const [kh, kw, , m] = filterShape;
  const { outHeight: ho, outWidth: wo } = info;
  const { top, left } = info.padInfo;
  const taps = (visit: (xi: number, yi: number, fi: number) => void) => {
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < ho; oy++)
        for (let ox = 0; ox < wo; ox++)
          for (let ky = 0; ky < kh; ky++)
            for (let kx = 0; kx < kw; kx++) {
              const iy = oy * s + ky * d - top;
              const ix = ox * s + kx * d - left;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              for (let ch = 0; ch < c; ch++)
                for (let q = 0; q < m; q++)
                  visit(
                    ((b * h + iy) * w + ix) * c + ch,
                    ((b * ho + oy) * wo + ox) * c * m + ch * m + q,
                    ((ky * kw + kx) * c + ch) * m + q,
                  );
            }
  };
  return {
    filter(x: Float32Array, dy: Float32Array) {
      const out = new Float64Array(kh * kw * c * m);
      taps((xi, yi, fi) => (out[fi] += x[xi] * dy[yi]));
      return out;
    },
    input(dy: Float32Array, f: Float32Array) {
      const out = new Float64Array(n * h * w * c);
      taps((xi, yi, fi) => (out[xi] += dy[yi] * f[fi]));
      return out;
    },
  };
}

describe("DepthwiseConv2dNative backprop kernels (wasm) equal direct loops and the cpu kernels", () => {
  const r = lcg(9);
  const cases: [string, number, number, string][] = [];
  for (const pad of ["same", "valid"]) {
    for (const [s, d] of [
      [1, 1],
      [2, 1],
      [3, 1],
      [1, 2],
    ]) {
      cases.push([`${pad} stride ${s} dilation ${d}`, s, d, pad]);
    }
  }
  it.each(cases)("%s", (_name, s, d, pad) => {
    const n = randInt(r, 1, 3);
    const kh = randInt(r, 1, 3);
    const kw = randInt(r, 1, 3);
    const h = randInt(r, (kh - 1) * d + 2, 10);
    const w = randInt(r, (kw - 1) * d + 2, 10);
    const c = randInt(r, 1, 3);
    const m = randInt(r, 1, 2);
    const ho = outSize(h, kh, s, d, pad);
    const wo = outSize(w, kw, s, d, pad);
    const x = { values: randomValues(r, n * h * w * c), shape: [n, h, w, c] };
    const dy = { values: randomValues(r, n * ho * wo * c * m), shape: [n, ho, wo, c * m] };
    const filter = { values: randomValues(r, kh * kw * c * m), shape: [kh, kw, c, m] };
    const common = { strides: [s, s], dilations: [d, d], pad, dimRoundingMode: undefined };
    const direct = depthwiseDirect([n, h, w, c], [kh, kw, c, m], s, d, pad);
    const wf = runOn("wasm", "DepthwiseConv2dNativeBackpropFilter", { x, dy }, { ...common, filterShape: [kh, kw, c, m] });
    const wi = runOn("wasm", "DepthwiseConv2dNativeBackpropInput", { dy, filter }, { ...common, inputShape: [n, h, w, c] });
    expect(relError(wf.values, direct.filter(x.values, dy.values))).toBeLessThan(TOL);
    expect(relError(wi.values, direct.input(dy.values, filter.values))).toBeLessThan(TOL);
    if (d === 1) {
      expect(compare("DepthwiseConv2dNativeBackpropFilter", { x, dy }, { ...common, filterShape: [kh, kw, c, m] })).toBeLessThan(TOL);
      expect(compare("DepthwiseConv2dNativeBackpropInput", { dy, filter }, { ...common, inputShape: [n, h, w, c] })).toBeLessThan(TOL);
    }
  });
});

describe("UnsortedSegmentSum (wasm) equals the cpu kernel", () => {
  it("adds repeated segments", () => {
    const r = lcg(3);
    const ids = Int32Array.from({ length: 12 }, () => randInt(r, 0, 4));
    const x = { values: randomValues(r, 12 * 3), shape: [12, 3] };
    expect(compare("UnsortedSegmentSum", { x, segmentIds: { values: ids, shape: [12], dtype: "int32" } }, { numSegments: 6 })).toBeLessThan(
      TOL,
    );
  });
});

describe("end to end: tfjs's own training step on wasm (with dpkit's kernels) equals cpu", () => {
  it("one optimizer.minimize step of a model with Conv2D, DepthwiseConv2D and Embedding", () => {
    const step = (backend: string) => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const image = tf.input({ shape: [8, 8, 2] });
        const c = tf.layers
          .conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: "same", activation: "tanh", kernelInitializer: "ones" })
          .apply(image) as tf.SymbolicTensor;
        const d = tf.layers
          .depthwiseConv2d({ kernelSize: 2, depthMultiplier: 2, depthwiseInitializer: "ones" })
          .apply(c) as tf.SymbolicTensor;
        const out = tf.layers
          .dense({ units: 2, kernelInitializer: "ones" })
          .apply(tf.layers.flatten().apply(d) as tf.SymbolicTensor) as tf.SymbolicTensor;
        const cnn = tf.model({ inputs: image, outputs: out });
        const emb = tf.sequential({
          layers: [
            tf.layers.embedding({ inputDim: 5, outputDim: 2, inputLength: 3, embeddingsInitializer: "ones" }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 1, kernelInitializer: "ones" }),
          ],
        });
        const x = tf.tensor4d(
          Float32Array.from({ length: 3 * 8 * 8 * 2 }, (_, i) => Math.sin(i) / 4),
          [3, 8, 8, 2],
        );
        const ids = tf.tensor2d([0, 1, 1, 4, 4, 4], [2, 3]);
        const opt = tf.train.sgd(0.1);
        opt.minimize(
          () => tf.add(tf.mean(tf.square(cnn.apply(x) as tf.Tensor)), tf.mean(tf.square(emb.apply(ids) as tf.Tensor))) as tf.Scalar,
        );
        return [...cnn.getWeights(), ...emb.getWeights()].map((w) => w.dataSync().slice());
      });
    };
    const cpu = step("cpu");
    const wasm = step("wasm");
    expect(wasm.length).toBe(cpu.length);
    cpu.forEach((c, i) => expect(relError(wasm[i], c), `weight ${i}`).toBeLessThan(TOL));
  });
});

describe("MaxPoolGrad (wasm, replaced) equals the cpu kernel", () => {
  const r = lcg(31);
  const cases: [string, number, number, string][] = [];
  for (const pad of ["same", "valid"])
    for (const [p, st] of [
      [2, 1],
      [2, 2],
      [3, 1],
      [3, 2],
      [2, 3],
    ])
      cases.push([`pool ${p} stride ${st} ${pad}`, p, st, pad]);
  const run = (p: number, st: number, pad: string) => {
    const n = randInt(r, 1, 3);
    const h = randInt(r, p + 1, 9);
    const w = randInt(r, p + 1, 9);
    const c = randInt(r, 1, 3);
    const xv = randomValues(r, n * h * w * c);
    const ho = outSize(h, p, st, 1, pad);
    const wo = outSize(w, p, st, 1, pad);
    const yv = runOn(
      "cpu",
      "MaxPool",
      { x: { values: xv, shape: [n, h, w, c] } },
      { filterSize: p, strides: st, pad, dimRoundingMode: undefined },
    ).values as Float32Array;
    const inputs = {
      dy: { values: randomValues(r, n * ho * wo * c), shape: [n, ho, wo, c] },
      input: { values: xv, shape: [n, h, w, c] },
      output: { values: yv, shape: [n, ho, wo, c] },
    };
    return compare("MaxPoolGrad", inputs, { filterSize: p, strides: st, pad, dimRoundingMode: undefined });
  };
  it.each(cases)("%s", (_name, p, st, pad) => {
    expect(run(p, st, pad)).toBeLessThan(TOL);
  });
  it("negative control: tfjs-backend-wasm 4.22's own MaxPoolGrad fails the same comparison", () => {
    expect(originalMaxPoolGrad).toBeDefined();
    const mine = tf.getKernel("MaxPoolGrad", "wasm")!;
    tf.unregisterKernel("MaxPoolGrad", "wasm");
    tf.registerKernel(originalMaxPoolGrad!);
    try {
      expect(run(2, 1, "valid")).toBeGreaterThan(1e-2);
    } finally {
      tf.unregisterKernel("MaxPoolGrad", "wasm");
      tf.registerKernel(mine);
    }
  });
});
