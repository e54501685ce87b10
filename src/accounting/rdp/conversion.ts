/**
 * Conversions from an RDP curve (orders, values) to (ε, δ)-DP.
 *
 * The improved conversion of Canonne, Kamath & Steinke 2020 ("The Discrete Gaussian for
 * Differential Privacy", arXiv:2004.00010, Prop. 12; also Asoodeh et al. 2020), as dp_accounting's
 * `compute_epsilon` / `compute_delta` evaluate it, including their details:
 *
 * - ε(α) = r + log1p(-1/α) - log(δ·α)/(α - 1), used only for α > 1.01 (unstable as α → 1);
 * - a KL-divergence branch: if δ² + expm1(-r) > 0 (that is, δ > sqrt(1 - e^{-r}) >= the total
 *   variation distance), ε = 0 at that order;
 * - ε = min over orders, clamped at 0; δ(ε) = min over orders of
 *   min(sqrt(1 - e^{-r}), exp((α-1)(r - ε + log1p(-1/α)) - log α)).
 *
 * The classic conversion of Mironov 2017 (ε = r + log(1/δ)/(α - 1)) is exported too, for comparison.
 *
 * @module
 */
import { DpError } from "../../errors.js";

/** An (ε or δ) value together with the order that attains it. */
export interface RdpConversionResult {
  /** The converted value (epsilon or delta). */
  value: number;
  /** The order attaining it (NaN when no order gives a finite value). */
  order: number;
}

/** The smallest `bound(order, rdp)` over the curve (NaN values skipped), and the order that gives it. */
function minOverOrders(orders: ArrayLike<number>, rdp: ArrayLike<number>, bound: (a: number, r: number) => number): RdpConversionResult {
  if (orders.length !== rdp.length || orders.length === 0) {
    throw new DpError("invalid_parameter", `\`rdp\` must have one value per order (${orders.length}). Found ${rdp.length}.`, "rdp");
  }
  let best = Infinity;
  let bestOrder = NaN;
  for (let i = 0; i < orders.length; i++) {
    if (Number.isNaN(rdp[i])) continue;
    const v = bound(orders[i], rdp[i]);
    if (v < best) {
      best = v;
      bestOrder = orders[i];
    }
  }
  return { value: best, order: bestOrder };
}

/**
 * Smallest ε over the orders such that the RDP curve implies (ε, δ)-DP, by the improved
 * conversion (Canonne–Kamath–Steinke 2020, Prop. 12) as dp_accounting computes it.
 *
 * @remarks Valid for any neighbouring relation: it converts whatever the curve describes.
 * @param orders - Rényi orders, each > 1
 * @param rdp - RDP values at those orders (Infinity allowed: that order is skipped)
 * @param delta - target δ in (0, 1)
 * @returns `{ value: epsilon, order }`
 * @throws {@link DpError} `invalid_parameter` when the lengths differ
 * @example
 * ```ts
 * import { rdpToEpsilon } from "dpkit/accounting";
 * // Gaussian, sigma = 1: rdp(alpha) = alpha / 2
 * const orders = [2, 4, 8, 16, 32];
 * console.log(rdpToEpsilon(orders, orders.map((a) => a / 2), 1e-5).value);
 * ```
 * @see https://arxiv.org/abs/2004.00010
 */
export function rdpToEpsilon(orders: ArrayLike<number>, rdp: ArrayLike<number>, delta: number): RdpConversionResult {
  const r = minOverOrders(orders, rdp, (a, r) => {
    if (r < 0 || delta * delta + Math.expm1(-r) > 0) return 0;
    return a > 1.01 ? r + Math.log1p(-1 / a) - Math.log(delta * a) / (a - 1) : Infinity;
  });
  return { value: Math.max(0, r.value), order: r.order };
}

/**
 * Smallest δ over the orders such that the RDP curve implies (ε, δ)-DP (improved conversion, as
 * dp_accounting's `compute_delta`).
 *
 * @param orders - Rényi orders, each > 1
 * @param rdp - RDP values at those orders
 * @param epsilon - target ε >= 0
 * @returns `{ value: delta, order }`
 * @throws {@link DpError} `invalid_parameter` when the lengths differ
 * @example
 * ```ts
 * import { rdpToDelta } from "dpkit/accounting";
 * console.log(rdpToDelta([2, 4, 8], [1, 2, 4], 5).value);
 * ```
 * @see https://arxiv.org/abs/2004.00010
 */
export function rdpToDelta(orders: ArrayLike<number>, rdp: ArrayLike<number>, epsilon: number): RdpConversionResult {
  const r = minOverOrders(orders, rdp, (a, r) => {
    const logDelta = r <= 0 ? -Infinity : 0.5 * Math.log1p(-Math.exp(-r));
    const bound = a > 1.01 ? (a - 1) * (r - epsilon + Math.log1p(-1 / a)) - Math.log(a) : NaN;
    return bound < logDelta ? bound : logDelta;
  });
  return { value: Math.min(Math.exp(r.value), 1), order: Number.isNaN(r.order) ? orders[0] : r.order };
}

/**
 * The classic RDP→(ε, δ) conversion of Mironov 2017, Prop. 3: ε = min_α r(α) + log(1/δ)/(α - 1).
 * Looser than {@link rdpToEpsilon}; kept for comparison with older tutorials (3.009 instead of
 * 2.597 in the MNIST DP-SGD setting).
 *
 * @param orders - Rényi orders, each > 1
 * @param rdp - RDP values
 * @param delta - target δ in (0, 1)
 * @returns `{ value: epsilon, order }`
 * @throws {@link DpError} `invalid_parameter` when the lengths differ
 * @example
 * ```ts
 * import { rdpToEpsilonClassic } from "dpkit/accounting";
 * console.log(rdpToEpsilonClassic([2, 4, 8], [1, 2, 4], 1e-5).value);
 * ```
 * @see https://arxiv.org/abs/1702.07476
 */
export function rdpToEpsilonClassic(orders: ArrayLike<number>, rdp: ArrayLike<number>, delta: number): RdpConversionResult {
  const r = minOverOrders(orders, rdp, (a, r) => r - Math.log(delta) / (a - 1));
  return { value: Math.max(0, r.value), order: r.order };
}
