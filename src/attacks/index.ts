/**
 * `dpkit/attacks`: the Netflix-style linkage attack (Narayanan & Shmatikov 2008) on a
 * Netflix-like data generator, and the defences measured against it — naive anonymisation, a
 * locally differentially private release of each record, and DP aggregates. The Netflix-like
 * data generator is in `dpkit/data`; the demo and its charts in `dpkit/experiments`.
 * @module
 */
export type { RatingsTable } from "../data/netflix.js";
export * from "./linkage/scoreboard.js";
export * from "./linkage/auxiliary.js";
export * from "./linkage/experiment.js";
export * from "./linkage/defences.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
