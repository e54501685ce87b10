/**
 * Per-example gradients of `tf.layers.dense`.
 *
 * With input `a` (`[N, d]`) and output gradient `g` (`[N, u]`), example i's kernel gradient is
 * the outer product `a_i g_i^T`, so its squared norm is `||a_i||^2 ||g_i||^2` (Goodfellow 2015),
 * and the bias gradient is `g_i`. For inputs with extra axes (`[N, T, d]`, e.g. sequences) the
 * gradient is `A_i^T G_i`, whose squared norm is `<A_i A_i^T, G_i G_i^T>` (ghost norm, Li et al.
 * 2021) or is computed from the materialised `[d, u]` matrix, whichever costs fewer flops.
 * The clipped sum is one matrix product of the recorded activations with the reweighted
 * gradients (book-keeping, Bu et al. 2023).
 *
 * Sparse inputs: on the host backends (wasm, cpu), a rank-2 input whose share of nonzeros is at
 * most {@link SparseDenseInputOptions.maxDensity} (MNIST pixels: 19%) takes the sparse products
 * of ../../kernels/sparse-dense.ts for the forward product and the clipped sum (one CSR of the
 * input, built once and shared by both): the same sums over the nonzero terms only.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import {
  buildSparseRows,
  type SparseRows,
  sparseClippedSum,
  sparseMatMul,
  sparseRowSquares,
  sparseRowsValid,
} from "../../kernels/sparse-dense.js";
import { hostView, onHostBackend } from "../host-view.js";
import type { LayerRule, PerExampleTerms } from "../layer-rule.js";
import { applyLayerActivation } from "./activation.js";
import { denseLinearFast, matMulTransposeA, matMulTransposeB } from "./matmul.js";

/** Switches of the Dense rule's sparse-input path (benchmarks and tests). @internal */
export interface SparseDenseInputOptions {
  /** Take the sparse path where it applies. Default true. */
  enabled: boolean;
  /**
   * The largest share of nonzero input entries for which the sparse path is taken. Default 0.4:
   * measured on wasm for a 256×784 input and 128 units, the sparse forward product and clipped
   * sum together cost as much as the dense ones between densities 0.5 and 0.6
   * (bench/dpsgd-sparse.bench.ts, docs/dpsgd-engine.md "Sparse inputs").
   */
  maxDensity: number;
  /** Smallest `n · d · units` worth a density scan (smaller products stay dense). Default 2^20. */
  minWork: number;
}

const sparseOptions: SparseDenseInputOptions = { enabled: true, maxDensity: 0.4, minWork: 1 << 20 };

/** Calls of the sparse products since the last reset (tests check the path is, or is not, taken). @internal */
export const sparseDenseCalls = { forward: 0, clippedSum: 0 };

/** Changes the sparse-input switches; returns the previous ones. @internal */
export function setSparseDenseInputs(options: Partial<SparseDenseInputOptions>): SparseDenseInputOptions {
  const previous = { ...sparseOptions };
  Object.assign(sparseOptions, options);
  return previous;
}

/** The sparse-input switches now in force (read by the fused Dense-stack step, ../dense-stack.ts). @internal */
export function sparseDenseInputOptions(): Readonly<SparseDenseInputOptions> {
  return sparseOptions;
}

/** Per input tensor: its CSR (sparse) or null (dense, or not eligible). */
const decided = new WeakMap<tf.Tensor, SparseRows | null>();

/**
 * The CSR of `input` if the sparse path applies to it, else null. `fresh` (the forward product,
 * once per step) builds it anew; otherwise (the clipped sum of the same step) the one built for
 * this tensor is reused while it is still in the kernel's memory.
 */
function sparseRowsFor(input: tf.Tensor, units: number, fresh = false): SparseRows | null {
  if (!sparseOptions.enabled || input.rank !== 2 || input.dtype !== "float32" || !onHostBackend()) return null;
  const [n, d] = input.shape;
  if (n * d * units < sparseOptions.minWork) return null;
  const known = fresh ? undefined : decided.get(input);
  if (known === null) return null;
  if (known !== undefined && sparseRowsValid(known)) return known;
  const rows = buildSparseRows(hostView(input), n, d, sparseOptions.maxDensity);
  decided.set(input, rows);
  return rows;
}

/** `x · kernel (+ bias)` over the nonzeros of `x` (its CSR `rows`), with the same gradient as {@link denseLinearFast}. */
function sparseLinear(x: tf.Tensor2D, rows: SparseRows, kernel: tf.Tensor2D, bias: tf.Tensor | null): tf.Tensor2D {
  const units = kernel.shape[1];
  const body = () => {
    // Both views are read at once (copied into the kernel's memory) before any tfjs allocation.
    const z = sparseMatMul(rows, hostView(kernel), units, bias ? hostView(bias) : null);
    sparseDenseCalls.forward++;
    return { value: tf.tensor2d(z, [rows.n, units]), gradFunc: (dy: tf.Tensor) => matMulTransposeB(dy as tf.Tensor2D, kernel) };
  };
  const f = tf.customGrad(body as unknown as Parameters<typeof tf.customGrad>[0]);
  return f(x) as tf.Tensor2D;
}

interface DenseLike {
  kernel: tf.LayerVariable;
  bias: tf.LayerVariable | null;
  useBias: boolean;
}

function parts(layer: tf.layers.Layer): DenseLike {
  return layer as unknown as DenseLike;
}

/** The Dense rule. */
export const denseRule: LayerRule = {
  classNames: ["Dense"],
  weights(layer) {
    const d = parts(layer);
    return d.useBias && d.bias ? [d.kernel, d.bias] : [d.kernel];
  },
  linear(layer, input) {
    const d = parts(layer);
    const kernel = d.kernel.read();
    const [din, units] = kernel.shape;
    const flat = input.rank === 2 ? input : tf.reshape(input, [-1, din]);
    const rows = input.rank === 2 ? sparseRowsFor(input, units, true) : null;
    if (rows) return sparseLinear(input as tf.Tensor2D, rows, kernel as tf.Tensor2D, d.useBias && d.bias ? d.bias.read() : null);
    const z = denseLinearFast(flat as tf.Tensor2D, kernel as tf.Tensor2D, d.useBias && d.bias ? d.bias.read() : null);
    return input.rank === 2 ? z : tf.reshape(z, [...input.shape.slice(0, -1), units]);
  },
  activate: applyLayerActivation,
  perExample(layer, { input, outputGradient, mode }): PerExampleTerms {
    const d = parts(layer);
    const useBias = d.useBias && d.bias !== null;
    const kernelShape = d.kernel.read().shape;
    const [din, units] = kernelShape;
    const n = input.shape[0];
    if (input.rank === 2) {
      const a = input as tf.Tensor2D;
      const g = outputGradient as tf.Tensor2D;
      const gSq = tf.sum(tf.square(g), 1);
      // On the sparse path ‖a_i‖² comes from the CSR's values (one pass over the nonzeros).
      const rows = sparseRowsFor(a, units);
      let sq = tf.mul(rows ? tf.tensor1d(sparseRowSquares(rows)) : tf.sum(tf.square(a), 1), gSq);
      if (useBias) sq = tf.add(sq, gSq);
      if (rows) {
        // The CSR of the forward product (same input tensor), rebuilt if another layer took its slot.
        const sum = (c: ArrayLike<number>): Float32Array[] | null => {
          const rows = sparseRowsFor(a, units);
          if (!rows) return null;
          const r = sparseClippedSum(rows, hostView(g), c, units, useBias);
          sparseDenseCalls.clippedSum++;
          return r.bias ? [r.kernel, r.bias] : [r.kernel];
        };
        return {
          squaredNorms: sq as tf.Tensor1D,
          weightedSum(w) {
            const r = sum(hostView(w));
            if (r) return [tf.tensor2d(r[0], [din, units]), ...(r[1] ? [tf.tensor1d(r[1])] : [])];
            const gw = tf.mul(g, tf.reshape(w, [n, 1]));
            return useBias ? [matMulTransposeA(a, gw as tf.Tensor2D), tf.sum(gw, 0)] : [matMulTransposeA(a, gw as tf.Tensor2D)];
          },
          weightedSumHost(w) {
            const r = sum(w);
            if (r) return r;
            return this.weightedSum(tf.tensor1d(w)).map((t) => t.dataSync() as Float32Array);
          },
        };
      }
      return {
        squaredNorms: sq as tf.Tensor1D,
        weightedSum(w) {
          const gw = tf.mul(g, tf.reshape(w, [n, 1]));
          const out: tf.Tensor[] = [matMulTransposeA(a, gw as tf.Tensor2D)];
          if (useBias) out.push(tf.sum(gw, 0));
          return out;
        },
      };
    }
    const steps = input.size / (n * din);
    const a3 = tf.reshape(input, [n, steps, din]) as tf.Tensor3D;
    const g3 = tf.reshape(outputGradient, [n, steps, units]) as tf.Tensor3D;
    const ghostCost = steps * steps * (din + units);
    const materializeCost = steps * din * units;
    const ghost = mode === "ghost" || (mode === "auto" && ghostCost < materializeCost);
    const biasPer = useBias ? tf.sum(g3, 1) : null;
    let sq: tf.Tensor;
    let perExampleKernel: tf.Tensor | null = null;
    if (ghost) {
      const aa = tf.matMul(a3, a3, false, true);
      const gg = tf.matMul(g3, g3, false, true);
      sq = tf.sum(tf.reshape(tf.mul(aa, gg), [n, -1]), 1);
    } else {
      perExampleKernel = tf.reshape(tf.matMul(a3, g3, true, false), [n, din * units]);
      sq = tf.sum(tf.square(perExampleKernel), 1);
    }
    if (biasPer) sq = tf.add(sq, tf.sum(tf.square(biasPer), 1));
    return {
      squaredNorms: sq as tf.Tensor1D,
      weightedSum(w) {
        const w2 = tf.reshape(w, [1, n]);
        let kernelGrad: tf.Tensor;
        if (perExampleKernel) {
          kernelGrad = tf.reshape(tf.matMul(w2, perExampleKernel as tf.Tensor2D), kernelShape);
        } else {
          const gw = tf.reshape(tf.mul(g3, tf.reshape(w, [n, 1, 1])), [n * steps, units]);
          kernelGrad = matMulTransposeA(tf.reshape(a3, [n * steps, din]) as tf.Tensor2D, gw as tf.Tensor2D);
        }
        const out = [kernelGrad];
        if (biasPer) out.push(tf.reshape(tf.matMul(w2, biasPer as tf.Tensor2D), [units]));
        return out;
      },
    };
  },
};
