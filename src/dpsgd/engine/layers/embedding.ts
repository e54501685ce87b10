/**
 * Per-example gradients of `tf.layers.embedding`.
 *
 * Example i's gradient is sparse: row v of the table receives `sum_{t: idx_t = v} g_t`, only
 * for the tokens the example contains. The rule sums the output gradients per (example, distinct
 * token) slot (one tensor segment sum; on the cpu backend, whose segment sum costs segments × rows,
 * a float64 loop on the host), and an example's squared norm is the sum of its
 * slots' squared norms: no `[V, D]` table per example, no T×T Gram matrix, never a `[N, V, D]`
 * tensor. The clipped sum scatters the reweighted slot sums into the `[V, D]` gradient (the dense
 * gradient tfjs's own `gather` produces). With `maskZero` the layer's output is
 * unchanged (the engine passes the mask on to the layers after it, as tfjs does).
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError } from "../../../errors.js";
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
 * For each position t of example i, the slot `i·T + k` of its token, k counting example i's
 * distinct tokens in order of first occurrence.
 */
function distinctTokenSlots(ids: Int32Array, n: number, steps: number, vocab: number, name: string): Int32Array {
  const slots = new Int32Array(n * steps);
  const owner = new Int32Array(vocab).fill(-1);
  const slotOf = new Int32Array(vocab);
  for (let i = 0; i < n; i++) {
    let k = 0;
    for (let t = 0; t < steps; t++) {
      const p = i * steps + t;
      const v = ids[p];
      if (!(v >= 0 && v < vocab)) {
        throw new DpError("invalid_parameter", `Layer "${name}" (Embedding) received token ${v}, outside [0, ${vocab}).`, "x");
      }
      if (owner[v] !== i) {
        owner[v] = i;
        slotOf[v] = i * steps + k++;
      }
      slots[p] = slotOf[v];
    }
  }
  return slots;
}

/** The token of each slot (unused slots get token 0 and carry zero gradient). */
function slotTokens(ids: Int32Array, slots: Int32Array): Int32Array {
  const out = new Int32Array(slots.length);
  for (let p = 0; p < slots.length; p++) out[slots[p]] = ids[p];
  return out;
}

/** Slot sums, norms and the clipped sum on the host (float64). */
function hostTerms(layer: tf.layers.Layer, input: tf.Tensor, outputGradient: tf.Tensor): PerExampleTerms {
  const e = parts(layer);
  const n = input.shape[0];
  const steps = input.size / Math.max(n, 1);
  const dim = e.outputDim;
  const vocab = e.inputDim;
  // Example i's gradient touches one row per distinct token: give each (example, token) pair a
  // slot i·T + k (k-th distinct token of example i) and sum the output gradients per slot on the
  // host (N·T·D work, float64); the squared norm is the sum of the slots' squared norms. No
  // [V, D] table per example, no T×T Gram matrix, and no tensor segment sum (tfjs-backend-cpu's
  // UnsortedSegmentSum costs segments × rows).
  const ids = tf.tidy(() => tf.cast(tf.reshape(input, [n * steps]), "int32")).dataSync() as Int32Array;
  const g = outputGradient.dataSync() as Float32Array;
  const slots = distinctTokenSlots(ids, n, steps, vocab, layer.name);
  const perSlot = new Float64Array(n * steps * dim);
  for (let p = 0; p < n * steps; p++) {
    const so = slots[p] * dim;
    const go = p * dim;
    for (let k = 0; k < dim; k++) perSlot[so + k] += g[go + k];
  }
  const sq = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    for (let q = i * steps * dim; q < (i + 1) * steps * dim; q++) acc += perSlot[q] * perSlot[q];
    sq[i] = acc;
  }
  const tokens = slotTokens(ids, slots);
  return {
    squaredNorms: tf.tensor1d(Float32Array.from(sq)),
    weightedSum(w) {
      const wv = w.dataSync();
      const out = new Float64Array(vocab * dim);
      for (let s = 0; s < n * steps; s++) {
        const wi = wv[Math.floor(s / steps)];
        if (wi === 0) continue;
        const to = tokens[s] * dim;
        const so = s * dim;
        for (let k = 0; k < dim; k++) out[to + k] += wi * perSlot[so + k];
      }
      return [tf.tensor2d(Float32Array.from(out), [vocab, dim])];
    },
  };
}

/** The same slot sums as tensor segment sums (fast with dpkit's wasm kernel). */
function tensorTerms(layer: tf.layers.Layer, input: tf.Tensor, outputGradient: tf.Tensor): PerExampleTerms {
  const e = parts(layer);
  const n = input.shape[0];
  const steps = input.size / Math.max(n, 1);
  const dim = e.outputDim;
  const idx = tf.cast(tf.reshape(input, [n * steps]), "int32") as tf.Tensor1D;
  const g = tf.reshape(outputGradient, [n * steps, dim]) as tf.Tensor2D;
  const ids = idx.dataSync() as Int32Array;
  const slots = distinctTokenSlots(ids, n, steps, e.inputDim, layer.name);
  const perSlot = tf.unsortedSegmentSum(g, tf.tensor1d(slots, "int32"), n * steps);
  const sq = tf.sum(tf.reshape(tf.square(perSlot), [n, steps * dim]), 1);
  return {
    squaredNorms: sq as tf.Tensor1D,
    weightedSum(w) {
      const gw = tf.reshape(tf.mul(tf.reshape(perSlot, [n, steps, dim]), tf.reshape(w, [n, 1, 1])), [n * steps, dim]);
      return [tf.unsortedSegmentSum(gw, tf.tensor1d(slotTokens(ids, slots), "int32"), e.inputDim)];
    },
  };
}

/** The Embedding rule. */
export const embeddingRule: LayerRule = {
  classNames: ["Embedding"],
  weights(layer) {
    return [parts(layer).embeddings];
  },
  linear(layer, input) {
    const e = parts(layer);
    const idx = tf.cast(tf.reshape(input, [-1]), "int32");
    const rows = tf.gather(e.embeddings.read(), idx);
    return tf.reshape(rows, [...input.shape, e.outputDim]);
  },
  activate(_layer, z) {
    return z;
  },
  perExample(layer, { input, outputGradient }) {
    // tfjs-backend-cpu's UnsortedSegmentSum costs segments × rows: sum on the host there.
    return tf.getBackend() === "cpu" ? hostTerms(layer, input, outputGradient) : tensorTerms(layer, input, outputGradient);
  },
};
