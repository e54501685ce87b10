/**
 * `dpkit/audit`: measure what a DP implementation or a trained model leaks.
 *
 * - Statistics (tfjs-free): Clopper–Pearson bounds, ε lower bounds from attack counts with the
 *   threshold chosen honestly, the Gaussian-DP reading, ROC / AUC / TPR at low FPR / advantage,
 *   bootstrap intervals, and the one-run audit of Steinke, Nasr & Jagielski (2023).
 * - White-box audits of dpkit's own DP-SGD step and DP-FedAvg round, with broken variants as
 *   negative controls (tfjs-free).
 * - Membership inference (loss, confidence, offline LiRA) and canary audits of training runs
 *   on TensorFlow.js models.
 * @module
 */
export * from "./clopperPearson.js";
export * from "./epsilon.js";
export * from "./threshold.js";
export * from "./roc.js";
export * from "./oneRun.js";
export * from "./dpsgdStep.js";
export * from "./fedavgRound.js";
export * from "./plot.js";
// These need tfjs.
export * from "./mia.js";
export * from "./canaries.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
