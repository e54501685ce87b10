/**
 * `dpkit/accounting`: the DpEvent algebra and privacy accountants.
 * @module
 */
export {
  assertNever,
  composedEvent,
  type ComposedEvent,
  DP_EVENT_KINDS,
  type DpEvent,
  epsilonDeltaEvent,
  type EpsilonDeltaEvent,
  eventFromJson,
  eventToJson,
  gaussianEvent,
  type GaussianEvent,
  laplaceEvent,
  type LaplaceEvent,
  nonPrivateEvent,
  type NonPrivateEvent,
  noOpEvent,
  type NoOpEvent,
  poissonSampledEvent,
  type PoissonSampledEvent,
  randomizedResponseEvent,
  type RandomizedResponseEvent,
  sampledWithoutReplacementEvent,
  type SampledWithoutReplacementEvent,
  selfComposedEvent,
  type SelfComposedEvent,
  validateEvent,
} from "./events.js";
export type { NeighboringRelation } from "./neighboring.js";
export { DEFAULT_RDP_ORDERS } from "./rdp/orders.js";
export { RdpAccountant, type RdpAccountantOptions, type RdpEpsilonAndOrder } from "./rdp/accountant.js";
export { rdpToEpsilon, rdpToDelta, rdpToEpsilonClassic, type RdpConversionResult } from "./rdp/conversion.js";
export { PldAccountant, type PldAccountantOptions } from "./pld/accountant.js";
export { PureDpAccountant, type PureDpAccountantOptions } from "./pure/accountant.js";
export { ACCOUNTANT_KINDS, makeAccountant, type AccountantKind, type MakeAccountantOptions, type PrivacyAccountant } from "./accountant.js";
export { DpEventBuilder } from "./ledger.js";
export { sampledGaussianStep, stepNeighboringRelation, type SampledGaussianStep, type StepSampling } from "./sampled-gaussian-step.js";
export { computeEpsilon, computeDpSgdEpsilon, type ComputeEpsilonOptions, type DpSgdAccountingOptions } from "./compute.js";
export {
  calibrateNoiseMultiplier,
  stepsForBudget,
  samplingProbabilityForBudget,
  type SamplingForBudgetOptions,
  type CalibrateNoiseOptions,
  type StepsForBudgetOptions,
} from "./calibrate.js";
export { gaussianDeltaForEpsilon, gaussianEpsilonForDelta } from "./analytic-gaussian.js";
export { PrivacyBudget, type PrivacyBudgetOptions, type PrivacyBudgetJson, type SpentPrivacy } from "./budget.js";
export { openSqlitePrivacyBudget, type SqlitePrivacyBudget, type SqlitePrivacyBudgetOptions } from "./budget-sqlite.js";
