/**
 * Per-example gradient engine: per-layer rules for per-example norms and clipped sums.
 * @module
 */
export {};
