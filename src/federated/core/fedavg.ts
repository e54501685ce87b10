/**
 * The FedAvg training loop (McMahan et al. 2017, Algorithm 1) with DP aggregation, unreliable
 * clients, compression and client-level privacy accounting.
 *
 * Each round: select clients → each selected client trains from the global weights, prepares
 * its upload (the aggregator's client-side step: clip, noise share), compresses it → the server
 * waits until a deadline, decodes, aggregates what arrived (rejecting malformed uploads), applies
 * the server optimiser, and composes the round's event into the accountant.
 *
 * @module
 */
import type { PrivacyAccountant } from "../../accounting/accountant.js";
import { PrivacyBudget } from "../../accounting/budget.js";
import type { DpEvent } from "../../accounting/events.js";
import { DpEventBuilder } from "../../accounting/ledger.js";
import { DpError, requireOpenProbability, requirePositive, requirePositiveInteger, requireProbability } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import { SeededRng } from "../../random/rng.js";
import { bernoulli } from "../../random/bernoulli.js";
import type { AggregationContext, AggregationResult, ClientUpdate, FederatedAggregator, RejectedUpdate } from "./aggregator.js";
import type { ClientPrivacyPlan } from "../protocol/messages.js";
import type { UpdateCompressor } from "../compression/compressor.js";
import type { ServerOptimizer } from "./server-optimizer.js";
import { createServerOptimizer } from "./server-optimizer.js";
import type { ClientSelection } from "./selection.js";
import { selectClients } from "./selection.js";
import { WeightedMeanAggregator } from "./weighted-mean.js";

/** What the server sends a client at the start of a round. */
export interface TrainRequest {
  /** Current global weights (do not modify). */
  globalWeights: Float32Array;
  /** Round number (0-based). */
  round: number;
  /** The client's randomness for this round (shuffling, DP-SGD noise). Undefined: secure source. */
  rng?: Rng;
  /**
   * In a seeded simulation, the 32-bit seed `rng` was made from (`new SeededRng(seed)`), so a
   * client in another thread can rebuild the same stream. Undefined when `rng` is the secure source.
   */
  seed?: number;
}

/** A participant: trains on its own data and returns its raw (unprepared) update. */
export interface FederatedClient {
  /** Stable identifier. */
  readonly id: string;
  /** Local training; may throw or reject (counted as a dropout). */
  train(request: TrainRequest): ClientUpdate | Promise<ClientUpdate>;
}

/** Simulated faults for one client in one round (testing unreliable clients). */
export interface SimulatedFault {
  /** The client disappears before uploading. */
  dropout?: boolean;
  /** Extra upload latency in milliseconds (real time; compare with `roundDeadlineMs`). */
  delayMs?: number;
  /** Replaces the prepared upload with something else (malformed, non-finite, wrong length...). */
  corruptUpload?: (upload: ClientUpdate) => unknown;
}

/** Why a selected client did not contribute. */
export interface ClientOutcome {
  clientId: string;
  status: "accepted" | "dropped" | "late" | "rejected";
  reason?: string;
}

/** One round's report. */
export interface RoundReport {
  /** Round number (0-based). */
  round: number;
  /** Selected clients. */
  selected: number;
  /** Uploads combined by the aggregator. */
  accepted: number;
  /** Per-client outcome for every selected client that did not get accepted. */
  failures: ClientOutcome[];
  /** The round's client-level event. */
  event: DpEvent;
  /** Client-level epsilon after this round (when an accountant is given). */
  epsilon?: number;
  /** The clip used this round (DP aggregators). */
  l2NormClip?: number;
  /** Bytes uploaded by clients this round (all arriving uploads, including rejected ones). */
  uplinkBytes: number;
  /** Mean local training loss over contributing clients (non-private diagnostic). */
  meanLocalLoss?: number;
  /** User metrics from `evaluate` (e.g. test accuracy). */
  metrics?: Record<string, number>;
  /** Wall-clock seconds for the round. */
  seconds: number;
  /** Aggregator extras (e.g. next adaptive clip). */
  info?: Record<string, number>;
}

/** Options for {@link FedAvgServer}. */
export interface FedAvgServerOptions {
  /** Initial global weights (flat; see `flattenWeights`). Copied. */
  initialWeights: Float32Array;
  /** N: total number of clients. */
  totalClients: number;
  /** How clients are selected each round. */
  selection: ClientSelection;
  /** How uploads are combined. Default: plain example-weighted mean (no privacy). */
  aggregator?: FederatedAggregator;
  /** How the mean delta moves the model. Default: FedAvg (w += Δ). */
  serverOptimizer?: ServerOptimizer;
  /** Uplink codec. Default: none (4 bytes per coordinate). */
  compression?: UpdateCompressor;
  /** Uploads arriving later than this after the client started are discarded. Default: no deadline. */
  roundDeadlineMs?: number;
  /** Accountant receiving every round's event (client level). */
  accountant?: PrivacyAccountant;
  /** δ for the reported epsilon. Default 1/N^1.1 (1e-5 for a single client). */
  targetDelta?: number;
  /**
   * Seed for a reproducible simulation: selection, shuffling, client noise and server noise all
   * come from seeded generators derived from it. **Insecure**: noise from a seeded generator
   * gives no privacy. Omit it for the secure source.
   */
  seed?: number;
  /** Simulated faults per (client, round), for testing. */
  faults?: (clientId: string, round: number) => SimulatedFault | undefined;
  /** Receives a line for every rejected, late or dropped client. */
  log?: (line: string) => void;
  /** Worker pool or other executor for client training; default runs clients one after another. */
  executor?: ClientExecutor;
  /**
   * The client half of the aggregator: what each simulated client does to its delta before
   * upload, given the aggregator's {@link FederatedAggregator.clientPlan}. Required when that plan
   * is not `none` (clipping and client noise); pass `privatizeUpload` from `dpkit/federated`
   * (client code — the round logic here never holds the function that sees a raw update).
   */
  privatize?: ClientPrivatizer;
}

/**
 * Applies a {@link ClientPrivacyPlan} to one client's delta on the device and returns the upload
 * (`privatizeUpload` in `dpkit/federated` is the implementation).
 */
export type ClientPrivatizer = (delta: Float32Array, plan: ClientPrivacyPlan, rng?: Rng) => Float32Array;

/** Runs the selected clients' training (sequentially by default; see `WorkerPoolExecutor`). */
export interface ClientExecutor {
  /** Trains `clients` for one round and settles one result per client, in order. */
  run(
    clients: FederatedClient[],
    requests: TrainRequest[],
    deadlineMs: number | undefined,
  ): Promise<({ ok: true; update: ClientUpdate; ms: number } | { ok: false; reason: string; ms: number })[]>;
}

/** 32-bit mix of integers (splitmix32-style) for deriving simulation seeds. @internal */
export function mixSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    h = Math.imul(h ^ (p | 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h ^ Math.floor(p / 2 ** 32), 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const SEED_SELECT = 0x5e1ec7;
const SEED_SERVER = 0x5e4e4;
const SEED_CLIENT = 0xc11e47;
const SEED_UPLOAD = 0x0b10ad;

function withTimeout<T>(p: Promise<T>, ms: number | undefined): Promise<T | typeof TIMEOUT> {
  if (ms === undefined) return p;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t = new Promise<typeof TIMEOUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMEOUT), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}
const TIMEOUT = Symbol("timeout");

/** Default executor: clients train one after another; each has its own deadline clock. */
export const sequentialExecutor: ClientExecutor = {
  async run(clients, requests, deadlineMs) {
    const out: Awaited<ReturnType<ClientExecutor["run"]>> = [];
    for (let i = 0; i < clients.length; i++) {
      const start = performance.now();
      try {
        const r = await withTimeout(
          Promise.resolve().then(() => clients[i].train(requests[i])),
          deadlineMs,
        );
        const ms = performance.now() - start;
        if (r === TIMEOUT) out.push({ ok: false, reason: "late", ms });
        else out.push({ ok: true, update: r, ms });
      } catch (e) {
        out.push({ ok: false, reason: `dropped: ${(e as Error)?.message ?? String(e)}`, ms: performance.now() - start });
      }
    }
    return out;
  },
};

/**
 * Executor that starts every selected client at once and waits for all (each with its own
 * deadline clock started at the call): for clients that train elsewhere (worker threads,
 * remote devices). Clients that train synchronously in this thread still run one by one.
 */
export const concurrentExecutor: ClientExecutor = {
  async run(clients, requests, deadlineMs) {
    return Promise.all(
      clients.map(async (c, i) => {
        const start = performance.now();
        try {
          const r = await withTimeout(
            Promise.resolve().then(() => c.train(requests[i])),
            deadlineMs,
          );
          const ms = performance.now() - start;
          return r === TIMEOUT ? { ok: false as const, reason: "late", ms } : { ok: true as const, update: r, ms };
        } catch (e) {
          return { ok: false as const, reason: `dropped: ${(e as Error)?.message ?? String(e)}`, ms: performance.now() - start };
        }
      }),
    );
  },
};

/**
 * The FedAvg server: global weights, round counter, aggregator, server optimiser, accountant.
 *
 * @remarks
 * Privacy comes from the aggregator (e.g. `DpFedAvgAggregator`); with the default
 * `WeightedMeanAggregator` every round is `nonPrivate`. Rounds complete with the clients that
 * answered: dropouts, late uploads (after `roundDeadlineMs`) and malformed uploads are logged
 * and skipped, never thrown.
 *
 * @example
 * ```ts
 * import { FedAvgServer } from "dpkit/federated";
 * const clients = [0, 1].map((i) => ({ id: `c${i}`, train: () =>
 *   ({ clientId: `c${i}`, delta: new Float32Array([i + 1]), numExamples: 1 }) }));
 * const server = new FedAvgServer({ initialWeights: new Float32Array([0]), totalClients: 2,
 *   selection: { kind: "fixed", clientsPerRound: 2 } });
 * await server.runRound(clients);
 * server.weights[0]; // 1.5
 * ```
 * @see McMahan et al., "Communication-Efficient Learning of Deep Networks from Decentralized Data", AISTATS 2017.
 */
export class FedAvgServer {
  /** Current global weights (updated in place each round). */
  readonly weights: Float32Array;
  /** Rounds completed. */
  round = 0;
  /** What every completed round spent (repeats merged). */
  readonly ledger = new DpEventBuilder();
  readonly aggregator: FederatedAggregator;
  readonly totalClients: number;
  readonly targetDelta: number;
  private readonly options: FedAvgServerOptions;
  private readonly optimizer: ServerOptimizer;

  /**
   * @param options - see {@link FedAvgServerOptions}
   * @throws {@link DpError} `invalid_parameter` for bad options
   */
  constructor(options: FedAvgServerOptions) {
    this.options = options;
    this.weights = options.initialWeights.slice();
    this.totalClients = requirePositiveInteger("totalClients", options.totalClients);
    const s = options.selection;
    if (s.kind === "fixed") {
      requirePositiveInteger("clientsPerRound", s.clientsPerRound);
      if (s.clientsPerRound > this.totalClients) {
        throw new DpError(
          "invalid_parameter",
          `\`clientsPerRound\` must be <= totalClients = ${this.totalClients}. Found ${s.clientsPerRound}.`,
          "clientsPerRound",
        );
      }
    } else {
      requireProbability("samplingProbability", s.samplingProbability);
      if (!(s.samplingProbability > 0)) requirePositive("samplingProbability", s.samplingProbability);
    }
    if (options.roundDeadlineMs !== undefined) requirePositive("roundDeadlineMs", options.roundDeadlineMs);
    this.targetDelta = requireOpenProbability(
      "targetDelta",
      options.targetDelta ?? (this.totalClients >= 2 ? this.totalClients ** -1.1 : 1e-5),
    );
    this.aggregator = options.aggregator ?? new WeightedMeanAggregator();
    this.optimizer = options.serverOptimizer ?? createServerOptimizer();
    const probe = this.aggregator.clientPlan({
      round: 0,
      dimension: this.weights.length,
      expectedClients: this.context(0).expectedClients,
    });
    if (probe.kind !== "none" && typeof options.privatize !== "function") {
      throw new DpError(
        "invalid_parameter",
        `\`privatize\` is required: the aggregator "${this.aggregator.name}" has its clients clip and noise (plan "${probe.kind}"). Pass \`privatizeUpload\` from dpkit/federated.`,
        "privatize",
      );
    }
    if (options.compression && this.aggregator.noisePlacement === "client-distributed") {
      throw new DpError(
        "invalid_parameter",
        "`compression` cannot be combined with distributed client noise: compressing each noise share is not a post-processing of the noisy sum. Use server or local noise, or secure aggregation's own encoding.",
        "compression",
      );
    }
  }

  private rngFor(...parts: number[]): Rng | undefined {
    return this.options.seed === undefined ? undefined : new SeededRng(mixSeed(this.options.seed, ...parts));
  }

  /** The aggregation context of the next round (before selection). */
  private context(selected: number): AggregationContext {
    const s = this.options.selection;
    const expected = s.kind === "fixed" ? s.clientsPerRound : s.samplingProbability * this.totalClients;
    return {
      round: this.round,
      dimension: this.weights.length,
      totalClients: this.totalClients,
      selectedClients: selected,
      expectedClients: expected,
      selection:
        s.kind === "fixed"
          ? { kind: "fixed", sampleSize: s.clientsPerRound }
          : { kind: "poisson", samplingProbability: s.samplingProbability },
      rng: this.rngFor(SEED_SERVER, this.round),
    };
  }

  /** The event the next round plans to spend (`undefined` if the aggregator cannot say). */
  plannedEvent(): DpEvent | undefined {
    return this.aggregator.plannedEvent?.(this.context(0));
  }

  /**
   * Runs one round with `clients` (index i is client i of the population).
   * @param clients - all N clients
   * @returns the round's report
   */
  async runRound(clients: readonly FederatedClient[]): Promise<RoundReport> {
    if (clients.length !== this.totalClients) {
      throw new DpError(
        "invalid_parameter",
        `\`clients\` must hold totalClients = ${this.totalClients} clients. Found ${clients.length}.`,
        "clients",
      );
    }
    const t0 = performance.now();
    const round = this.round;
    const { selected } = selectClients(this.options.selection, this.totalClients, this.rngFor(SEED_SELECT, round));
    const ctx = this.context(selected.length);
    const uploadCtxBase = { round, dimension: this.weights.length, expectedClients: ctx.expectedClients };
    const failures: ClientOutcome[] = [];
    const log = this.options.log;
    const fail = (clientId: string, status: ClientOutcome["status"], reason: string): void => {
      failures.push({ clientId, status, reason });
      log?.(`round ${round}: client ${clientId} ${status}: ${reason}`);
    };
    const faults = new Map<number, SimulatedFault | undefined>();
    const active: number[] = [];
    for (const i of selected) {
      const fault = this.options.faults?.(clients[i].id, round);
      faults.set(i, fault);
      if (fault?.dropout) fail(clients[i].id, "dropped", "dropped out mid-round (simulated)");
      else active.push(i);
    }
    const chosen = active.map((i) => clients[i]);
    const requests: TrainRequest[] = active.map((i) => {
      if (this.options.seed === undefined) return { globalWeights: this.weights, round };
      const seed = mixSeed(this.options.seed, SEED_CLIENT, round, i);
      return { globalWeights: this.weights, round, rng: new SeededRng(seed), seed };
    });
    const results = await (this.options.executor ?? sequentialExecutor).run(chosen, requests, this.options.roundDeadlineMs);
    const uploads: ClientUpdate[] = [];
    let uplinkBytes = 0;
    let lossSum = 0;
    let lossCount = 0;
    const compression = this.options.compression;
    for (let j = 0; j < chosen.length; j++) {
      const client = chosen[j];
      const r = results[j];
      const fault = faults.get(active[j]);
      if (!r.ok) {
        fail(
          client.id,
          r.reason === "late" ? "late" : "dropped",
          r.reason === "late" ? `no upload within the deadline of ${this.options.roundDeadlineMs} ms` : r.reason,
        );
        continue;
      }
      const deadline = this.options.roundDeadlineMs;
      if (fault?.delayMs !== undefined && deadline !== undefined && r.ms + fault.delayMs > deadline) {
        fail(client.id, "late", `upload after ${Math.round(r.ms + fault.delayMs)} ms > deadline ${deadline} ms (simulated delay)`);
        continue;
      }
      const loss = (r.update as ClientUpdate & { meanLoss?: number }).meanLoss;
      let upload: ClientUpdate;
      try {
        // Client side: the aggregator's client plan applied by client code (clip, noise share), then compression.
        const uploadRng = this.rngFor(SEED_UPLOAD, round, active[j]);
        const plan = this.aggregator.clientPlan({ ...uploadCtxBase, rng: uploadRng });
        upload =
          plan.kind === "none"
            ? r.update
            : {
                clientId: r.update.clientId,
                numExamples: r.update.numExamples,
                delta: this.options.privatize!(r.update.delta, plan, uploadRng),
              };
        if (fault?.corruptUpload) upload = fault.corruptUpload(upload) as ClientUpdate;
        if (compression && upload && upload.delta instanceof Float32Array) {
          const bytes = compression.encode(upload.delta, uploadRng);
          uplinkBytes += bytes.length;
          upload = { clientId: upload.clientId, numExamples: upload.numExamples, delta: compression.decode(bytes, upload.delta.length) };
        } else if (upload && upload.delta instanceof Float32Array) {
          uplinkBytes += 4 * upload.delta.length;
        }
      } catch (e) {
        fail(client.id, "dropped", `failed to prepare its upload: ${(e as Error)?.message ?? String(e)}`);
        continue;
      }
      if (typeof loss === "number" && Number.isFinite(loss)) {
        lossSum += loss;
        lossCount++;
      }
      uploads.push(upload);
    }
    const result: AggregationResult = this.aggregator.aggregate(uploads, ctx);
    for (const rej of result.rejected as RejectedUpdate[]) fail(rej.clientId, "rejected", rej.reason);
    this.optimizer.apply(this.weights, result.delta);
    this.ledger.compose(result.event);
    this.options.accountant?.compose(result.event);
    this.round++;
    const report: RoundReport = {
      round,
      selected: selected.length,
      accepted: result.accepted,
      failures,
      event: result.event,
      l2NormClip: result.l2NormClip,
      uplinkBytes,
      seconds: (performance.now() - t0) / 1000,
      info: result.info,
    };
    if (lossCount > 0) report.meanLocalLoss = lossSum / lossCount;
    if (this.options.accountant) report.epsilon = this.options.accountant.getEpsilon(this.targetDelta);
    return report;
  }
}

/** Options for {@link runFedAvg}: the server's options plus the loop's. */
export interface RunFedAvgOptions extends FedAvgServerOptions {
  /** All N clients (client i is index i). */
  clients: readonly FederatedClient[];
  /** R: maximum number of rounds. */
  rounds: number;
  /** Stop before a round whose planned event would take epsilon above this (needs `accountantFactory`). */
  targetEpsilon?: number;
  /** Makes fresh accountants to predict the next round's epsilon (required with `targetEpsilon`). */
  accountantFactory?: () => PrivacyAccountant;
  /** Evaluates the global weights (e.g. test accuracy); its result lands in the round report. */
  evaluate?: (weights: Float32Array, round: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Evaluate every this many rounds (and after the last). Default 1. */
  evaluateEvery?: number;
  /** Called after every round. */
  onRound?: (report: RoundReport) => void;
}

/** What {@link runFedAvg} returns. */
export interface FedAvgHistory {
  /** Final global weights. */
  weights: Float32Array;
  /** One report per round run. */
  rounds: RoundReport[];
  /** Why training stopped. */
  stoppedBy: "rounds" | "targetEpsilon";
  /** Client-level epsilon after the last round (if accounted). */
  epsilon?: number;
  /** δ used for epsilon. */
  targetDelta: number;
  /** All rounds' events composed. */
  event: DpEvent;
}

/**
 * Runs FedAvg for up to `rounds` rounds, stopping early before the planned next round would
 * exceed `targetEpsilon`.
 *
 * @remarks
 * The privacy guarantee is the aggregator's (client level for `DpFedAvgAggregator`); epsilon is
 * reported at δ = `targetDelta` (default 1/N^1.1) after every round.
 *
 * @param options - see {@link RunFedAvgOptions}
 * @returns the final weights and the per-round history
 * @throws {@link DpError} `invalid_parameter` for bad options (e.g. `targetEpsilon` without `accountantFactory`)
 * @example
 * ```ts
 * import { runFedAvg } from "dpkit/federated";
 * const clients = [0, 1, 2, 3].map((i) => ({ id: `c${i}`, train: () =>
 *   ({ clientId: `c${i}`, delta: new Float32Array([1]), numExamples: 1 }) }));
 * const h = await runFedAvg({ clients, rounds: 3, initialWeights: new Float32Array([0]),
 *   totalClients: 4, selection: { kind: "fixed", clientsPerRound: 2 }, seed: 1 });
 * h.weights[0]; // 3
 * ```
 */
export async function runFedAvg(options: RunFedAvgOptions): Promise<FedAvgHistory> {
  const rounds = requirePositiveInteger("rounds", options.rounds);
  const every = requirePositiveInteger("evaluateEvery", options.evaluateEvery ?? 1);
  if (options.targetEpsilon !== undefined) {
    requirePositive("targetEpsilon", options.targetEpsilon);
    if (!options.accountantFactory) {
      throw new DpError("invalid_parameter", "`accountantFactory` is required with `targetEpsilon`.", "accountantFactory");
    }
  }
  const accountant = options.accountant ?? options.accountantFactory?.();
  const server = new FedAvgServer({ ...options, accountant });
  const budget =
    options.targetEpsilon === undefined
      ? undefined
      : new PrivacyBudget({ epsilon: options.targetEpsilon, delta: server.targetDelta, accountant: options.accountantFactory!() });
  const reports: RoundReport[] = [];
  let stoppedBy: FedAvgHistory["stoppedBy"] = "rounds";
  for (let r = 0; r < rounds; r++) {
    const planned = budget && server.plannedEvent();
    if (budget && planned && budget.wouldExceed(server.ledger.clone().compose(planned).build())) {
      stoppedBy = "targetEpsilon";
      break;
    }
    const report = await server.runRound(options.clients);
    if (options.evaluate && ((r + 1) % every === 0 || r === rounds - 1)) {
      report.metrics = await options.evaluate(server.weights, r);
    }
    reports.push(report);
    options.onRound?.(report);
  }
  const last = reports[reports.length - 1];
  return {
    weights: server.weights,
    rounds: reports,
    stoppedBy,
    epsilon: last?.epsilon,
    targetDelta: server.targetDelta,
    event: server.ledger.build(),
  };
}

/**
 * A simulated fault model: each (client, round) drops out with probability `dropoutProbability`
 * (drawn from `rng`; a seeded Rng is fine here, this is simulation, not privacy noise).
 *
 * @param dropoutProbability - in [0, 1]
 * @param seed - seed for the fault draws
 * @returns a `faults` function for {@link FedAvgServerOptions}
 * @example
 * ```ts
 * import { randomDropouts } from "dpkit/federated";
 * const faults = randomDropouts(0.2, 7);
 * faults("c1", 0); // { dropout: true } about one time in five
 * ```
 */
export function randomDropouts(dropoutProbability: number, seed: number): (clientId: string, round: number) => SimulatedFault | undefined {
  const p = requireProbability("dropoutProbability", dropoutProbability);
  return (clientId, round) => {
    let h = 0;
    for (let i = 0; i < clientId.length; i++) h = Math.imul(h ^ clientId.charCodeAt(i), 0x01000193);
    return bernoulli(p, new SeededRng(mixSeed(seed, round, h))) ? { dropout: true } : undefined;
  };
}
