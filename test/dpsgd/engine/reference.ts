/**
 * Test reference: per-example gradients computed one example at a time (batch size 1) with
 * tf.variableGrads, summed in float64, independent of dpkit's per-layer rules.
 */
import * as tf from "@tensorflow/tfjs";
import { perExampleLoss } from "../../../src/dpsgd/engine/losses.js";
import type { ClippedGradients, PerExampleLoss } from "../../../src/dpsgd/engine/types.js";

export interface Reference {
  /** per example: variable name -> flattened gradient */
  grads: Map<string, Float64Array>[];
  norms: number[];
  names: string[];
}

export function referencePerExample(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, loss: PerExampleLoss): Reference {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const names = variables.map((v) => v.name);
  const grads: Map<string, Float64Array>[] = [];
  const norms: number[] = [];
  for (let i = 0; i < x.shape[0]; i++) {
    const m = new Map<string, Float64Array>();
    tf.tidy(() => {
      const xi = tf.slice(x, [i], [1]);
      const yi = tf.slice(y, [i], [1]);
      const { grads: g } = tf.variableGrads(
        () => tf.sum(perExampleLoss(loss, yi, model.apply(xi, { training: false }) as tf.Tensor)) as tf.Scalar,
        variables,
      );
      for (const v of variables) m.set(v.name, g[v.name] ? Float64Array.from(g[v.name].dataSync()) : new Float64Array(v.size));
    });
    let sq = 0;
    for (const a of m.values()) for (const v of a) sq += v * v;
    grads.push(m);
    norms.push(Math.sqrt(sq));
  }
  return { grads, norms, names };
}

/** Clip factors min(1, C/norm) (0 for non-finite). */
export function referenceWeights(norms: number[], clip: number): number[] {
  return norms.map((n) => (Number.isFinite(n) ? Math.min(1, clip / n) : 0));
}

export interface Comparison {
  /** max_i |norm_i - ref_i| / ref_i */
  normError: number;
  /** max over variables of ||sum - ref|| / sum_i ||w_i g_i|| */
  sumError: number;
  /** names missing or extra in the result */
  keysMatch: boolean;
}

/** Compares an engine result with the reference for clip norm `clip`. */
export function compareWithReference(result: ClippedGradients, ref: Reference, clip: number, weightsOverride?: number[]): Comparison {
  let normError = 0;
  ref.norms.forEach((r, i) => {
    const e = Math.abs(result.norms[i] - r) / Math.max(r, 1e-12);
    normError = Math.max(normError, Number.isNaN(e) ? Infinity : e);
  });
  const w = weightsOverride ?? referenceWeights(ref.norms, clip);
  let sumError = 0;
  const got = Object.keys(result.clippedSum).sort();
  const keysMatch = JSON.stringify(got) === JSON.stringify([...ref.names].sort());
  for (const name of ref.names) {
    const t = result.clippedSum[name];
    if (!t) {
      sumError = Infinity;
      continue;
    }
    const actual = t.dataSync();
    const size = ref.grads[0]?.get(name)?.length ?? 0;
    const expected = new Float64Array(size);
    let scale = 0;
    ref.grads.forEach((g, i) => {
      const gi = g.get(name)!;
      let nn = 0;
      for (let k = 0; k < size; k++) {
        expected[k] += w[i] * gi[k];
        nn += gi[k] * gi[k];
      }
      scale += w[i] * Math.sqrt(nn);
    });
    if (actual.length !== size) {
      sumError = Infinity;
      continue;
    }
    let diff = 0;
    for (let k = 0; k < size; k++) diff += (actual[k] - expected[k]) ** 2;
    const e = scale > 0 ? Math.sqrt(diff) / scale : Math.sqrt(diff);
    sumError = Math.max(sumError, Number.isNaN(e) ? Infinity : e);
  }
  return { normError, sumError, keysMatch };
}

/** Small deterministic PRNG for shapes (tests only). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}
