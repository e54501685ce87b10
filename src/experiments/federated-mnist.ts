/**
 * A ready-made federated MNIST experiment (used by `dpkit federated`, the benchmarks and the
 * notebook): partition MNIST among simulated clients, run (DP-)FedAvg, report test accuracy,
 * client-level epsilon and uplink bytes per round.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { loadMnist } from "../data/mnist.js";
import { mnistInputShape, mnistModel } from "../dpsgd/mnist-models.js";
import {
  DpError,
  requireInRange,
  requireInteger,
  requireNonNegative,
  requireOneOf,
  requireOpenProbability,
  requirePositive,
  requirePositiveInteger,
} from "../errors.js";
import { SeededRng } from "../random/rng.js";
import type { FederatedAggregator } from "../federated/core/aggregator.js";
import { createFederatedAccountant, deltaWarning, federatedNeighboringRelation } from "../federated/core/accounting.js";
import type { UpdateCompressor } from "../federated/compression/compressor.js";
import { LowRankCompressor } from "../federated/compression/low-rank.js";
import { RandomSubsampler, StochasticQuantizer } from "../federated/compression/quantize.js";
import { DpFedAvgAggregator } from "../federated/core/dp-aggregator.js";
import { ExampleLevelDpAggregator, dpSgdLocalEvent, dpSgdLocalTrainer } from "../federated/client/example-level.js";
import type { ClientExecutor, FedAvgHistory, RoundReport, SimulatedFault } from "../federated/core/fedavg.js";
import { runFedAvg } from "../federated/core/fedavg.js";
import { privatizeUpload } from "../federated/client/privatize.js";
import { probabilityCrossEntropyLoss } from "../federated/client/local-training.js";
import type { Partition } from "../federated/simulation/partitions.js";
import {
  partitionDirichlet,
  partitionIid,
  partitionShards,
  partitionToDatasets,
  partitionUnbalanced,
} from "../federated/simulation/partitions.js";
import type { ClientSelection } from "../federated/core/selection.js";
import type { ServerOptimizerOptions } from "../federated/core/server-optimizer.js";
import { createServerOptimizer } from "../federated/core/server-optimizer.js";
import { SecureAggregator } from "../federated/secagg/aggregator.js";
import { createSimulatedClients } from "../federated/simulation/simulated-clients.js";
import { simulateFederatedService, trainerOfSimulatedClient } from "../federated/simulation/service-simulation.js";
import { composedEvent } from "../accounting/events.js";
import { flattenWeights, setFlatWeights, weightShapesOf } from "../federated/client/weights.js";

/** Privacy modes of the experiment. */
export type FederatedDpMode = "none" | "server" | "client" | "local" | "example";
/** Every {@link FederatedDpMode}. */
export const FEDERATED_DP_MODES: readonly FederatedDpMode[] = ["none", "server", "client", "local", "example"];
/** Partition schemes of the experiment. */
export type FederatedPartitionKind = "iid" | "shards" | "dirichlet" | "unbalanced";
/** Every {@link FederatedPartitionKind}. */
export const FEDERATED_PARTITIONS: readonly FederatedPartitionKind[] = ["iid", "shards", "dirichlet", "unbalanced"];

/**
 * Parses a compression spec: `none`, `quantize:B` (B bits), `quantize:B:rotate`,
 * `subsample:F`, `mask:F` (random mask, not rescaled), `lowrank:K`.
 *
 * @param spec - the spec string
 * @param shapes - the model's weight shapes (needed by `lowrank`)
 * @returns the compressor, or undefined for `none`
 * @throws {@link DpError} `invalid_parameter` for an unknown spec
 * @example
 * ```ts
 * import { parseCompressionSpec } from "dpkit/experiments";
 * parseCompressionSpec("quantize:2:rotate", [[784, 128], [128]])?.name; // "quantize(2 bit, rotated)"
 * ```
 */
export function parseCompressionSpec(spec: string, shapes: number[][]): UpdateCompressor | undefined {
  const [kind, a, b] = spec.split(":");
  const num = (s: string | undefined): number => (s === undefined || s.trim() === "" ? NaN : Number(s));
  switch (kind) {
    case "none":
    case "":
      return undefined;
    case "quantize":
      return new StochasticQuantizer({ bits: num(a), rotate: b === "rotate" });
    case "subsample":
      return new RandomSubsampler({ fraction: num(a) });
    case "mask":
      return new RandomSubsampler({ fraction: num(a), rescale: false });
    case "lowrank":
      return new LowRankCompressor({ shapes, rank: num(a) });
    default:
      throw new DpError(
        "invalid_parameter",
        `\`compression\` must be one of none, quantize:B[:rotate], subsample:F, mask:F, lowrank:K. Found ${JSON.stringify(spec)}.`,
        "compression",
      );
  }
}

/** Options for {@link runMnistFederated}. */
export interface MnistFederatedOptions {
  /** "mlp" (784-128-10) or "cnn" (the small tanh CNN of dpkit/dpsgd). Default "mlp". */
  model?: "mlp" | "cnn";
  /** N: number of clients. Default 100. */
  clients?: number;
  /** K: clients per round (Poisson rate q = K/N under DP). Default 10. */
  clientsPerRound?: number;
  /** "fixed" K of N or "poisson" with q = K/N. Default: poisson under DP modes server/client, fixed otherwise. */
  selection?: "fixed" | "poisson";
  /** Training examples used (the first ones of MNIST's training split). Default 60,000. */
  trainExamples?: number;
  /** Test examples used for accuracy. Default 10,000. */
  testExamples?: number;
  /** E. Default 5. */
  localEpochs?: number;
  /** B (`Infinity`: FedSGD). Default 10. */
  localBatchSize?: number;
  /** Client learning rate. Default 0.1. */
  learningRate?: number;
  /** R. Default 20. */
  rounds?: number;
  /** Partition. Default "iid". */
  partition?: FederatedPartitionKind;
  /** Dirichlet α. Default 0.5. */
  alpha?: number;
  /** Privacy mode. Default "none". */
  dp?: FederatedDpMode;
  /** z. Default 1. */
  noiseMultiplier?: number;
  /** C (client-level clip; per-example clip in "example" mode). Default 1 (example: 1). */
  clip?: number;
  /** Adaptive clipping (server/client modes). */
  adaptiveClip?: boolean;
  /**
   * dp "client" only: run the distributed noise behind the secure-aggregation protocol
   * (SecAgg+, simulated in this process), so the server sees only the sum. Slow for large K.
   */
  secureAggregation?: boolean;
  /**
   * Run the rounds on the deployed code path: the federated service and the client runtime over
   * the in-memory transport ({@link simulateFederatedService}) instead of `runFedAvg`. dp none,
   * server or client only (client without `secureAggregation` is local noise there); first-come
   * selection, no amplification by sampling claimed.
   */
  service?: boolean;
  /** With `service`: fewest reports for a round to complete. Default `clientsPerRound`. */
  minClients?: number;
  /** Compression spec (see {@link parseCompressionSpec}). Default "none". */
  compression?: string;
  /** Stop before exceeding this client-level epsilon. */
  targetEpsilon?: number;
  /** δ. Default 1/N^1.1 (N clients; for dp "example", N training examples). */
  targetDelta?: number;
  /** Server optimiser. Default FedAvg. */
  serverOptimizer?: ServerOptimizerOptions;
  /** Example mode: local DP-SGD sampling rate q_local. Default B/n_k rounded (B / (trainExamples/N)). */
  localSamplingProbability?: number;
  /** Example mode: DP-SGD steps per round. Default E/q_local. */
  localSteps?: number;
  /**
   * Seed for a reproducible simulation (partition, selection, shuffling and ALL noise):
   * **insecure**, for experiments only. Omit for secure noise (the partition then uses seed 0).
   */
  seed?: number;
  /** Evaluate every this many rounds. Default 1. */
  evaluateEvery?: number;
  /** Probability that a selected client drops out (simulated). Default 0. */
  dropoutProbability?: number;
  /** Client executor (e.g. a worker pool). */
  executor?: ClientExecutor;
  /** Called after each round. */
  onRound?: (report: RoundReport) => void;
  /** Receives client failure lines. */
  log?: (line: string) => void;
}

/** What {@link runMnistFederated} returns. */
export interface MnistFederatedResult extends FedAvgHistory {
  /** Number of model parameters. */
  parameters: number;
  /** Final test accuracy. */
  accuracy: number;
  /** The aggregator's name and the compression's. */
  aggregator: string;
  compression: string;
  /** Total uplink bytes over all rounds. */
  uplinkBytes: number;
  /** The neighbouring relation of `epsilon` (undefined without DP): client level, or example level with dp "example". */
  neighboringRelation?: "addOrRemoveOne" | "replaceOne";
  /** Who the relation is about: "client" or "example" (undefined without DP). */
  privacyUnit?: "client" | "example";
  /** Warnings about the guarantee (e.g. a delta larger than 1/N). */
  warnings: string[];
}

function accuracyOf(model: tf.LayersModel, x: Float32Array, y: Uint8Array, inputShape: number[]): number {
  const width = inputShape.reduce((a, b) => a * b, 1);
  const n = y.length;
  let correct = 0;
  for (let s = 0; s < n; s += 1000) {
    const m = Math.min(1000, n - s);
    const pred = tf.tidy(() => {
      const xb = tf.tensor(x.subarray(s * width, (s + m) * width), [m, ...inputShape]);
      return (model.predict(xb) as tf.Tensor).argMax(-1).dataSync();
    });
    for (let i = 0; i < m; i++) if (pred[i] === y[s + i]) correct++;
  }
  return n > 0 ? correct / n : NaN;
}

/**
 * Checks every option of {@link runMnistFederated} before any work (the one check: the CLI
 * calls it too), naming the option. Returns the options unchanged.
 * @param options - the run's options
 * @returns `options`
 * @throws {@link DpError} `invalid_parameter` / `non_finite` naming the bad option
 * @example
 * ```ts
 * import { checkMnistFederatedOptions } from "dpkit/experiments";
 * checkMnistFederatedOptions({ clients: 10, clientsPerRound: 20 }); // throws: clientsPerRound > clients
 * ```
 */
export function checkMnistFederatedOptions(options: MnistFederatedOptions): MnistFederatedOptions {
  requireOneOf("model", options.model ?? "mlp", ["mlp", "cnn"] as const);
  const N = requirePositiveInteger("clients", options.clients ?? 100);
  const K = requirePositiveInteger("clientsPerRound", options.clientsPerRound ?? 10);
  if (K > N) throw new DpError("invalid_parameter", `\`clientsPerRound\` must be <= clients = ${N}. Found ${K}.`, "clientsPerRound");
  const dp = requireOneOf("dp", options.dp ?? "none", FEDERATED_DP_MODES);
  requireOneOf("partition", options.partition ?? "iid", FEDERATED_PARTITIONS);
  if (options.selection !== undefined) requireOneOf("selection", options.selection, ["fixed", "poisson"] as const);
  requireInteger("trainExamples", options.trainExamples ?? 60000, { min: 1, max: 60000 });
  requireInteger("testExamples", options.testExamples ?? 10000, { min: 1, max: 10000 });
  requirePositiveInteger("localEpochs", options.localEpochs ?? 5);
  if (options.localBatchSize !== Infinity) requirePositiveInteger("localBatchSize", options.localBatchSize ?? 10);
  requirePositive("learningRate", options.learningRate ?? 0.1);
  requirePositiveInteger("rounds", options.rounds ?? 20);
  requirePositive("alpha", options.alpha ?? 0.5);
  const z = requireNonNegative("noiseMultiplier", options.noiseMultiplier ?? 1);
  if (dp !== "none" && !(z > 0)) requirePositive("noiseMultiplier", z);
  requirePositive("clip", options.clip ?? 1);
  requireInRange("dropoutProbability", options.dropoutProbability ?? 0, 0, 1);
  if (options.targetEpsilon !== undefined) {
    if (dp === "none") throw new DpError("invalid_parameter", "`targetEpsilon` needs `dp` other than none.", "targetEpsilon");
    requirePositive("targetEpsilon", options.targetEpsilon);
  }
  if (options.targetDelta !== undefined) requireOpenProbability("targetDelta", options.targetDelta);
  if (options.seed !== undefined) requireInteger("seed", options.seed, { min: 0, max: 2 ** 32 - 1 });
  if (options.secureAggregation && dp !== "client")
    throw new DpError("invalid_parameter", '`secureAggregation` needs dp "client".', "secureAggregation");
  if (options.adaptiveClip && dp !== "server" && dp !== "client")
    throw new DpError("invalid_parameter", '`adaptiveClip` needs dp "server" or "client".', "adaptiveClip");
  if (options.serverOptimizer !== undefined) {
    requireOneOf("serverOptimizer", options.serverOptimizer.kind, ["sgd", "momentum", "adam"] as const);
    if (options.serverOptimizer.learningRate !== undefined) requirePositive("serverLearningRate", options.serverOptimizer.learningRate);
  }
  return options;
}

/**
 * Runs (DP-)FedAvg on MNIST split among simulated clients; accuracy is measured on the test split.
 *
 * @remarks
 * dp "server": DP-FedAvg with server noise (trusted server). "client": distributed noise shares
 * (trust: secure aggregation). "local": each client adds the full noise (no trust). "example":
 * clients run DP-SGD (example-level guarantee). The reported epsilon is client level
 * (example level for "example", local for "local") at δ = 1/N^1.1 unless set.
 * Call `prepareBackend()` first.
 *
 * @param options - see {@link MnistFederatedOptions}
 * @returns the history with test accuracy per evaluated round, epsilon and uplink bytes
 * @throws {@link DpError} `invalid_parameter` for a bad option
 * @example
 * ```ts
 * import { prepareBackend } from "dpkit/backend";
 * import { runMnistFederated } from "dpkit/experiments";
 * await prepareBackend({ announce: false });
 * const r = await runMnistFederated({ clients: 20, clientsPerRound: 5, trainExamples: 2000,
 *   testExamples: 500, localEpochs: 1, rounds: 2, dp: "server", noiseMultiplier: 0.5, seed: 1 });
 * console.log(r.accuracy, r.epsilon);
 * ```
 * @see McMahan et al. 2017 (FedAvg); McMahan et al. 2018 (DP-FedAvg).
 */
export async function runMnistFederated(options: MnistFederatedOptions = {}): Promise<MnistFederatedResult> {
  checkMnistFederatedOptions(options);
  const kind = requireOneOf("model", options.model ?? "mlp", ["mlp", "cnn"] as const);
  const N = requirePositiveInteger("clients", options.clients ?? 100);
  const K = requirePositiveInteger("clientsPerRound", options.clientsPerRound ?? 10);
  if (K > N) throw new DpError("invalid_parameter", `\`clientsPerRound\` must be <= clients = ${N}. Found ${K}.`, "clientsPerRound");
  const dp = requireOneOf("dp", options.dp ?? "none", FEDERATED_DP_MODES);
  const partitionKind = requireOneOf("partition", options.partition ?? "iid", FEDERATED_PARTITIONS);
  const trainExamples = requirePositiveInteger("trainExamples", options.trainExamples ?? 60000);
  const testExamples = requirePositiveInteger("testExamples", options.testExamples ?? 10000);
  const E = requirePositiveInteger("localEpochs", options.localEpochs ?? 5);
  const B = options.localBatchSize === Infinity ? Infinity : requirePositiveInteger("localBatchSize", options.localBatchSize ?? 10);
  const z = options.noiseMultiplier ?? 1;
  const clip = requirePositive("clip", options.clip ?? 1);
  const selectionKind = options.selection ?? (dp === "server" || dp === "client" ? "poisson" : "fixed");
  const selection: ClientSelection =
    selectionKind === "poisson" ? { kind: "poisson", samplingProbability: K / N } : { kind: "fixed", clientsPerRound: K };
  const partRng = new SeededRng(options.seed ?? 0);

  const train = loadMnist({ split: "train", count: Math.min(trainExamples, 60000) });
  const test = loadMnist({ split: "test", count: Math.min(testExamples, 10000) });
  let partition: Partition;
  if (partitionKind === "iid") partition = partitionIid(train.count, N, partRng);
  else if (partitionKind === "shards") partition = partitionShards({ labels: train.labels, numClients: N, rng: partRng });
  else if (partitionKind === "dirichlet")
    partition = partitionDirichlet({ labels: train.labels, numClients: N, alpha: options.alpha ?? 0.5, rng: partRng });
  else partition = partitionUnbalanced({ count: train.count, numClients: N, rng: partRng });
  const datasets = partitionToDatasets(train.images, train.labels, partition);

  const inputShape = mnistInputShape(kind);
  const model = mnistModel(kind);
  // Deterministic initialisation for reproducible runs: weights from the seeded generator (glorot-like scale).
  const initRng = new SeededRng((options.seed ?? 0) + 7919);
  const w0 = flattenWeights(model);
  {
    let off = 0;
    for (const shape of weightShapesOf(model)) {
      const size = shape.reduce((a, b) => a * b, 1);
      if (shape.length >= 2) {
        const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
        const fanOut = shape[shape.length - 1];
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        for (let i = 0; i < size; i++) w0[off + i] = ((initRng.nextUint32() / 2 ** 32) * 2 - 1) * limit;
      } else {
        w0.fill(0, off, off + size);
      }
      off += size;
    }
    setFlatWeights(model, w0);
  }

  let aggregator: FederatedAggregator | undefined;
  let trainer;
  if (dp === "server" || dp === "client" || dp === "local") {
    aggregator = new DpFedAvgAggregator({
      noiseMultiplier: z,
      l2NormClip: clip,
      noisePlacement: dp === "server" ? "server" : dp === "client" ? "client-distributed" : "client-local",
      adaptiveClipping: options.adaptiveClip,
      // A seeded simulation is reproducible and NOT private; the CLI says so in its output.
      allowInsecureRng: options.seed !== undefined,
    });
    if (options.secureAggregation) {
      if (dp !== "client") throw new DpError("invalid_parameter", '`secureAggregation` needs dp "client".', "secureAggregation");
      // Per-coordinate range of a prepared upload: clipped delta (|x_i| <= C) plus a share of sd zC/sqrt(K), 6 sd.
      const share = (z * clip) / Math.sqrt(K);
      aggregator = new SecureAggregator({ aggregator: aggregator as DpFedAvgAggregator, graph: "secagg+", clipRange: clip + 6 * share });
    }
  } else if (dp === "example") {
    const meanSize = train.count / N;
    const qLocal = options.localSamplingProbability ?? Math.min(1, (B === Infinity ? meanSize : B) / meanSize);
    const steps = options.localSteps ?? Math.max(1, Math.round(E / qLocal));
    trainer = dpSgdLocalTrainer({
      inputShape,
      localSamplingProbability: qLocal,
      localSteps: steps,
      l2NormClip: clip,
      noiseMultiplier: z,
      learningRate: options.learningRate ?? 0.1,
    });
    aggregator = new ExampleLevelDpAggregator(dpSgdLocalEvent({ localSamplingProbability: qLocal, localSteps: steps, noiseMultiplier: z }));
  }
  const compression = parseCompressionSpec(options.compression ?? "none", weightShapesOf(model));
  const clients = createSimulatedClients({
    datasets,
    model,
    inputShape,
    localEpochs: E,
    localBatchSize: B,
    learningRate: options.learningRate ?? 0.1,
    loss: probabilityCrossEntropyLoss,
    trainer,
  });
  if (options.service) {
    if (dp !== "none" && dp !== "server" && dp !== "client")
      throw new DpError("invalid_parameter", `\`service\` supports dp none, server or client. Found ${dp}.`, "dp");
    if (options.adaptiveClip || (options.compression ?? "none") !== "none")
      throw new DpError("invalid_parameter", "`service` runs without adaptive clipping and compression.", "service");
    const evalModel = mnistModel(kind);
    const sim = await simulateFederatedService({
      model: { name: kind, dimension: w0.length, inputShape, numClasses: 10 },
      initialWeights: w0,
      training: { localEpochs: E, batchSize: B === Infinity ? 1_000_000 : B, learningRate: options.learningRate ?? 0.1, minExamples: 1 },
      rounds: requirePositiveInteger("rounds", options.rounds ?? 20),
      clientsPerRound: K,
      minClients: options.minClients ?? K,
      dp,
      noiseMultiplier: dp === "none" ? undefined : z,
      l2NormClip: dp === "none" ? undefined : clip,
      secureAggregation: options.secureAggregation,
      targetEpsilon: options.targetEpsilon,
      delta: options.targetDelta ?? (N >= 2 ? N ** -1.1 : 1e-5),
      trainers: clients.map(trainerOfSimulatedClient),
      evaluate: (weights) => {
        setFlatWeights(evalModel, weights);
        return { accuracy: accuracyOf(evalModel, test.images, test.labels, inputShape) };
      },
    });
    evalModel.dispose();
    setFlatWeights(model, sim.weights);
    const accuracy = accuracyOf(model, test.images, test.labels, inputShape);
    model.dispose();
    const rounds: RoundReport[] = sim.status.history.map((h) => ({
      round: h.round,
      selected: h.accepted,
      accepted: h.accepted,
      failures: [],
      event: h.event,
      ...(h.epsilon === null ? {} : { epsilon: h.epsilon }),
      l2NormClip: dp === "none" ? undefined : clip,
      uplinkBytes: sim.bytesUp / Math.max(1, sim.status.history.length),
      metrics: h.metrics,
      seconds: h.seconds,
    }));
    for (const r of rounds) options.onRound?.(r);
    const events = rounds.map((r) => r.event);
    return {
      weights: sim.weights,
      rounds,
      stoppedBy: sim.status.stoppedBy === "targetEpsilon" ? "targetEpsilon" : "rounds",
      epsilon: sim.status.epsilon ?? undefined,
      targetDelta: sim.status.delta ?? options.targetDelta ?? (N >= 2 ? N ** -1.1 : 1e-5),
      event: composedEvent(events),
      parameters: w0.length,
      accuracy,
      aggregator: `service(${dp}${options.secureAggregation ? ", secure aggregation" : ""})`,
      compression: "none",
      uplinkBytes: sim.bytesUp,
      warnings:
        dp === "none"
          ? []
          : [deltaWarning(N, sim.status.delta ?? options.targetDelta ?? (N >= 2 ? N ** -1.1 : 1e-5))].filter(
              (w): w is string => w !== undefined,
            ),
    };
  }
  const noisePlacement = aggregator?.noisePlacement ?? "none";
  const accountantFactory = dp === "none" ? undefined : () => createFederatedAccountant({ selection, noisePlacement });
  const dropout = options.dropoutProbability ?? 0;
  const faultRng = new SeededRng((options.seed ?? 0) + 104729);
  const faults =
    dropout > 0 ? (): SimulatedFault | undefined => (faultRng.nextUint32() / 2 ** 32 < dropout ? { dropout: true } : undefined) : undefined;
  const history = await runFedAvg({
    privatize: privatizeUpload,
    clients,
    rounds: requirePositiveInteger("rounds", options.rounds ?? 20),
    initialWeights: w0,
    totalClients: N,
    selection,
    aggregator,
    serverOptimizer: createServerOptimizer(options.serverOptimizer),
    compression,
    seed: options.seed,
    // Example level: the population is the examples, so the default δ is 1/n^1.1 over examples.
    targetDelta: options.targetDelta ?? (dp === "example" ? train.count ** -1.1 : undefined),
    targetEpsilon: options.targetEpsilon,
    accountantFactory,
    faults,
    log: options.log,
    executor: options.executor,
    evaluateEvery: options.evaluateEvery,
    evaluate: (weights) => {
      setFlatWeights(model, weights);
      return { accuracy: accuracyOf(model, test.images, test.labels, inputShape) };
    },
    onRound: options.onRound,
  });
  setFlatWeights(model, history.weights);
  const accuracy = accuracyOf(model, test.images, test.labels, inputShape);
  model.dispose();
  return {
    ...history,
    parameters: w0.length,
    accuracy,
    aggregator: aggregator?.name ?? "fedavg",
    compression: compression?.name ?? "none",
    uplinkBytes: history.rounds.reduce((s, r) => s + r.uplinkBytes, 0),
    ...(dp === "none"
      ? {}
      : {
          neighboringRelation: dp === "example" ? "addOrRemoveOne" : federatedNeighboringRelation({ selection, noisePlacement }),
          privacyUnit: dp === "example" ? "example" : "client",
        }),
    warnings:
      dp === "none"
        ? []
        : [deltaWarning(dp === "example" ? train.count : N, history.targetDelta)].filter((w): w is string => w !== undefined),
  };
}
