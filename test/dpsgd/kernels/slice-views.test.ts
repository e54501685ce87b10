/**
 * dpkit's zero-copy wasm `Slice`, `Unpack` and `SplitV` (src/dpsgd/kernels/slice-views.ts)
 * against the cpu backend, exact equality (they copy values), over ranks 1–6, random boxes,
 * float32/int32/bool, plus the string fallback; and the point of them: no read of the whole
 * input into JS. Negative controls: tfjs-backend-wasm's own Slice does read the input into JS
 * (so the counter can see it), and a box shifted by one element fails the value comparison.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { registerDpkitWasmKernels } from "../../../src/dpsgd/kernels/index.js";
import { lcg, randInt } from "../engine/reference.js";

type DType = "float32" | "int32" | "bool";

let ownSlice: tf.KernelConfig | undefined;

beforeAll(async () => {
  await import("@tensorflow/tfjs-backend-wasm");
  ownSlice = tf.getKernel("Slice", "wasm"); // tfjs's own, before dpkit replaces it
  await prepareBackend({ backend: "wasm", announce: false });
  registerDpkitWasmKernels();
});

function values(r: () => number, size: number, dtype: DType): number[] {
  return Array.from({ length: size }, () =>
    dtype === "float32" ? r() * 2 - 1 : dtype === "int32" ? randInt(r, -50, 50) : randInt(r, 0, 1),
  );
}

/** Runs `f` on a fresh tensor on `backend`; returns shapes and values of the outputs. */
function on(backend: string, vals: number[], shape: number[], dtype: DType, f: (x: tf.Tensor) => tf.Tensor[]) {
  tf.setBackend(backend);
  return tf.tidy(() => f(tf.tensor(vals, shape, dtype)).map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) })));
}

function same(vals: number[], shape: number[], dtype: DType, f: (x: tf.Tensor) => tf.Tensor[]): boolean {
  const cpu = on("cpu", vals, shape, dtype, f);
  const wasm = on("wasm", vals, shape, dtype, f);
  return JSON.stringify(cpu) === JSON.stringify(wasm);
}

function randomShape(r: () => number, rank: number): number[] {
  return Array.from({ length: rank }, () => randInt(r, 1, 5));
}

/** Counts bytes copied out of the wasm heap into JS by `readSync` while `f` runs. */
function bytesRead(f: () => void): number {
  const b = tf.findBackend("wasm") as unknown as { readSync: (id: object, s?: number, e?: number) => ArrayBufferView };
  const orig = b.readSync;
  let bytes = 0;
  b.readSync = (id, s, e) => {
    const out = orig.call(b, id, s, e);
    bytes += out.byteLength;
    return out;
  };
  try {
    f();
  } finally {
    b.readSync = orig;
  }
  return bytes;
}

describe("Slice (wasm, zero-copy) equals the cpu kernel", () => {
  const r = lcg(11);
  const cases: [string, number, DType][] = [];
  for (let rank = 1; rank <= 6; rank++)
    for (const dtype of ["float32", "int32", "bool"] as DType[]) cases.push([`rank ${rank} ${dtype}`, rank, dtype]);
  it.each(cases)("%s (8 random boxes)", (_name, rank, dtype) => {
    for (let k = 0; k < 8; k++) {
      const shape = randomShape(r, rank);
      const begin = shape.map((s) => randInt(r, 0, s - 1));
      const size = shape.map((s, d) => (r() < 0.2 ? -1 : randInt(r, 0, s - begin[d])));
      const vals = values(
        r,
        shape.reduce((a, b) => a * b, 1),
        dtype,
      );
      expect(
        same(vals, shape, dtype, (x) => [tf.slice(x, begin, size)]),
        `${shape} ${begin} ${size}`,
      ).toBe(true);
    }
  });
  it("strings go to tfjs's own kernel", () => {
    tf.setBackend("wasm");
    const out = tf.tidy(() => tf.slice(tf.tensor(["a", "b", "c", "d"], [2, 2]), [0, 1], [2, 1]).arraySync());
    expect(out).toEqual([["b"], ["d"]]);
  });
  it("reads nothing into JS; negative control: tfjs's own Slice reads the whole input", () => {
    tf.setBackend("wasm");
    const x = tf.tensor(values(lcg(3), 4 * 32 * 8, "float32"), [4, 32, 8]);
    try {
      const slice = () => tf.dispose(tf.slice(x, [0, 5, 0], [4, 1, 8]));
      expect(bytesRead(slice)).toBe(0);
      expect(ownSlice).toBeDefined();
      const mine = tf.getKernel("Slice", "wasm")!;
      tf.unregisterKernel("Slice", "wasm");
      tf.registerKernel(ownSlice!);
      try {
        expect(bytesRead(slice)).toBe(4 * 32 * 8 * 4);
      } finally {
        tf.unregisterKernel("Slice", "wasm");
        tf.registerKernel(mine);
      }
    } finally {
      x.dispose();
    }
  });
  it("negative control: a box shifted by one element fails the comparison", () => {
    const vals = values(lcg(5), 3 * 4 * 5, "float32");
    const shifted = (x: tf.Tensor) => [
      tf.backend() === tf.findBackend("cpu") ? tf.slice(x, [0, 1, 1], [2, 2, 3]) : tf.slice(x, [0, 1, 2], [2, 2, 3]),
    ];
    expect(same(vals, [3, 4, 5], "float32", shifted)).toBe(false);
  });
});

describe("Unpack and SplitV (wasm, zero-copy) equal the cpu kernels", () => {
  const r = lcg(17);
  it.each([1, 2, 3, 4, 5])("unstack, rank %i, every axis, three dtypes", (rank) => {
    for (const dtype of ["float32", "int32", "bool"] as DType[]) {
      const shape = randomShape(r, rank);
      const vals = values(
        r,
        shape.reduce((a, b) => a * b, 1),
        dtype,
      );
      for (let axis = -rank; axis < rank; axis++)
        expect(
          same(vals, shape, dtype, (x) => tf.unstack(x, axis)),
          `${shape} axis ${axis}`,
        ).toBe(true);
    }
  });
  it.each([1, 2, 3, 4])("split, rank %i, sizes with -1 and equal parts", (rank) => {
    for (const dtype of ["float32", "int32", "bool"] as DType[]) {
      const shape = randomShape(r, rank).map((s) => s + 1);
      const vals = values(
        r,
        shape.reduce((a, b) => a * b, 1),
        dtype,
      );
      for (let axis = 0; axis < rank; axis++) {
        const dim = shape[axis];
        const first = randInt(r, 0, dim);
        expect(
          same(vals, shape, dtype, (x) => tf.split(x, [first, -1], axis)),
          `${shape} axis ${axis} [${first}, -1]`,
        ).toBe(true);
        const parts = dim % 2 === 0 ? 2 : 1;
        expect(
          same(vals, shape, dtype, (x) => tf.split(x, parts, axis)),
          `${shape} axis ${axis} ${parts} parts`,
        ).toBe(true);
      }
    }
  });
  it("an LSTM-style unstack over time reads nothing into JS", () => {
    tf.setBackend("wasm");
    const x = tf.ones([16, 12, 8]);
    try {
      expect(bytesRead(() => tf.dispose(tf.unstack(x, 1)))).toBe(0);
      expect(bytesRead(() => tf.dispose(tf.split(x, [5, 7], 1)))).toBe(0);
    } finally {
      x.dispose();
    }
  });
});
