/**
 * The simulator on the deployed code path: N simulated clients run the real client runtime
 * (`FederatedClient`: check-in, plan, privatisation, secure-aggregation masking) against the real
 * `FederatedService` (round phases, aggregation, ledger) over the in-memory transport, which
 * frames and validates every message as HTTP would. What is simulated is what is deployed; only
 * the wire and the devices are replaced.
 * @module
 */
import { DpError, requirePositiveInteger } from "../../errors.js";
import { FederatedClient, type FederatedClientOptions, type PlanTrainer } from "../client/runtime.js";
import type { FederatedClient as SimulatedClient } from "../core/fedavg.js";
import { FederatedService, type FederatedServiceOptions, type ServiceStatus } from "../server/service.js";
import { InMemoryTransport } from "../transport/memory.js";

/** Options for {@link simulateFederatedService}. */
export interface ServiceSimulationOptions extends Omit<FederatedServiceOptions, "db"> {
  /** SQLite file for the server's state. Default ":memory:". */
  db?: string;
  /** One trainer per simulated client (see {@link trainerOfSimulatedClient}). */
  trainers: PlanTrainer[];
  /** Extra client options (e.g. `onUpload`, `rng`), given the client index. */
  clientOptions?: (index: number) => Partial<FederatedClientOptions>;
  /** Called after every completed round with the service's status. */
  onRound?: (status: ServiceStatus) => void;
}

/** What {@link simulateFederatedService} returns. */
export interface ServiceSimulationResult {
  /** The server's final status (history, ε, ledger ε, clients). */
  status: ServiceStatus;
  /** The final global weights. */
  weights: Float32Array;
  /** Bytes the clients sent and received (framed, as over HTTP). */
  bytesUp: number;
  bytesDown: number;
}

/**
 * A {@link PlanTrainer} from a simulated client of the classic simulator (e.g. from
 * `createSimulatedClients`): trains from the plan's checkpoint and returns the raw delta, which
 * the client runtime then privatises.
 *
 * @param client - a simulated client
 * @returns the trainer
 * @example
 * ```ts
 * import { trainerOfSimulatedClient } from "dpkit/federated";
 * const trainer = trainerOfSimulatedClient({ id: "c0", train: () => ({ clientId: "c0", delta: new Float32Array([1]), numExamples: 1 }) });
 * ```
 */
export function trainerOfSimulatedClient(client: SimulatedClient): PlanTrainer {
  return async (plan, checkpoint) => {
    const u = (await client.train({ globalWeights: checkpoint, round: plan.round })) as {
      delta: Float32Array;
      numExamples: number;
      meanLoss?: number;
    };
    return { delta: u.delta, numExamples: u.numExamples, ...(u.meanLoss === undefined ? {} : { meanLoss: u.meanLoss }) };
  };
}

/**
 * Runs a federated population in one process on the service's code path (server, client
 * runtime, in-memory transport) until the service is done.
 *
 * @remarks
 * Privacy is the service's (see {@link FederatedService}): client-level, `gaussian(z)` per round
 * with distributed noise behind secure aggregation, no amplification by sampling claimed.
 * Clients train one after another when their trainers are synchronous (one tfjs model may be
 * shared).
 *
 * @param options - the service's options plus one trainer per client
 * @returns the final status, weights and bytes
 * @throws {@link DpError} `invalid_parameter` for bad options
 * @example
 * ```ts
 * import { simulateFederatedService } from "dpkit/federated";
 * const r = await simulateFederatedService({
 *   model: { name: "toy", dimension: 1 }, initialWeights: new Float32Array(1),
 *   training: { localEpochs: 1, batchSize: 1, learningRate: 1, minExamples: 1 },
 *   rounds: 2, clientsPerRound: 2, minClients: 2, dp: "none", selectionWindowMs: 0,
 *   trainers: [() => ({ delta: new Float32Array([1]), numExamples: 1 }), () => ({ delta: new Float32Array([3]), numExamples: 1 })],
 * });
 * r.weights[0]; // 4
 * ```
 */
export async function simulateFederatedService(options: ServiceSimulationOptions): Promise<ServiceSimulationResult> {
  if (!Array.isArray(options.trainers)) throw new DpError("invalid_parameter", "`trainers` must be an array of functions.", "trainers");
  const n = requirePositiveInteger("trainers.length", options.trainers.length);
  if (n < options.clientsPerRound) {
    throw new DpError(
      "invalid_parameter",
      `\`trainers\` must hold at least clientsPerRound = ${options.clientsPerRound} clients. Found ${n}.`,
      "trainers",
    );
  }
  const { trainers, clientOptions, onRound, ...rest } = options;
  const service = await FederatedService.open({
    ...rest,
    db: options.db ?? ":memory:",
    selectionWindowMs: options.selectionWindowMs ?? 200,
  });
  const transports = trainers.map(() => new InMemoryTransport(service));
  let watching = true;
  const watch = (async () => {
    let seen = service.roundsCompleted;
    while (watching && !service.done) {
      await service.whenRoundEnds();
      if (service.roundsCompleted > seen) {
        seen = service.roundsCompleted;
        onRound?.(service.status());
      }
    }
  })();
  try {
    const runs = trainers.map((trainer, i) =>
      new FederatedClient({
        transport: transports[i],
        population: options.population ?? "default",
        clientKind: "node",
        label: `sim-${i}`,
        trainer,
        minPollMs: 1,
        maxRetryAfterMs: 500,
        timeoutMs: 24 * 3600_000,
        ...clientOptions?.(i),
      }).run(),
    );
    await service.whenDone();
    await Promise.allSettled(runs);
    const status = service.status();
    return {
      status,
      weights: service.globalWeights,
      bytesUp: transports.reduce((s, t) => s + t.bytesUp, 0),
      bytesDown: transports.reduce((s, t) => s + t.bytesDown, 0),
    };
  } finally {
    watching = false;
    service.close();
    await watch;
  }
}
