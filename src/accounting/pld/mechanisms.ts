/**
 * Privacy loss distributions of single mechanisms, discretised pessimistically:
 *
 * - Gaussian and Laplace (optionally Poisson-subsampled Gaussian): the pessimistic
 *   connect-the-dots discretisation of Doroshenko, Ghazi, Kamath, Kumar & Manurangsi 2022
 *   ("Connect the Dots: Tighter Discrete Approximations of Privacy Loss Distributions",
 *   arXiv:2207.04380, Algorithm 1 on a fixed grid), from the exact hockey-stick curve δ(ε);
 * - randomized response and the generic (ε, δ) dominating pair: exact losses rounded up to the grid.
 *
 * Conventions follow dp_accounting's `privacy_loss_mechanism.py`: the noise μ, μ_lower(x) = μ(x - 1);
 * with Poisson sampling at rate q, REMOVE: μ_upper = (1-q)μ(x) + qμ(x+1) against μ; ADD: μ against
 * (1-q)μ(x) + qμ(x-1). Both are kept and the worse is reported.
 * @module
 */
import { standardNormalQuantile } from "../../math/normal.js";
import { gaussianDelta } from "../analytic-gaussian.js";
import { PrivacyLossPmf } from "./pmf.js";

/** A PLD for the add/remove pair: `add` is null when it equals `remove` (symmetric). @internal */
export interface PrivacyLossPair {
  remove: PrivacyLossPmf;
  add: PrivacyLossPmf | null;
}

/** log(mass) bound of the Gaussian tails ignored by the grid (dp_accounting's default -50). */
const LOG_MASS_TRUNCATION_BOUND = -50;

function connectTheDots(d: number, epsilonLower: number, epsilonUpper: number, deltaFn: (eps: number) => number): PrivacyLossPmf {
  const lo = Math.floor(epsilonLower / d);
  const hi = Math.ceil(epsilonUpper / d);
  const n = hi - lo + 1;
  const deltas = new Float64Array(n);
  let running = Infinity;
  for (let i = 0; i < n; i++) {
    const v = Math.min(1, Math.max(0, deltaFn((lo + i) * d)));
    running = Math.min(running, v); // enforce non-increasing
    deltas[i] = running;
  }
  if (n === 1) return new PrivacyLossPmf(d, lo, Float64Array.of(1 - deltas[0]), deltas[0]);
  const probs = new Float64Array(n);
  const em1 = Math.expm1(d);
  const ed = Math.exp(d);
  probs[0] = 1 - deltas[0] + (deltas[1] - deltas[0]) / em1;
  for (let i = 1; i < n - 1; i++) {
    probs[i] = (deltas[i + 1] - deltas[i] - (deltas[i] - deltas[i - 1]) * ed) / em1;
  }
  probs[n - 1] = (deltas[n - 1] - deltas[n - 2]) / Math.expm1(-d);
  for (let i = 0; i < n; i++) if (!(probs[i] > 0)) probs[i] = 0;
  return new PrivacyLossPmf(d, lo, probs, deltas[n - 1]);
}

/**
 * PLD of the Gaussian mechanism with noise multiplier σ, Poisson-subsampled at rate q (q = 1: no
 * sampling), add-or-remove relation, connect-the-dots on grid width d.
 * @internal
 */
export function gaussianPld(sigma: number, q: number, d: number): PrivacyLossPair {
  const s2 = sigma * sigma;
  // Tail points: Φ(z/σ) = e^{-50}/2 (z < 0); REMOVE grid spans losses on [z - 1, -z], ADD on [z, 1 - z].
  const z = sigma * standardNormalQuantile(0.5 * Math.exp(LOG_MASS_TRUNCATION_BOUND));
  if (q === 1) {
    const loss = (x: number): number => (-0.5 - x) / s2;
    const remove = connectTheDots(d, loss(-z), loss(z - 1), (e) => gaussianDelta(sigma, e));
    return { remove, add: null };
  }
  const log1mq = Math.log1p(-q);
  // REMOVE: L(x) = log(1 - q + q e^{(-1/2 - x)/σ²}), decreasing in x.
  const lossRemove = (x: number): number => logOneMinusQPlusQExp(q, (-0.5 - x) / s2);
  const deltaRemove = (eps: number): number => {
    if (eps <= log1mq) return -Math.expm1(eps);
    const inner = logOnePlusExpm1Over(eps, q); // ε' = log(1 + (e^ε - 1)/q)
    return q * gaussianDelta(sigma, inner);
  };
  // ADD: L(x) = -log(1 - q + q e^{-(1/2 - x)/σ²}).
  const lossAdd = (x: number): number => -logOneMinusQPlusQExp(q, -(0.5 - x) / s2);
  const deltaAdd = (eps: number): number => {
    if (eps >= -log1mq) return 0;
    const l0 = -Math.log1p(Math.expm1(-eps) / q);
    return Math.exp(eps - l0) * q * gaussianDelta(sigma, l0);
  };
  const remove = connectTheDots(d, lossRemove(-z), lossRemove(z - 1), deltaRemove);
  const add = connectTheDots(d, lossAdd(1 - z), lossAdd(z), deltaAdd);
  return { remove, add };
}

/** log(1 - q + q·e^b). */
function logOneMinusQPlusQExp(q: number, b: number): number {
  const a = Math.log1p(-q);
  const c = Math.log(q) + b;
  return a > c ? a + Math.log1p(Math.exp(c - a)) : c + Math.log1p(Math.exp(a - c));
}

/** log(1 + (e^ε - 1)/q) for ε > log(1 - q). */
function logOnePlusExpm1Over(eps: number, q: number): number {
  if (eps < 30) return Math.log1p(Math.expm1(eps) / q);
  // e^ε dominates: log((e^ε - 1 + q)/q) = ε + log1p((q - 1)e^{-ε}) - log q
  return eps + Math.log1p((q - 1) * Math.exp(-eps)) - Math.log(q);
}

/**
 * PLD of the Laplace mechanism with scale b (sensitivity 1): losses in [-1/b, 1/b], exact
 * δ(ε) = 1 - e^{(ε - 1/b)/2} for |ε| < 1/b, connect-the-dots. Symmetric.
 * @internal
 */
export function laplacePld(b: number, d: number): PrivacyLossPair {
  const e0 = 1 / b;
  const delta = (eps: number): number => {
    if (eps >= e0) return 0;
    if (eps <= -e0) return -Math.expm1(eps);
    return -Math.expm1((eps - e0) / 2);
  };
  return { remove: connectTheDots(d, -e0, e0, delta), add: null };
}

/**
 * PLD of k-ary randomized response (dp_accounting's parametrisation, replace-one): loss
 * l = log((1 - p + p/k)/(p/k)) w.p. 1 - p + p/k, -l w.p. p/k, 0 otherwise; rounded up.
 * @internal
 */
export function randomizedResponsePld(p: number, k: number, d: number): PrivacyLossPair {
  if (p === 0) return { remove: PrivacyLossPmf.infinite(d), add: null };
  const top = 1 - p + p / k;
  const l = Math.log(top / (p / k));
  const masses = new Map<number, number>();
  const put = (loss: number, mass: number): void => {
    if (mass <= 0) return;
    const idx = Math.ceil(loss / d);
    masses.set(idx, (masses.get(idx) ?? 0) + mass);
  };
  put(l, top);
  put(-l, p / k);
  put(0, ((k - 2) * p) / k);
  return { remove: PrivacyLossPmf.fromMasses(d, masses, 0), add: null };
}

/**
 * PLD of the dominating pair of every (ε, δ)-DP mechanism: +∞ w.p. δ, ε w.p. (1-δ)e^ε/(1+e^ε),
 * -ε w.p. (1-δ)/(1+e^ε); rounded up.
 * @internal
 */
export function epsilonDeltaPld(epsilon: number, delta: number, d: number): PrivacyLossPair {
  const masses = new Map<number, number>();
  const pTop = (1 - delta) / (1 + Math.exp(-epsilon));
  const pBottom = (1 - delta) / (1 + Math.exp(epsilon));
  const up = Math.ceil(epsilon / d);
  const down = Math.ceil(-epsilon / d);
  masses.set(up, pTop);
  masses.set(down, (masses.get(down) ?? 0) + pBottom);
  return { remove: PrivacyLossPmf.fromMasses(d, masses, delta), add: null };
}
