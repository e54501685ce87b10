/**
 * Simulated clients for FedAvg experiments: each holds a local dataset and trains a shared model
 * instance (weights are overwritten from the global model at every round).
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { DpError, requirePositiveInteger } from "../../errors.js";
import type { ClientUpdate } from "../core/aggregator.js";
import type { FederatedClient, TrainRequest } from "../core/fedavg.js";
import type { ClientDataset, FederatedLoss } from "../client/local-training.js";
import { trainLocalUpdate } from "../client/local-training.js";

/** A client's local training routine, given the shared model, its data and the round's request. */
export type LocalTrainer = (args: { model: tf.LayersModel; data: ClientDataset; request: TrainRequest }) => {
  delta: Float32Array;
  numExamples: number;
  meanLoss?: number;
};

/** Options for {@link createSimulatedClients}. */
export interface SimulatedClientsOptions {
  /** One dataset per client (see the partition functions). */
  datasets: ClientDataset[];
  /** Builds the model once; the instance is shared by all simulated clients (they run one at a time). */
  model: tf.LayersModel;
  /** Shape of one example, e.g. [784] or [28, 28, 1]. */
  inputShape: number[];
  /** E. Default 1. */
  localEpochs?: number;
  /** B (`Infinity` for full-batch FedSGD). Default 10. */
  localBatchSize?: number;
  /** Client learning rate. Default 0.05. */
  learningRate?: number;
  /** Loss (default: softmax cross-entropy on logits). */
  loss?: FederatedLoss;
  /** Replace local SGD (e.g. example-level DP-SGD, see `dpSgdLocalTrainer`). */
  trainer?: LocalTrainer;
  /** Client ids (default "client-<i>"). */
  ids?: string[];
}

/**
 * N simulated clients training the given model on their own data with minibatch SGD.
 *
 * @remarks
 * Shuffling uses the round's `rng` from the server (seeded only when the server has a `seed`).
 * The returned update also carries `meanLoss` (a non-private diagnostic the server averages).
 *
 * @param options - see {@link SimulatedClientsOptions}
 * @returns one {@link FederatedClient} per dataset
 * @throws {@link DpError} `invalid_parameter` for an empty dataset list or mismatched ids
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { createSimulatedClients } from "dpkit/federated";
 * const model = tf.sequential({ layers: [tf.layers.dense({ units: 2, inputShape: [2] })] });
 * const clients = createSimulatedClients({ model, inputShape: [2],
 *   datasets: [{ x: new Float32Array([0, 1]), y: new Uint8Array([1]), count: 1 }] });
 * clients[0].id; // "client-0"
 * ```
 */
export function createSimulatedClients(options: SimulatedClientsOptions): FederatedClient[] {
  const { datasets, model, inputShape } = options;
  requirePositiveInteger("datasets.length", datasets.length);
  if (options.ids && options.ids.length !== datasets.length) {
    throw new DpError(
      "invalid_parameter",
      `\`ids\` must have one id per dataset (${datasets.length}). Found ${options.ids.length}.`,
      "ids",
    );
  }
  const trainer: LocalTrainer =
    options.trainer ??
    (({ model: m, data, request }) =>
      trainLocalUpdate({
        model: m,
        globalWeights: request.globalWeights,
        data,
        inputShape,
        localEpochs: options.localEpochs,
        localBatchSize: options.localBatchSize,
        learningRate: options.learningRate,
        loss: options.loss,
        rng: request.rng,
      }));
  return datasets.map((data, i) => {
    const id = options.ids?.[i] ?? `client-${i}`;
    return {
      id,
      train(request: TrainRequest): ClientUpdate & { meanLoss?: number } {
        const r = trainer({ model, data, request });
        return { clientId: id, delta: r.delta, numExamples: r.numExamples, meanLoss: r.meanLoss };
      },
    };
  });
}
