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
export {
  logGamma,
  regularizedIncompleteBeta,
  betaQuantile,
  clopperPearson,
  binomialUpperTail,
  type ClopperPearsonBounds,
} from "./clopper-pearson.js";
export {
  gdpEpsilon,
  gdpMuFromRates,
  epsilonFromCounts,
  type AttackCounts,
  type EpsilonFromCountsOptions,
  type EpsilonBound,
} from "./epsilon.js";
export {
  epsilonLowerBound,
  empiricalEpsilon,
  type ThresholdStrategy,
  type EpsilonLowerBoundOptions,
  type ThresholdEpsilonBound,
  type EmpiricalEpsilonOptions,
  type EventBound,
  type EmpiricalEpsilonResult,
} from "./threshold.js";
export {
  rocCurve,
  auc,
  tprAtFpr,
  attackAdvantage,
  attackMetrics,
  bootstrapInterval,
  type RocCurve,
  type AttackMetrics,
  type BootstrapOptions,
  type BootstrapInterval,
} from "./roc.js";
export {
  oneRunPValue,
  oneRunEpsilonLowerBound,
  oneRunCeiling,
  oneRunAudit,
  type OneRunCounts,
  type OneRunBoundOptions,
  type OneRunAuditOptions,
  type OneRunAuditResult,
} from "./one-run.js";
export {
  auditDpSgdStep,
  STEP_BREAKS,
  SAMPLING_MISREPORT,
  type StepBreak,
  type DpSgdStepAuditOptions,
  type DpSgdStepAuditResult,
  type WhiteBoxAuditOptions,
  type WhiteBoxAuditResult,
} from "./dpsgd-step.js";
export { auditDpFedAvgRound, type DpFedAvgRoundAuditOptions, type DpFedAvgRoundAuditResult } from "./fedavg-round.js";
export { rocPlot, type RocPlotOptions } from "./plot.js";
// These need tfjs.
export {
  classifierOutputs,
  liraOfflineScores,
  membershipInference,
  type LabelledSet,
  type ClassifierOutputs,
  type AttackReport,
  type SliceReport,
  type MembershipInferenceOptions,
  type MembershipInferenceResult,
} from "./mia.js";
export {
  auditTrainingWithCanaries,
  CANARY_KINDS,
  type CanaryKind,
  type CanaryTrainingOptions,
  type CanaryAuditOptions,
  type CanaryAuditResult,
} from "./canaries.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
