/**
 * The default Rényi orders, as dp_accounting's `DEFAULT_RDP_ORDERS`.
 * @module
 */

/**
 * dp_accounting's default RDP orders: 1.1, 1.2, …, 10.9, then 11, 12, …, 63, then 128, 256, 512, 1024
 * (156 orders). Fine steps at small orders matter for DP-SGD, where the optimal order is
 * typically between 2 and 30.
 *
 * @remarks Frozen; copy it to build a custom grid.
 * @example
 * ```ts
 * import { DEFAULT_RDP_ORDERS, RdpAccountant } from "dpkit/accounting";
 * const fine = new RdpAccountant({ orders: [...DEFAULT_RDP_ORDERS, 2048] });
 * ```
 * @see https://github.com/google/differential-privacy/blob/main/python/dp_accounting/dp_accounting/rdp/rdp_privacy_accountant.py
 */
export const DEFAULT_RDP_ORDERS: readonly number[] = Object.freeze([
  ...Array.from({ length: 99 }, (_, x) => 1 + (x + 1) / 10),
  ...Array.from({ length: 53 }, (_, x) => 11 + x),
  128,
  256,
  512,
  1024,
]);
