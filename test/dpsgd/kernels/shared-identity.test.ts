/**
 * dpkit's wasm `Identity` (src/dpsgd/kernels/shared-identity.ts): inside the DP engine's step a
 * clone shares its input's buffer instead of copying it; outside, tfjs's copying kernel runs.
 * Checked: the buffer is shared only inside `withSharedIdentity` (outside it is not: the control),
 * values survive disposing either side, no buffer is leaked, strings still copy, a throw restores
 * the copying kernel, and the engine's step on a CNN (conv, pooling, dense) gives the same clipped
 * sums bit for bit with fewer heap allocations — as many fewer as the step ran Identity kernels.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { prepareBackend } from "../../../src/backend/index.js";
import { computeClippedSum } from "../../../src/dpsgd/gradients.js";
import { mnistModel } from "../../../src/dpsgd/index.js";
import { identityIsShared, setSharedIdentity, withSharedIdentity } from "../../../src/dpsgd/kernels/shared-identity.js";

interface WasmBackendLike {
  numDataIds(): number;
  wasm: { _malloc(bytes: number): number };
}

const wasmBackend = () => tf.backend() as unknown as WasmBackendLike;

/** Heap allocations (`_malloc` calls) while `f` runs. */
function mallocs(f: () => void): number {
  const w = wasmBackend().wasm;
  const orig = w._malloc;
  let n = 0;
  w._malloc = (bytes: number) => {
    n++;
    return orig(bytes);
  };
  try {
    f();
  } finally {
    w._malloc = orig;
  }
  return n;
}

describe("shared Identity on wasm", () => {
  beforeAll(async () => {
    await prepareBackend({ backend: "wasm", announce: false });
  });

  it("a clone shares the buffer only inside withSharedIdentity (outside it copies: the control), and values outlive either side", () => {
    const ids = wasmBackend().numDataIds();
    const x = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const outside = tf.clone(x);
    expect(outside.dataId).not.toBe(x.dataId);
    expect(identityIsShared()).toBe(false);
    const inside = withSharedIdentity(() => {
      expect(identityIsShared()).toBe(true);
      return tf.clone(x);
    });
    expect(identityIsShared()).toBe(false);
    expect(inside.dataId).toBe(x.dataId);
    // int32 and bool share too.
    const i = tf.tensor1d([7, -8], "int32");
    const b = tf.tensor1d([true, false], "bool");
    const [ci, cb] = withSharedIdentity(() => [tf.clone(i), tf.clone(b)]);
    expect(ci.dataId).toBe(i.dataId);
    expect(cb.dataId).toBe(b.dataId);
    expect(Array.from(ci.dataSync())).toEqual([7, -8]);
    expect(Array.from(cb.dataSync())).toEqual([1, 0]);
    // Disposing the original leaves the clone's values (the buffer is reference-counted) ...
    x.dispose();
    expect(Array.from(inside.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(outside.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    // ... and disposing every tensor frees every buffer.
    tf.dispose([inside, outside, i, b, ci, cb]);
    expect(wasmBackend().numDataIds()).toBe(ids);
  });

  it("strings still copy; a throw inside restores the copying kernel; nesting keeps sharing to the outermost end", () => {
    const s = tf.tensor1d(["a", "bc"], "string");
    const cs = withSharedIdentity(() => tf.clone(s));
    expect(cs.dataId).not.toBe(s.dataId);
    expect(cs.dataSync()).toEqual(s.dataSync());
    expect(() =>
      withSharedIdentity(() => {
        throw new Error("boom");
      }),
    ).toThrow("boom");
    expect(identityIsShared()).toBe(false);
    const x = tf.scalar(3);
    const [inner, after] = withSharedIdentity(() => [withSharedIdentity(() => tf.clone(x)), tf.clone(x)]);
    expect(inner.dataId).toBe(x.dataId);
    expect(after.dataId).toBe(x.dataId);
    expect(identityIsShared()).toBe(false);
    // Switched off, withSharedIdentity copies.
    const previous = setSharedIdentity({ enabled: false });
    try {
      const off = withSharedIdentity(() => tf.clone(x));
      expect(off.dataId).not.toBe(x.dataId);
      off.dispose();
    } finally {
      setSharedIdentity(previous);
    }
    tf.dispose([s, cs, x, inner, after]);
  });

  it("the engine's CNN step: the same clipped sums bit for bit, one heap allocation fewer per Identity, no tensor or buffer left", async () => {
    const model = mnistModel("cnn");
    const n = 6;
    const x = tf.randomUniform([n, 28, 28, 1], 0, 1, "float32", 5);
    const y = tf.tensor1d([0, 1, 2, 3, 4, 5], "float32");
    const sums = () => {
      const r = computeClippedSum({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1 });
      return { sums: r.sums.map((a) => Array.from(a)), norms: Array.from(r.norms), loss: r.lossSum };
    };
    const step = () => void computeClippedSum({ model, loss: "sparseCategoricalCrossentropy", x, y, l2NormClip: 1 });
    sums();
    const tensors = tf.memory().numTensors;
    const ids = wasmBackend().numDataIds();
    const shared = sums();
    const sharedAllocs = mallocs(step);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(wasmBackend().numDataIds()).toBe(ids);
    const identities = (await tf.profile(step)).kernels.filter((k) => k.name === "Identity").length;
    const previous = setSharedIdentity({ enabled: false });
    let copied: typeof shared;
    let copiedAllocs: number;
    try {
      copied = sums();
      copiedAllocs = mallocs(step);
    } finally {
      setSharedIdentity(previous);
    }
    expect(shared).toEqual(copied);
    // The step does clone (the control: otherwise the comparison below could not fail) ...
    expect(identities).toBeGreaterThan(5);
    // ... and each clone that copied was one allocation.
    expect(copiedAllocs - sharedAllocs).toBe(identities);
    model.dispose();
    tf.dispose([x, y]);
  });
});
