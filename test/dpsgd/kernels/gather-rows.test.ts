/**
 * dpkit's wasm `GatherV2` along axis 0 (src/dpsgd/kernels/gather-rows.ts) against the cpu
 * backend, exact equality: tables of rank 1–4, index tensors of rank 1–2, float32 and int32,
 * repeated indices; other axes and batchDims go to tfjs's own kernel; an out-of-range index
 * throws. Negative control: gathering rows shifted by one fails the comparison.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { gatherRowsKernel, registerDpkitWasmKernels } from "../../../src/dpsgd/kernels/index.js";
import { lcg, randInt } from "../engine/reference.js";
import { sameOnCpuAndWasm } from "./cpu-vs-wasm.js";

beforeAll(async () => {
  await prepareBackend({ backend: "wasm", announce: false });
  registerDpkitWasmKernels();
});

const same = sameOnCpuAndWasm;

describe("GatherV2 (wasm, axis 0 row copy) equals the cpu kernel", () => {
  it("is the registered wasm kernel", () => {
    expect(tf.getKernel("GatherV2", "wasm")!.kernelFunc.toString()).toBe(gatherRowsKernel(tf.getKernel("GatherV2", "wasm")).toString());
  });
  const r = lcg(23);
  it.each([1, 2, 3, 4])("table rank %i, float32 and int32, index ranks 1 and 2", (rank) => {
    for (const dtype of ["float32", "int32"] as const) {
      for (const idxRank of [1, 2]) {
        const shape = Array.from({ length: rank }, () => randInt(r, 1, 6));
        const size = shape.reduce((a, b) => a * b, 1);
        const vals = Array.from({ length: size }, () => (dtype === "float32" ? r() * 2 - 1 : randInt(r, -9, 9)));
        const idxShape = idxRank === 1 ? [randInt(r, 1, 12)] : [randInt(r, 1, 4), randInt(r, 1, 5)];
        const ids = Array.from({ length: idxShape.reduce((a, b) => a * b, 1) }, () => randInt(r, 0, shape[0] - 1));
        expect(
          same(() => tf.gather(tf.tensor(vals, shape, dtype), tf.tensor(ids, idxShape, "int32"))),
          `${shape} ${idxShape}`,
        ).toBe(true);
      }
    }
  });
  it("other axes and batchDims (tfjs's own kernel) still agree", () => {
    const x = Array.from({ length: 2 * 3 * 4 }, (_, i) => i * 0.5);
    expect(same(() => tf.gather(tf.tensor(x, [2, 3, 4]), tf.tensor([2, 0, 2], [3], "int32"), 1))).toBe(true);
    expect(same(() => tf.gather(tf.tensor(x, [2, 3, 4]), tf.tensor([1, 0, 3, 3], [2, 2], "int32"), 2, 1))).toBe(true);
  });
  it("an out-of-range index throws", () => {
    tf.setBackend("wasm");
    expect(() =>
      tf.tidy(() =>
        tf.gather(
          tf.tensor([
            [1, 2],
            [3, 4],
          ]),
          tf.tensor([0, 2], [2], "int32"),
        ),
      ),
    ).toThrow(/not in \[0, 1\]/);
    expect(() =>
      tf.tidy(() =>
        tf.gather(
          tf.tensor([
            [1, 2],
            [3, 4],
          ]),
          tf.tensor([-1], [1], "int32"),
        ),
      ),
    ).toThrow(/not in \[0, 1\]/);
  });
  it("negative control: rows shifted by one fail the comparison", () => {
    const vals = Array.from({ length: 5 * 3 }, (_, i) => i);
    const shifted = () => {
      const ids = tf.getBackend() === "cpu" ? [0, 1, 2] : [1, 2, 3];
      return tf.gather(tf.tensor(vals, [5, 3]), tf.tensor(ids, [3], "int32"));
    };
    expect(same(shifted)).toBe(false);
  });
});
