/**
 * Per-example gradients of `tf.layers.embedding`, sparse end to end.
 *
 * Example i's gradient is sparse: row v of the table receives `sum_{t: idx_t = v} g_t`, only
 * for the tokens the example contains. The rule sums the output gradients per (example, distinct
 * token) slot on the host in float64 (N·T·D work), and an example's squared norm is the sum of
 * its slots' squared norms: no `[V, D]` table per example, no T×T Gram matrix, never a
 * `[N, V, D]` tensor. The clipped sum scatters the reweighted slot sums into the rows of the
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
import { hostView } from "../host-view.js";
import type { LayerRule, PerExampleTerms } from "../layer-rule.js";

interface EmbeddingLike {
  embeddings: tf.LayerVariable;
  inputDim: number;
  outputDim: number;
}

function parts(layer: tf.layers.Layer): EmbeddingLike {
  return layer as unknown as EmbeddingLike;
}

/** The token ids of `input` (any numeric dtype, truncated like tfjs's cast), checked against the vocabulary. */
function tokenIds(input: tf.Tensor, vocab: number, name: string): Int32Array {
  const ids = (input.dtype === "int32" ? input.dataSync() : tf.tidy(() => tf.cast(input, "int32").dataSync())) as Int32Array;
  for (let p = 0; p < ids.length; p++) {
    const v = ids[p];
    if (!(v >= 0 && v < vocab)) {
      throw new DpError("invalid_parameter", `Layer "${name}" (Embedding) received token ${v}, outside [0, ${vocab}).`, "x");
    }
  }
  return ids;
}

/**
 * For each position t of example i, the slot `i·T + k` of its token, k counting example i's
 * distinct tokens in order of first occurrence; and the token of each slot (unused slots get
 * token 0 and carry zero gradient). `ids` must already be checked against the vocabulary.
 */
function distinctTokenSlots(ids: Int32Array, n: number, steps: number, vocab: number): { slots: Int32Array; tokens: Int32Array } {
  const slots = new Int32Array(n * steps);
  const tokens = new Int32Array(n * steps);
  const owner = new Int32Array(vocab).fill(-1);
  const slotOf = new Int32Array(vocab);
  for (let i = 0; i < n; i++) {
    let k = 0;
    for (let t = 0; t < steps; t++) {
      const p = i * steps + t;
      const v = ids[p];
      if (owner[v] !== i) {
        owner[v] = i;
        slotOf[v] = i * steps + k++;
        tokens[slotOf[v]] = v;
      }
      slots[p] = slotOf[v];
    }
  }
  return { slots, tokens };
}

/**
 * Slot sums and squared norms on the host (float64); the clipped sum is scattered into the
 * touched rows of one `[V, D]` buffer.
 */
function sparseTerms(layer: tf.layers.Layer, input: tf.Tensor, outputGradient: tf.Tensor): PerExampleTerms {
  const e = parts(layer);
  const n = input.shape[0];
  const steps = input.size / Math.max(n, 1);
  const dim = e.outputDim;
  const vocab = e.inputDim;
  const ids = tokenIds(input, vocab, layer.name);
  const { slots, tokens } = distinctTokenSlots(ids, n, steps, vocab);
  // Slots of example i are i·T .. i·T + (its distinct tokens) - 1; count them to skip the unused ones.
  const used = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let top = 0;
    for (let t = 0; t < steps; t++) top = Math.max(top, slots[i * steps + t] - i * steps + 1);
    used[i] = top;
  }
  const perSlot = new Float64Array(n * steps * dim);
  // A view of the gradient (no copy on wasm), read at once: nothing is allocated on the backend meanwhile.
  const g = hostView(outputGradient) as Float32Array;
  for (let p = 0; p < n * steps; p++) {
    const so = slots[p] * dim;
    const go = p * dim;
    for (let k = 0; k < dim; k++) perSlot[so + k] += g[go + k];
  }
  const sq = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let acc = 0;
    const end = (i * steps + used[i]) * dim;
    for (let q = i * steps * dim; q < end; q++) acc += perSlot[q] * perSlot[q];
    sq[i] = acc;
  }
  // Accumulate in float64 over the rows the batch touches only (row r of `acc` is token rows[r]),
  // then write those rows into a zero [V, D] array.
  const scatter = (wv: ArrayLike<number>): Float32Array => {
    const rowOf = new Int32Array(vocab).fill(-1);
    const rows: number[] = [];
    for (let i = 0; i < n; i++) {
      for (let s = i * steps; s < i * steps + used[i]; s++) {
        if (rowOf[tokens[s]] < 0) rowOf[tokens[s]] = rows.push(tokens[s]) - 1;
      }
    }
    const acc = new Float64Array(rows.length * dim);
    for (let i = 0; i < n; i++) {
      const wi = wv[i];
      if (wi === 0) continue;
      for (let s = i * steps; s < i * steps + used[i]; s++) {
        const to = rowOf[tokens[s]] * dim;
        const so = s * dim;
        for (let k = 0; k < dim; k++) acc[to + k] += wi * perSlot[so + k];
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
  activate(_layer, z) {
    return z;
  },
  perExample(layer, { input, outputGradient }) {
    return sparseTerms(layer, input, outputGradient);
  },
};
