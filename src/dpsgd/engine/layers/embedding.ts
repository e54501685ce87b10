/**
 * Per-example gradients of `tf.layers.embedding`, sparse end to end.
 *
 * Example i's gradient is sparse: row v of the table receives `sum_{t: idx_t = v} g_t`, only
 * for the tokens the example contains. The rule sums the output gradients per (example, distinct
 * token) slot (N·T·D work) — on wasm by one segment-sum kernel, on the other backends on the
 * host in float64 — and an example's squared norm is the sum of its slots' squared norms: no
 * `[V, D]` table per example, no T×T Gram matrix, never a `[N, V, D]` tensor. The clipped sum scatters the reweighted slot sums into the rows of the
 * `[V, D]` gradient that the batch touches (the dense gradient tfjs's own `gather` produces; the
 * other rows stay zero and only receive the optimiser's noise).
 *
 * The engine differentiates with respect to the layer's output, never through the table. On
 * the cpu backend the forward rows are gathered on the host (tfjs-backend-cpu's gather is a
 * generic strided loop); on wasm by `GatherV2`, which dpkit replaces there by a row copy on the
 * heap (`kernels/gather-rows.ts`: no copy of the table into JS). The output gradient is read
 * through a heap view on wasm (no copy), and the DP step takes the clipped sum as a host array
 * (`weightedSumHost`: zero rows except the touched ones, noise added in place, one upload), so
 * the 20,000 × 16 table's gradient crosses between JS and wasm once per step. With `maskZero`
 * the layer's output is unchanged (the engine passes the mask on to the layers after it, as
 * tfjs does).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../../errors.js";
import { hostView, onHostBackend } from "../host-view.js";
import {
  embeddingMeanOverSteps,
  embeddingPerExample,
  embeddingPooledPerExample,
  perExampleKernelsAvailable,
} from "../../kernels/per-example-wasm-kernels.js";
import type { LayerRule, PerExampleTerms } from "../layer-rule.js";

interface EmbeddingLike {
  embeddings: tf.LayerVariable;
  inputDim: number;
  outputDim: number;
}

function parts(layer: tf.layers.Layer): EmbeddingLike {
  return layer as unknown as EmbeddingLike;
}

/**
 * Ids read and checked by the forward pass, by input tensor (tensors are immutable), for the
 * per-example terms of the same step, which take them (once: the next step reads its input again).
 */
const checkedIds = new WeakMap<tf.Tensor, { vocab: number; ids: Int32Array }>();

/** The token ids of `input` (any numeric dtype, truncated like tfjs's cast), checked against the vocabulary. */
function tokenIds(input: tf.Tensor, vocab: number, name: string): Int32Array {
  const hit = checkedIds.get(input);
  if (hit !== undefined) {
    checkedIds.delete(input);
    if (hit.vocab === vocab && !input.isDisposed) return hit.ids;
  }
  const ids = (input.dtype === "int32" ? input.dataSync() : tf.tidy(() => tf.cast(input, "int32").dataSync())) as Int32Array;
  for (let p = 0; p < ids.length; p++) {
    const v = ids[p];
    if (!(v >= 0 && v < vocab)) {
      throw new DpError("invalid_parameter", `Layer "${name}" (Embedding) received token ${v}, outside [0, ${vocab}).`, "x");
    }
  }
  checkedIds.set(input, { vocab, ids });
  return ids;
}

/** Scratch of {@link distinctTokenSlots}, kept across steps: `owner[v] - ownerBase` is the last example that held token v. */
let owner = new Int32Array(0);
let slotOf = new Int32Array(0);
let ownerBase = 0;

/**
 * For each position t of example i, the slot `i·T + k` of its token, k counting example i's
 * distinct tokens in order of first occurrence. `ids` must already be checked against the vocabulary.
 * (Two `[vocab]` scratch arrays are reused across calls, stamped per example: no fill per step.)
 */
function distinctTokenSlots(ids: Int32Array, n: number, steps: number, vocab: number): { slots: Int32Array } {
  if (owner.length !== vocab || ownerBase > 0x7fffffff - n - 1) {
    owner = new Int32Array(vocab).fill(-1);
    slotOf = new Int32Array(vocab);
    ownerBase = 0;
  }
  const own = owner;
  const slotAt = slotOf;
  const slots = new Int32Array(n * steps);
  for (let i = 0, p = 0; i < n; i++) {
    const stamp = ownerBase + i;
    let next = i * steps;
    for (let t = 0; t < steps; t++, p++) {
      const v = ids[p];
      let slot: number;
      if (own[v] !== stamp) {
        own[v] = stamp;
        slot = next++;
        slotAt[v] = slot;
      } else slot = slotAt[v];
      slots[p] = slot;
    }
  }
  ownerBase += n;
  return { slots };
}

/** What both per-example routes start from: the layer's sizes, the checked token ids and their slots. */
function batchSlots(
  layer: tf.layers.Layer,
  input: tf.Tensor,
): { n: number; steps: number; dim: number; vocab: number; ids: Int32Array; slots: Int32Array } {
  const e = parts(layer);
  const n = input.shape[0];
  const steps = input.size / Math.max(n, 1);
  const vocab = e.inputDim;
  const ids = tokenIds(input, vocab, layer.name);
  const { slots } = distinctTokenSlots(ids, n, steps, vocab);
  return { n, steps, dim: e.outputDim, vocab, ids, slots };
}

/**
 * Squared norms from example-by-example slot sums on the host (float64, one `[T, D]` scratch);
 * the clipped sum `sum_i w_i sum_t g_{i,t}` goes straight from the positions into the touched
 * rows of one `[V, D]` array (the same sum: a slot's sum is the sum of its positions).
 */
function sparseTerms(layer: tf.layers.Layer, input: tf.Tensor, outputGradient: tf.Tensor): PerExampleTerms {
  const { n, steps, dim, vocab, ids, slots } = batchSlots(layer, input);
  const slot = new Float64Array(steps * dim);
  const sq = new Float32Array(n);
  // A view of the gradient (no copy on wasm), read at once: nothing is allocated on the backend meanwhile.
  const g = hostView(outputGradient) as Float32Array;
  for (let i = 0; i < n; i++) {
    const base = i * steps;
    let used = 0;
    for (let t = 0; t < steps; t++) {
      const so = (slots[base + t] - base) * dim;
      if (so >= used * dim) {
        // first position of a new slot (slots are numbered in order of first occurrence)
        for (let k = 0; k < dim; k++) slot[so + k] = 0;
        used++;
      }
      const go = (base + t) * dim;
      for (let k = 0; k < dim; k++) slot[so + k] += g[go + k];
    }
    let acc = 0;
    for (let q = 0; q < used * dim; q++) acc += slot[q] * slot[q];
    sq[i] = acc;
  }
  // Accumulate in float64 over the rows the batch touches only (row r of `acc` is token rows[r]),
  // then write those rows into a zero [V, D] array.
  const scatter = (wv: ArrayLike<number>): Float32Array => {
    const rowOf = new Int32Array(vocab).fill(-1);
    const rows: number[] = [];
    for (let p = 0; p < ids.length; p++) if (rowOf[ids[p]] < 0) rowOf[ids[p]] = rows.push(ids[p]) - 1;
    const acc = new Float64Array(rows.length * dim);
    const gv = hostView(outputGradient) as Float32Array; // taken again: allocations since may have moved the heap
    for (let i = 0; i < n; i++) {
      const wi = wv[i];
      if (wi === 0) continue;
      for (let p = i * steps; p < (i + 1) * steps; p++) {
        const to = rowOf[ids[p]] * dim;
        const go = p * dim;
        for (let k = 0; k < dim; k++) acc[to + k] += wi * gv[go + k];
      }
    }
    const out = new Float32Array(vocab * dim);
    for (let r = 0; r < rows.length; r++) {
      const to = rows[r] * dim;
      const from = r * dim;
      for (let k = 0; k < dim; k++) out[to + k] = acc[from + k];
    }
    return out;
  };
  return {
    squaredNorms: tf.tensor1d(sq),
    weightedSum(w) {
      return [tf.tensor2d(scatter(w.dataSync()), [vocab, dim])];
    },
    weightedSumHost(w) {
      return [scatter(w)];
    },
  };
}

/**
 * The same terms through the backend's kernels (wasm, whose `UnsortedSegmentSum` dpkit provides
 * as one `ScatterNd`): the slot sums are one segment sum of `g` over the (example, distinct
 * token) slots, the squared norms one square-and-sum of them per example, the clipped sum one
 * segment sum of the reweighted `g` over the tokens. Float32 like every other rule; the host
 * loops above cost about 5 ns per element on this machine, these kernels a fraction of it.
 */
function kernelTerms(layer: tf.layers.Layer, input: tf.Tensor, outputGradient: tf.Tensor): PerExampleTerms {
  const { n, steps, dim, vocab, ids, slots } = batchSlots(layer, input);
  const g2 = tf.reshape(outputGradient, [n * steps, dim]);
  const slotSums = tf.unsortedSegmentSum(g2, tf.tensor1d(slots, "int32"), n * steps);
  const squaredNorms = tf.sum(tf.reshape(tf.square(slotSums), [n, steps * dim]), 1) as tf.Tensor1D;
  const rows = (w: tf.Tensor1D): tf.Tensor2D => {
    const gw = tf.mul(tf.reshape(outputGradient, [n, steps * dim]), tf.reshape(w, [n, 1]));
    return tf.unsortedSegmentSum(tf.reshape(gw, [n * steps, dim]), tf.tensor1d(ids, "int32"), vocab) as tf.Tensor2D;
  };
  return {
    squaredNorms,
    weightedSum: (w) => [rows(w)],
    weightedSumHost(w) {
      let out: Float32Array = new Float32Array(0);
      tf.tidy(() => {
        out = rows(tf.tensor1d(w)).dataSync() as Float32Array; // a copy on wasm: the caller owns it
      });
      return [out];
    },
  };
}

/**
 * The same terms in dpkit's per-example WebAssembly module (kernels/per-example-wasm-kernels.ts) on
 * the host backends: one copy of the output gradient, the slot sums and their squares in one
 * pass, the clipped sum accumulated at the token rows of a zeroed `[V, D]` table in the module and
 * copied out (no segment sums through tfjs, no tensor for the table's gradient).
 * Float32 sums like the kernel route. Null where the module does not run (no WebAssembly SIMD,
 * another backend, D not a multiple of 4): the caller takes the routes above.
 */
function moduleTerms(layer: tf.layers.Layer, input: tf.Tensor, outputGradient: tf.Tensor): PerExampleTerms | null {
  if (!onHostBackend() || outputGradient.dtype !== "float32" || parts(layer).outputDim % 4 !== 0 || !perExampleKernelsAvailable()) {
    return null;
  }
  const { n, steps, dim, vocab, ids, slots } = batchSlots(layer, input);
  const r = embeddingPerExample(() => hostView(outputGradient), slots, ids, n, steps, dim, vocab);
  if (r === null) return null;
  return {
    squaredNorms: tf.tensor1d(r.squaredNorms),
    weightedSum(w) {
      return [tf.tensor2d(r.weightedSum(w.dataSync()), [vocab, dim])];
    },
    weightedSumHost(w) {
      return [r.weightedSum(w)];
    },
  };
}

/** Whether the Embedding → GlobalAveragePooling1D route may be taken (tests and benchmarks switch it off). */
let pooledRoute = true;

/** Switches the Embedding → GlobalAveragePooling1D route ({@link embeddingRule}'s `linearMeanOverSteps`) off or on again. @internal */
export function setEmbeddingPooledRoute(options: { enabled: boolean }): void {
  pooledRoute = options.enabled;
}

/** The terms from the gradient with respect to the mean over steps (see `linearMeanOverSteps`). */
function pooledTerms(layer: tf.layers.Layer, input: tf.Tensor, outputGradient: tf.Tensor): PerExampleTerms {
  const e = parts(layer);
  const ids = tokenIds(input, e.inputDim, layer.name);
  const [n, steps] = input.shape;
  const r = embeddingPooledPerExample(hostView(outputGradient), ids, n, steps, e.outputDim, e.inputDim);
  if (r === null) throw new DpError("invalid_state", `Layer "${layer.name}" (Embedding): the pooled route is unavailable.`, "model");
  return {
    squaredNorms: tf.tensor1d(r.squaredNorms),
    weightedSum(w) {
      return [tf.tensor2d(r.weightedSum(w.dataSync()), [e.inputDim, e.outputDim])];
    },
    weightedSumHost(w) {
      return [r.weightedSum(w)];
    },
  };
}

/** The rows of the table for `input`, gathered on the host (cpu backend: no copy of the table). */
function hostGather(layer: tf.layers.Layer, input: tf.Tensor): tf.Tensor {
  const e = parts(layer);
  const dim = e.outputDim;
  const ids = tokenIds(input, e.inputDim, layer.name);
  const table = e.embeddings.read().dataSync() as Float32Array;
  const out = new Float32Array(ids.length * dim);
  for (let p = 0; p < ids.length; p++) {
    const from = ids[p] * dim;
    const to = p * dim;
    for (let k = 0; k < dim; k++) out[to + k] = table[from + k];
  }
  return tf.tensor(out, [...input.shape, dim], "float32");
}

/** The Embedding rule. */
export const embeddingRule: LayerRule = {
  classNames: ["Embedding"],
  weights(layer) {
    return [parts(layer).embeddings];
  },
  linear(layer, input) {
    // The engine differentiates with respect to this output, not through the table.
    if (tf.getBackend() === "cpu") return hostGather(layer, input);
    const e = parts(layer);
    tokenIds(input, e.inputDim, layer.name); // a DpError naming the layer, before the kernel's own check
    const idx = tf.reshape(input.dtype === "int32" ? input : tf.cast(input, "int32"), [-1]);
    const rows = tf.gather(e.embeddings.read(), idx);
    return tf.reshape(rows, [...input.shape, e.outputDim]);
  },
  linearMeanOverSteps(layer, input) {
    // Embedding → GlobalAveragePooling1D on the host backends: the mean of the looked-up rows per
    // example in the per-example module, without the [N, T, D] lookup (or its gradient) at all.
    const e = parts(layer);
    if (!pooledRoute || !onHostBackend() || input.rank !== 2 || e.outputDim % 4 !== 0 || !perExampleKernelsAvailable()) return null;
    const table = e.embeddings.read();
    if (table.dtype !== "float32") return null;
    const ids = tokenIds(input, e.inputDim, layer.name);
    const [n, steps] = input.shape;
    const mean = embeddingMeanOverSteps(hostView(table), ids, n, steps, e.outputDim, e.inputDim);
    return mean === null ? null : tf.tensor2d(mean, [n, e.outputDim]);
  },
  activate(_layer, z) {
    return z;
  },
  perExample(layer, { input, outputGradient, meanOverSteps }) {
    if (meanOverSteps === true) return pooledTerms(layer, input, outputGradient);
    const viaModule = moduleTerms(layer, input, outputGradient);
    if (viaModule !== null) return viaModule;
    if (tf.getBackend() === "wasm") return kernelTerms(layer, input, outputGradient);
    return sparseTerms(layer, input, outputGradient);
  },
};
