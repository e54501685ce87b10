/**
 * dpkit's wasm comparison kernels with broadcasting (src/dpsgd/kernels/compare-broadcast.ts) against
 * the cpu backend, exact equality: the six comparisons, float32 and int32, operands of ranks 0–4 that
 * broadcast along any subset of axes (either side), NaN and ±0, empty outputs; same-shape operands
 * and operands that do not broadcast go to tfjs's own kernel (which throws for the latter). The
 * replacement is checked to be the registered kernel, so the comparison is not vacuous; negative
 * control: the kernel made for another comparison (Less in place of Greater) fails it.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { COMPARISON_KERNELS, compareBroadcastKernel, registerDpkitWasmKernels } from "../../../src/dpsgd/kernels/index.js";
import { lcg, randInt } from "../engine/reference.js";
import { sameOnCpuAndWasm } from "./cpu-vs-wasm.js";

beforeAll(async () => {
  await prepareBackend({ backend: "wasm", announce: false });
  registerDpkitWasmKernels();
});

const OPS: Record<(typeof COMPARISON_KERNELS)[number], (a: tf.Tensor, b: tf.Tensor) => tf.Tensor> = {
  Equal: tf.equal,
  NotEqual: tf.notEqual,
  Greater: tf.greater,
  GreaterEqual: tf.greaterEqual,
  Less: tf.less,
  LessEqual: tf.lessEqual,
};

const same = sameOnCpuAndWasm;

/** Values with many ties (so Equal and the non-strict comparisons see both outcomes). */
function values(r: () => number, n: number, dtype: "float32" | "int32"): number[] {
  return Array.from({ length: n }, () => (dtype === "float32" ? randInt(r, -3, 3) * 0.5 : randInt(r, -3, 3)));
}

describe("comparisons with broadcasting (wasm) equal the cpu kernels", () => {
  it("are the registered wasm kernels", () => {
    for (const k of COMPARISON_KERNELS) {
      expect(tf.getKernel(k, "wasm")!.kernelFunc.toString()).toBe(compareBroadcastKernel(k, tf.getKernel(k, "wasm")).toString());
    }
  });
  const r = lcg(41);
  it.each([...COMPARISON_KERNELS])("%s: random shapes of ranks 0-4 broadcasting either way, float32 and int32", (k) => {
    for (let trial = 0; trial < 30; trial++) {
      const dtype = trial % 2 === 0 ? "float32" : "int32";
      const rank = randInt(r, 0, 4);
      const full = Array.from({ length: rank }, () => randInt(r, 1, 5));
      // Each operand: some axes set to 1, and maybe fewer leading axes.
      const shapeOf = () => full.slice(randInt(r, 0, Math.min(rank, 1))).map((d) => (r() < 0.4 ? 1 : d));
      const sa = shapeOf();
      const sb = shapeOf();
      const size = (s: number[]) => s.reduce((p, q) => p * q, 1);
      const av = values(r, size(sa), dtype);
      const bv = values(r, size(sb), dtype);
      expect(
        same(() => OPS[k](tf.tensor(av, sa, dtype), tf.tensor(bv, sb, dtype))),
        `${k} ${dtype} [${sa}] vs [${sb}]`,
      ).toBe(true);
    }
  });
  it("the gradient-of-max shape, NaN and signed zeros", () => {
    const r2 = lcg(7);
    const x = Array.from({ length: 4 * 6 * 3 }, () => randInt(r2, -2, 2) * 0.25);
    x[5] = NaN;
    x[11] = -0;
    const m = [0, -0, NaN, 0.5, 0.25, -0.5, 0, 0, 0.5, NaN, 1, -1];
    for (const k of COMPARISON_KERNELS) {
      expect(
        same(() => OPS[k](tf.tensor(x, [4, 6, 3]), tf.tensor(m, [4, 1, 3]))),
        k,
      ).toBe(true);
      expect(
        same(() => OPS[k](tf.tensor(m, [4, 1, 3]), tf.tensor(x, [4, 6, 3]))),
        k,
      ).toBe(true);
      expect(
        same(() => OPS[k](tf.tensor(x, [4, 6, 3]), tf.scalar(0))),
        k,
      ).toBe(true);
    }
  });
  it("empty outputs, same shapes and shapes that do not broadcast (tfjs's own kernel)", () => {
    expect(same(() => tf.equal(tf.zeros([0, 3]), tf.zeros([1, 3])))).toBe(true);
    expect(same(() => tf.less(tf.tensor([1, 2, 3]), tf.tensor([3, 2, 1])))).toBe(true);
    tf.setBackend("wasm");
    expect(() => tf.tidy(() => tf.equal(tf.zeros([2, 3]), tf.zeros([4, 3])))).toThrow();
  });
  it("negative control: Less's kernel in place of Greater's disagrees with the cpu backend", () => {
    tf.setBackend("wasm");
    const own = tf.getKernel("Greater", "wasm")!;
    tf.unregisterKernel("Greater", "wasm");
    tf.registerKernel({ kernelName: "Greater", backendName: "wasm", kernelFunc: compareBroadcastKernel("Less", own) });
    try {
      expect(same(() => tf.greater(tf.tensor([[1, 2, 3]]), tf.tensor([[2], [1]])))).toBe(false);
    } finally {
      tf.unregisterKernel("Greater", "wasm");
      tf.registerKernel(own);
    }
  });
});
