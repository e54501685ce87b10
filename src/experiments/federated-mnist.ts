/**
 * A ready-made federated MNIST experiment (used by `dpkit federated`, the benchmarks and the
 * notebook): partition MNIST among simulated clients, run (DP-)FedAvg, report test accuracy,
 * client-level epsilon and uplink bytes per round.
 * @module
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { loadMnist } from "../data/mnist.js";
// Registers dpkit's wasm gradient kernels (the CNNs train on wasm with them).
import "../dpsgd/kernels/register.js";
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
import { SeededRng, secureRng } from "../random/rng.js";
import type { FederatedAggregator } from "../federated/core/aggregator.js";
import { createFederatedAccountant, deltaWarning, federatedNeighboringRelation } from "../federated/core/accounting.js";
import type { UpdateCompressor } from "../federated/compression/compressor.js";
import { LowRankCompressor } from "../federated/compression/low-rank.js";
import { RandomSubsampler, StochasticQuantizer } from "../federated/compression/quantize.js";
import { DpFedAvgAggregator } from "../federated/core/dp-aggregator.js";
import { ExampleLevelDpAggregator, dpSgdLocalEvent, dpSgdLocalTrainer } from "../federated/client/example-level.js";
import type { ClientExecutor, FedAvgHistory, RoundReport, SimulatedFault } from "../federated/core/fedavg.js";
import { FedAvgServer, runFedAvg } from "../federated/core/fedavg.js";
import type { FederatedClient, TrainRequest } from "../federated/core/fedavg.js";
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
import type { DpEvent } from "../accounting/events.js";
import { flattenWeights, setFlatWeights, weightShapesOf } from "../federated/client/weights.js";

/** Privacy modes of the experiment. */
export type FederatedDpMode = "none" | "server" | "client" | "local" | "example";
/** Every {@link FederatedDpMode}. */
export const FEDERATED_DP_MODES: readonly FederatedDpMode[] = ["none", "server", "client", "local", "example"];
/** Models of the experiment: the two small ones of `dpkit/dpsgd` and the CNN of McMahan et al. 2017. */
export type FederatedModelKind = "mlp" | "cnn" | "mcmahan-cnn";
/** Every {@link FederatedModelKind}. */
export const FEDERATED_MODELS: readonly FederatedModelKind[] = ["mlp", "cnn", "mcmahan-cnn"];

/**
 * The MNIST CNN of McMahan et al. 2017 ("Communication-Efficient Learning of Deep Networks from
 * Decentralized Data", section 3): 5×5 convolution with 32 channels, 2×2 max pooling, 5×5
 * convolution with 64 channels, 2×2 max pooling, a fully connected layer of 512 ReLU units and a
 * softmax output; 1,663,370 parameters (the paper's count). Convolutions use "same" padding and
 * ReLU, so the feature maps are 28×28×32, 14×14×64 and 7×7×64 after pooling.
 *
 * @returns an uncompiled `tf.Sequential` with input shape [28, 28, 1] and softmax outputs
 * @example
 * ```ts
 * import { mcmahanMnistCnn } from "dpkit/experiments";
 * mcmahanMnistCnn().countParams(); // 1663370
 * ```
 * @see https://arxiv.org/abs/1602.05629
 */
export function mcmahanMnistCnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 5, padding: "same", activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 5, padding: "same", activation: "relu" }),
      tf.layers.maxPooling2d({ poolSize: 2, strides: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 512, activation: "relu" }),
      tf.layers.dense({ units: 10, activation: "softmax" }),
    ],
  });
}

function federatedModel(kind: FederatedModelKind): tf.Sequential {
  return kind === "mcmahan-cnn" ? mcmahanMnistCnn() : mnistModel(kind);
}

function federatedInputShape(kind: FederatedModelKind): number[] {
  return kind === "mcmahan-cnn" ? [28, 28, 1] : mnistInputShape(kind);
}

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
  /**
   * "mlp" (784-128-10), "cnn" (the small tanh CNN of dpkit/dpsgd, 7,946 parameters) or
   * "mcmahan-cnn" (the paper's CNN, 1,663,370 parameters, see {@link mcmahanMnistCnn}). Default "mlp".
   */
  model?: FederatedModelKind;
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
  /**
   * Directory of a resumable run: after every round the global weights (`weights-rNNNN.bin`,
   * float32 little-endian) and `checkpoint.json` (rounds done, seed and selection state, accuracy
   * history, options) are written atomically (temporary file, then rename), and one line per
   * round is appended to `rounds.jsonl`. dp "none" only, without `service`, compression,
   * simulated dropouts or a stateful server optimiser. Without `seed`, a seed is drawn from the
   * secure source and recorded (the selection of every round derives from it).
   * A new run refuses a directory that already holds a checkpoint.
   */
  checkpoint?: string;
  /**
   * Continue the run saved in `checkpoint` up to `rounds` rounds in all, with the same results
   * as an uninterrupted run. Every option that shapes the result must equal the checkpoint's
   * (`rounds`, `evaluateEvery`, `executor` may change); otherwise a DpError names the option.
   */
  resume?: boolean;
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
  /** With `resume`: the rounds the checkpoint had done when this run started. */
  resumedFrom?: number;
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
  requireOneOf("model", options.model ?? "mlp", FEDERATED_MODELS);
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
  if (options.resume && options.checkpoint === undefined)
    throw new DpError("invalid_parameter", "`resume` needs `checkpoint` (the directory of the run to continue).", "resume");
  if (options.checkpoint !== undefined) {
    if (typeof options.checkpoint !== "string" || options.checkpoint.trim() === "")
      throw new DpError(
        "invalid_parameter",
        `\`checkpoint\` must be a directory path. Found ${JSON.stringify(options.checkpoint)}.`,
        "checkpoint",
      );
    const refuse = (name: string, what: string): never => {
      throw new DpError("invalid_parameter", `\`checkpoint\` runs ${what}; \`${name}\` is not supported with it.`, name);
    };
    if (dp !== "none") refuse("dp", 'dp "none" only (an accountant\'s state is not checkpointed)');
    if (options.service) refuse("service", "the simulation, not the service");
    if ((options.compression ?? "none") !== "none") refuse("compression", "without compression");
    if ((options.dropoutProbability ?? 0) > 0) refuse("dropoutProbability", "without simulated dropouts");
    if ((options.serverOptimizer?.kind ?? "sgd") !== "sgd") refuse("serverOptimizer", "with the stateless server optimiser sgd (FedAvg)");
    checkCheckpointOptions(options);
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
  const kind = requireOneOf("model", options.model ?? "mlp", FEDERATED_MODELS);
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
  // Checked before any work: the checkpoint to resume (options compared), or an empty directory.
  const ckpt = options.checkpoint === undefined ? undefined : openCheckpoint(options);
  if (ckpt) options = { ...options, seed: ckpt.seed };
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

  const inputShape = federatedInputShape(kind);
  const model = federatedModel(kind);
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
    const evalModel = federatedModel(kind);
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
  if (ckpt) {
    const r = await runCheckpointed({
      options,
      checkpoint: ckpt,
      clients,
      N,
      selection,
      w0,
      evaluate: (weights) => {
        setFlatWeights(model, weights);
        return accuracyOf(model, test.images, test.labels, inputShape);
      },
    });
    model.dispose();
    return r;
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

/** The options a checkpoint pins: every one that shapes the result (`rounds` and `evaluateEvery` may change). */
type CheckpointSettings = Record<string, string | number | null>;

/** One completed round as `checkpoint.json` and `rounds.jsonl` record it. */
interface CheckpointRound {
  /** 0-based round. */
  round: number;
  /** The clients selected (the selection of round r derives from the seed and r). */
  selectedClients: string[];
  accepted: number;
  /** Test accuracy after the round (null when not evaluated). */
  accuracy: number | null;
  meanLocalLoss: number | null;
  /** Seconds of the round (training and aggregation) and of the evaluation. */
  seconds: number;
  evalSeconds: number;
  /** CPU seconds of this process (all threads) for the round and for the evaluation: independent of other load. */
  cpuSeconds?: number;
  evalCpuSeconds?: number;
  uplinkBytes: number;
  event: DpEvent;
  finishedAt: string;
}

interface CheckpointState {
  dir: string;
  seed: number;
  done: number;
  weights?: Float32Array;
  weightsFile?: string;
  history: CheckpointRound[];
  settings: CheckpointSettings;
  parameters?: number;
}

const CHECKPOINT_FORMAT = "dpkit-federated-mnist-checkpoint";
const CHECKPOINT_FILE = "checkpoint.json";

function checkpointSettings(o: MnistFederatedOptions, seed: number): CheckpointSettings {
  const partition = o.partition ?? "iid";
  return {
    model: o.model ?? "mlp",
    clients: o.clients ?? 100,
    clientsPerRound: o.clientsPerRound ?? 10,
    selection: o.selection ?? "fixed",
    trainExamples: o.trainExamples ?? 60000,
    testExamples: o.testExamples ?? 10000,
    partition,
    alpha: partition === "dirichlet" ? (o.alpha ?? 0.5) : null,
    localEpochs: o.localEpochs ?? 5,
    localBatchSize: o.localBatchSize === Infinity ? "inf" : (o.localBatchSize ?? 10),
    learningRate: o.learningRate ?? 0.1,
    dp: o.dp ?? "none",
    serverLearningRate: o.serverOptimizer?.learningRate ?? null,
    seed,
  };
}

function writeAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
  const fd = openSync(tmp, "w");
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Reads the checkpoint to resume (checking every pinned option against `options`), or checks
 * that a new run may write to the directory. Runs before any training.
 */
interface SavedCheckpoint {
  format?: string;
  version?: number;
  roundsDone?: number;
  settings?: CheckpointSettings;
  rng?: { seed?: number };
  weights?: { file?: string; length?: number; sha256?: string };
  history?: CheckpointRound[];
  parameters?: number;
}

/**
 * The checks of `checkpoint` / `resume` that read no weights and write nothing (part of
 * {@link checkMnistFederatedOptions}, so the CLI refuses before preparing a backend): a new run
 * refuses a directory holding a checkpoint; a resumed run needs a readable checkpoint whose
 * pinned options all equal `options`. Returns the saved JSON when resuming.
 */
function checkCheckpointOptions(options: MnistFederatedOptions): SavedCheckpoint | undefined {
  const dir = options.checkpoint as string;
  const file = join(dir, CHECKPOINT_FILE);
  if (!options.resume) {
    if (existsSync(file))
      throw new DpError(
        "invalid_parameter",
        `\`checkpoint\` ${JSON.stringify(dir)} already holds a checkpoint: pass \`resume\` to continue it, or choose another directory.`,
        "checkpoint",
      );
    return undefined;
  }
  if (!existsSync(file))
    throw new DpError("invalid_parameter", `\`resume\`: ${JSON.stringify(dir)} holds no ${CHECKPOINT_FILE}.`, "checkpoint");
  let saved: SavedCheckpoint;
  try {
    saved = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new DpError(
      "invalid_parameter",
      `\`checkpoint\` ${JSON.stringify(file)} is not valid JSON: ${(e as Error).message}`,
      "checkpoint",
    );
  }
  if (saved.format !== CHECKPOINT_FORMAT || saved.version !== 1 || !saved.settings || !saved.weights?.file || !Array.isArray(saved.history))
    throw new DpError(
      "invalid_parameter",
      `\`checkpoint\` ${JSON.stringify(file)} is not a dpkit federated MNIST checkpoint (version 1).`,
      "checkpoint",
    );
  const seed = saved.rng?.seed;
  if (typeof seed !== "number") throw new DpError("invalid_parameter", `\`checkpoint\` ${JSON.stringify(file)} has no seed.`, "checkpoint");
  const settings = checkpointSettings({ ...options, seed: options.seed ?? seed }, options.seed ?? seed);
  for (const [name, value] of Object.entries(settings)) {
    const was = saved.settings[name] ?? null;
    if (was !== value)
      throw new DpError(
        "invalid_parameter",
        `\`${name}\` differs from the checkpoint in ${JSON.stringify(dir)}: it was ${JSON.stringify(was)}, found ${JSON.stringify(value)}. Resume with the checkpoint's options (only rounds and evaluateEvery may change).`,
        name,
      );
  }
  return saved;
}

/**
 * Reads the checkpoint to resume (checking every pinned option against `options`), or prepares
 * the directory of a new run. Runs before any training.
 */
function openCheckpoint(options: MnistFederatedOptions): CheckpointState {
  const dir = options.checkpoint as string;
  const saved = checkCheckpointOptions(options);
  if (saved === undefined) {
    try {
      mkdirSync(dir, { recursive: true });
      writeAtomic(join(dir, ".probe"), "");
      unlinkSync(join(dir, ".probe"));
    } catch (e) {
      throw new DpError(
        "io_error",
        `\`checkpoint\` ${JSON.stringify(dir)} is not a writable directory: ${(e as Error).message}`,
        "checkpoint",
      );
    }
    const seed = options.seed ?? secureRng().nextUint32();
    return { dir, seed, done: 0, history: [], settings: checkpointSettings(options, seed) };
  }
  const seed = saved.rng?.seed as number;
  const settings = checkpointSettings({ ...options, seed }, seed);
  if (!saved.weights?.file || !saved.history) throw new DpError("invalid_parameter", "`checkpoint` is incomplete.", "checkpoint");
  const weightsPath = join(dir, saved.weights.file);
  let bytes: Buffer;
  try {
    bytes = readFileSync(weightsPath);
  } catch (e) {
    throw new DpError(
      "invalid_parameter",
      `\`checkpoint\`: cannot read ${JSON.stringify(weightsPath)}: ${(e as Error).message}`,
      "checkpoint",
    );
  }
  if (bytes.length !== 4 * (saved.weights.length ?? -1) || sha256(bytes) !== saved.weights.sha256)
    throw new DpError(
      "invalid_parameter",
      `\`checkpoint\`: ${JSON.stringify(weightsPath)} does not match checkpoint.json (length or sha256): the checkpoint is damaged.`,
      "checkpoint",
    );
  const weights = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return {
    dir,
    seed,
    done: saved.roundsDone ?? saved.history.length,
    weights,
    weightsFile: saved.weights.file,
    history: saved.history,
    settings,
    parameters: saved.parameters,
  };
}

function saveCheckpoint(ck: CheckpointState, weights: Float32Array, done: number): void {
  const file = `weights-r${String(done).padStart(4, "0")}.bin`;
  const bytes = new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength);
  writeAtomic(join(ck.dir, file), bytes);
  const json = {
    format: CHECKPOINT_FORMAT,
    version: 1,
    roundsDone: done,
    settings: ck.settings,
    rng: {
      seed: ck.seed,
      nextRound: done,
      // Every random choice is a pure function of (seed, round): nothing else to save.
      derivation:
        "partition SeededRng(seed); initial weights SeededRng(seed + 7919); round r selects clients with SeededRng(mixSeed(seed, SELECT, r)) and client i shuffles with SeededRng(mixSeed(seed, CLIENT, r, i)) (src/federated/core/fedavg.ts)",
    },
    weights: { file, dtype: "float32", byteOrder: "little-endian", length: weights.length, sha256: sha256(bytes) },
    parameters: weights.length,
    totalSeconds: ck.history.reduce((s, h) => s + h.seconds + h.evalSeconds, 0),
    history: ck.history,
    updatedAt: new Date().toISOString(),
  };
  writeAtomic(join(ck.dir, CHECKPOINT_FILE), JSON.stringify(json, null, 1) + "\n");
  if (ck.weightsFile !== undefined && ck.weightsFile !== file) {
    try {
      unlinkSync(join(ck.dir, ck.weightsFile));
    } catch {
      // already gone: nothing to clean
    }
  }
  ck.weightsFile = file;
  ck.done = done;
}

function reportOfCheckpointRound(h: CheckpointRound): RoundReport {
  return {
    round: h.round,
    selected: h.selectedClients.length,
    accepted: h.accepted,
    failures: [],
    event: h.event,
    uplinkBytes: h.uplinkBytes,
    seconds: h.seconds,
    ...(h.meanLocalLoss === null ? {} : { meanLocalLoss: h.meanLocalLoss }),
    ...(h.accuracy === null ? {} : { metrics: { accuracy: h.accuracy } }),
  };
}

/** The rounds of a checkpointed run (plain FedAvg, dp none): one `FedAvgServer` continued at round `done`. */
async function runCheckpointed(a: {
  options: MnistFederatedOptions;
  checkpoint: CheckpointState;
  clients: FederatedClient[];
  N: number;
  selection: ClientSelection;
  w0: Float32Array;
  evaluate: (weights: Float32Array) => number;
}): Promise<MnistFederatedResult> {
  const { options, checkpoint: ck } = a;
  const rounds = requirePositiveInteger("rounds", options.rounds ?? 20);
  const every = requirePositiveInteger("evaluateEvery", options.evaluateEvery ?? 1);
  if (ck.weights && ck.weights.length !== a.w0.length)
    throw new DpError(
      "invalid_parameter",
      `\`checkpoint\` holds ${ck.weights.length} weights; the model has ${a.w0.length}: the checkpoint is of another model.`,
      "checkpoint",
    );
  const resumedFrom = ck.weights ? ck.done : undefined;
  const server = new FedAvgServer({
    initialWeights: ck.weights ?? a.w0,
    totalClients: a.N,
    selection: a.selection,
    serverOptimizer: createServerOptimizer(options.serverOptimizer),
    seed: ck.seed,
    executor: options.executor,
    log: options.log,
    privatize: privatizeUpload,
  });
  server.round = ck.done;
  let picked: string[] = [];
  const tracked: FederatedClient[] = a.clients.map((c) => ({
    id: c.id,
    train(request: TrainRequest) {
      picked.push(c.id);
      return c.train(request);
    },
  }));
  const reports: RoundReport[] = ck.history.map(reportOfCheckpointRound);
  for (let r = ck.done; r < rounds; r++) {
    picked = [];
    const cpu0 = process.cpuUsage();
    const report = await server.runRound(tracked);
    const cpu1 = process.cpuUsage();
    let evalSeconds = 0;
    if ((r + 1) % every === 0 || r === rounds - 1) {
      const t0 = performance.now();
      report.metrics = { accuracy: a.evaluate(server.weights) };
      evalSeconds = (performance.now() - t0) / 1000;
    }
    const cpuOf = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1e6;
    const cpu2 = process.cpuUsage();
    const entry: CheckpointRound = {
      round: report.round,
      selectedClients: picked.slice(),
      accepted: report.accepted,
      accuracy: report.metrics?.accuracy ?? null,
      meanLocalLoss: report.meanLocalLoss ?? null,
      seconds: report.seconds,
      evalSeconds,
      cpuSeconds: cpuOf(cpu1) - cpuOf(cpu0),
      evalCpuSeconds: cpuOf(cpu2) - cpuOf(cpu1),
      uplinkBytes: report.uplinkBytes,
      event: report.event,
      finishedAt: new Date().toISOString(),
    };
    ck.history.push(entry);
    saveCheckpoint(ck, server.weights, r + 1);
    const line = JSON.stringify({ ...entry, event: undefined }) + "\n";
    const fd = openSync(join(ck.dir, "rounds.jsonl"), "a");
    try {
      writeSync(fd, line);
    } finally {
      closeSync(fd);
    }
    reports.push(report);
    options.onRound?.(report);
  }
  const last = reports[reports.length - 1];
  const accuracy = last?.metrics?.accuracy ?? a.evaluate(server.weights);
  return {
    weights: server.weights,
    rounds: reports,
    stoppedBy: "rounds",
    targetDelta: server.targetDelta,
    event: composedEvent(reports.map((r) => r.event)),
    parameters: a.w0.length,
    accuracy,
    aggregator: "fedavg",
    compression: "none",
    uplinkBytes: reports.reduce((s, r) => s + r.uplinkBytes, 0),
    warnings: [],
    ...(resumedFrom === undefined ? {} : { resumedFrom }),
  };
}
