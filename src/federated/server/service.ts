/**
 * The federated service: one population trained in rounds by clients that check in over a
 * transport (HTTP or in-memory), with the round phases of Bonawitz et al. 2019 — selection
 * (accept up to the goal count, tell the rest when to come back), configuration (plan and
 * checkpoint), reporting (uploads until the goal or the deadline; abandoned, releasing nothing,
 * when too few arrive) — secure aggregation driven over the wire with the `SecAggServer` state
 * machine, state in SQLite, client-level ε after every round from the RDP accountant and a
 * persistent privacy ledger that refuses to overspend a target ε.
 *
 * Trust boundary: this file never imports `client/`. In the `client` modes the server receives
 * only privatised uploads (clipped and noised by the client); with secure aggregation it holds
 * only masked inputs and releases only their sum.
 *
 * @see K. Bonawitz et al., "Towards Federated Learning at Scale: System Design", SysML 2019.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { type DpEvent, composedEvent, nonPrivateEvent } from "../../accounting/events.js";
import { RdpAccountant } from "../../accounting/rdp/accountant.js";
import { openSqlitePrivacyBudget, type SqlitePrivacyBudget } from "../../accounting/budget-sqlite.js";
import { DpError, requireInteger, requireNonNegative, requireOneOf, requireOpenProbability, requirePositive } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import type { AggregationContext, AggregationResult, ClientUpdate } from "../core/aggregator.js";
import { DpFedAvgAggregator } from "../core/dp-aggregator.js";
import { SecAggQuantizer } from "../secagg/encoding.js";
import { secAggMinimumThreshold, secAggPlusParameters } from "../secagg/graph.js";
import type { SecAggSessionConfig } from "../secagg/messages.js";
import { randomBytes } from "../secagg/primitives.js";
import { SecAggServer } from "../secagg/server.js";
import {
  type ClientKind,
  type ClientSecAggMessage,
  type ClientPrivacyPlan,
  type ErrorResponse,
  type ModelSpec,
  type ProtocolErrorCode,
  type RoundPhase,
  type SecAggEncodingPlan,
  type ServerMessage,
  type ServerSecAggMessage,
  type TaskPlan,
  type TrainingPlan,
} from "../protocol/messages.js";
import type { FederatedRequestHandler } from "../protocol/transport.js";
import { DEFAULT_PROTOCOL_LIMITS, validateClientMessage, type ProtocolLimits } from "../protocol/validate.js";
import { ServiceStore } from "./store.js";

/** Where the privacy noise comes from. */
export type ServiceDpMode = "none" | "server" | "client";

/** Every {@link ServiceDpMode}. */
export const SERVICE_DP_MODES: readonly ServiceDpMode[] = ["none", "server", "client"];

/** Options for {@link FederatedService.open}. */
export interface FederatedServiceOptions {
  /** SQLite file holding all state (created if missing; resumed if present). */
  db: string;
  /** Population name (several may share a file). Default "default". */
  population?: string;
  /** The model: name, flat dimension, input shape. */
  model: ModelSpec;
  /** Initial global weights (used only when the population is created). */
  initialWeights: Float32Array;
  /** Local training hyper-parameters sent in every plan. */
  training: TrainingPlan;
  /** R: rounds to complete. */
  rounds: number;
  /** K: goal count of clients per round. */
  clientsPerRound: number;
  /** M: fewest reports (or secure-aggregation survivors) for a round to complete. */
  minClients: number;
  /** Reporting deadline after configuration (ms). Default 60,000. */
  roundTimeoutMs?: number;
  /** Selection window: after this long with at least M clients the selection closes below K (ms). Default 2,000. */
  selectionWindowMs?: number;
  /** Deadline of each later secure-aggregation stage (ms). Default min(roundTimeoutMs, 15,000). */
  secAggStageTimeoutMs?: number;
  /** none, server (trusted server clips and noises), client (clients clip and noise). */
  dp: ServiceDpMode;
  /** z (dp server/client). */
  noiseMultiplier?: number;
  /** C (dp server/client). */
  l2NormClip?: number;
  /** Run the reports through secure aggregation (needs dp client). */
  secureAggregation?: boolean;
  /** Complete graph (Bonawitz et al.) or SecAgg+ (Bell et al.). Default: SecAgg+ above 32 clients. */
  secAggGraph?: "complete" | "secagg+";
  /** Stop before a round would take client-level ε above this (the ledger refuses). */
  targetEpsilon?: number;
  /** δ for ε. Default 1e-5. */
  delta?: number;
  /** Evaluates the global weights after each completed round (e.g. test accuracy). */
  evaluate?: (weights: Float32Array, round: number) => Record<string, number> | Promise<Record<string, number>>;
  /** Protocol limits (tensor sizes, strings). */
  limits?: Partial<ProtocolLimits>;
  /** Receives one line per event (never an update's values). */
  log?: (line: string) => void;
  /** How often deadlines are checked (ms). Default 25. */
  tickMs?: number;
  /** Randomness for tokens, session ids and the SecAgg+ graph; defaults to the secure source (a seeded Rng is insecure). */
  rng?: Rng;
}

/** One completed round in {@link ServiceStatus.history}. */
export interface ServiceRoundStatus {
  round: number;
  accepted: number;
  /** Wall-clock seconds from the attempt's opening (selection) to its release. */
  seconds: number;
  /** What the round spent (client level). */
  event: DpEvent;
  testAccuracy: number | null;
  epsilon: number | null;
  clients: Record<ClientKind, number>;
  metrics: Record<string, number>;
}

/** What `GET /status` and `dpkit server --json` print. */
export interface ServiceStatus {
  population: string;
  /** Completed rounds. */
  rounds: number;
  targetRounds: number;
  done: boolean;
  stoppedBy: "rounds" | "targetEpsilon" | null;
  /** Phase of the current attempt. */
  phase: RoundPhase | "idle" | "done";
  dp: ServiceDpMode;
  secureAggregation: boolean;
  noiseMultiplier: number | null;
  l2NormClip: number | null;
  history: ServiceRoundStatus[];
  /** Attempts abandoned (nothing released), with the reason. */
  abandoned: { round: number; reason: string }[];
  /** Client-level ε of the completed rounds (accountant), at `delta`. */
  epsilon: number | null;
  /** ε the persistent ledger holds for this population. */
  ledgerEpsilon: number | null;
  delta: number | null;
  targetEpsilon: number | null;
  /** Each accepted upload's client kind, newest last (at most 1,000). */
  clients: { round: number; kind: ClientKind }[];
  /** Bytes received in request bodies since this process started. */
  bytesReceived: number;
  /** Requests handled since this process started. */
  requests: number;
  /** CPU time (user + system) of this process since the service opened, in ms (the server's cost when it has its own process). */
  serverCpuMs: number;
}

interface Assignment {
  tokenHash: string;
  slot: number;
  kind: ClientKind;
  label?: string;
  status: "selected" | "configured" | "reported" | "accepted" | "dropped" | "rejected";
  lastSeen: number;
}

interface SecAggState {
  server: SecAggServer;
  config: SecAggSessionConfig;
  encoding: SecAggEncodingPlan;
  quantizer: SecAggQuantizer;
  /** Slots that must answer in the current stage. */
  expected: Set<number>;
  /** Slots that answered in the current stage. */
  answered: Set<number>;
  /** The message each slot must answer next (server → client). */
  outbox: Map<number, ServerSecAggMessage>;
  stageDeadline: number;
  /** CPU ms spent inside the secure-aggregation state machine this round (receive, close, finalize). */
  cpuMs: number;
}

interface ActiveRound {
  attempt: number;
  round: number;
  phase: RoundPhase;
  openedAt: number;
  firstCheckIn: number | undefined;
  reportingDeadline: number;
  assignments: Map<string, Assignment>;
  bySlot: Map<number, Assignment>;
  checkpoint: Float32Array;
  plans: Map<number, TaskPlan>;
  /** Slots whose report arrived (no secure aggregation). */
  reported: Set<number>;
  /** Running sum of the reports (dp none: example-weighted; client-local: plain), so memory does not grow with K. */
  sum: Float64Array | undefined;
  /** Σ numExamples (dp none). */
  weight: number;
  /** Σ of reported mean local losses (a non-private diagnostic the client may send). */
  lossSum: number;
  lossCount: number;
  /** dp server only: the raw reports, which the trusted server clips and noises at the close. */
  stored: ClientUpdate[];
  secagg?: SecAggState;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const hashToken = (token: string): string => hex(sha256(new TextEncoder().encode(token)));

const NO_TARGET = 1e12;

/** Runs `f`, adding its CPU time to the round's secure-aggregation account (also when it throws). */
function timed<T>(s: { cpuMs: number }, f: () => T): T {
  const t = cpuMs();
  try {
    return f();
  } finally {
    s.cpuMs += cpuMs() - t;
  }
}

function cpuMs(): number {
  const p = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process;
  const u = p?.cpuUsage?.();
  return u ? (u.user + u.system) / 1000 : 0;
}

/** A `DpError` for a refused request. @internal */
class Refusal extends Error {
  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The federated service (server side). Open it with {@link FederatedService.open}; serve it with
 * `serveFederatedHttp` (transport/http-server) or call it through an `InMemoryTransport`.
 *
 * @remarks
 * Privacy (client level, add/remove one client's whole data): with `dp: "client"` and secure
 * aggregation each round releases the sum of at least M clipped updates plus M or more Gaussian
 * shares of variance (zC)²/M — the Gaussian mechanism with multiplier ≥ z; with `dp: "server"` the
 * (trusted) server clips and adds N(0, (zC)²); `dp: "client"` without secure aggregation is local
 * DP (each client adds N(0, (zC)²)). Selection is first-come up to K, not uniform sampling, so no
 * amplification by sampling is claimed: each round is composed as `gaussian(z)` (or the local
 * event). An abandoned round releases nothing and costs nothing. Before each round the ledger is
 * asked whether the planned event fits `targetEpsilon`; the spend is written before the
 * checkpoint that releases the round.
 *
 * @example
 * ```ts
 * import { FederatedService, InMemoryTransport } from "dpkit/federated";
 * const service = await FederatedService.open({
 *   db: ":memory:", model: { name: "toy", dimension: 2 }, initialWeights: new Float32Array(2),
 *   training: { localEpochs: 1, batchSize: 1, learningRate: 0.1, minExamples: 1 },
 *   rounds: 1, clientsPerRound: 2, minClients: 2, dp: "none" });
 * const transport = new InMemoryTransport(service);
 * await transport.request({ type: "checkIn", protocol: 1, population: "default", clientKind: "node" });
 * service.close();
 * ```
 * @see K. Bonawitz et al., "Towards Federated Learning at Scale: System Design", SysML 2019.
 */
export class FederatedService implements FederatedRequestHandler {
  readonly population: string;
  private readonly o: Required<Pick<FederatedServiceOptions, "roundTimeoutMs" | "selectionWindowMs" | "secAggStageTimeoutMs" | "tickMs">> &
    FederatedServiceOptions;
  private readonly limits: ProtocolLimits;
  private readonly store: ServiceStore;
  private readonly budget: SqlitePrivacyBudget | undefined;
  private readonly delta: number;
  private weights: Float32Array;
  private completed: number;
  private active: ActiveRound | undefined;
  private finishedAttempts = new Map<
    string,
    { attempt: number; round: number; outcome: "completed" | "abandoned"; accepted: number; reason: string }
  >();
  private timer: ReturnType<typeof setInterval> | undefined;
  private isDone = false;
  private stoppedBy: ServiceStatus["stoppedBy"] = null;
  private busy = false;
  private closed = false;
  private bytesReceived = 0;
  private requests = 0;
  private recentClients: { round: number; kind: ClientKind }[] = [];
  private doneWaiters: (() => void)[] = [];
  private roundWaiters: (() => void)[] = [];
  private jitter = 0;
  private readonly cpuAtOpen = cpuMs();
  private statusCache: { at: number; completed: number; value: ServiceStatus } | undefined;

  private constructor(options: FederatedServiceOptions, store: ServiceStore, budget: SqlitePrivacyBudget | undefined, delta: number) {
    this.o = {
      roundTimeoutMs: 60_000,
      selectionWindowMs: 2_000,
      tickMs: 25,
      ...options,
      secAggStageTimeoutMs: options.secAggStageTimeoutMs ?? Math.min(options.roundTimeoutMs ?? 60_000, 15_000),
    };
    this.population = options.population ?? "default";
    this.limits = { ...DEFAULT_PROTOCOL_LIMITS, ...options.limits };
    this.store = store;
    this.budget = budget;
    this.delta = delta;
    const latest = store.latestCheckpoint(this.population)!;
    this.weights = latest.weights;
    this.completed = latest.round;
  }

  /**
   * Opens (or resumes) the service on its SQLite file: an attempt interrupted by a crash is
   * marked abandoned (it released nothing), the latest checkpoint and the ledger are reloaded.
   *
   * @param options - see {@link FederatedServiceOptions}
   * @returns the running service (deadline timer started)
   * @throws {@link DpError} `invalid_parameter` for bad options, `invalid_state` when the file holds the population with another config
   */
  static async open(options: FederatedServiceOptions): Promise<FederatedService> {
    if (options === null || typeof options !== "object") throw new DpError("invalid_parameter", "`options` must be an object.", "options");
    const population = options.population ?? "default";
    if (typeof population !== "string" || population.length < 1 || population.length > 128)
      throw new DpError("invalid_parameter", "`population` must be 1 to 128 characters.", "population");
    requireInteger("model.dimension", options.model?.dimension, { min: 1 });
    if (!(options.initialWeights instanceof Float32Array) || options.initialWeights.length !== options.model.dimension) {
      throw new DpError(
        "invalid_parameter",
        `\`initialWeights\` must be a Float32Array of ${options.model.dimension} entries.`,
        "initialWeights",
      );
    }
    requireInteger("rounds", options.rounds, { min: 1, max: 1e6 });
    const K = requireInteger("clientsPerRound", options.clientsPerRound, { min: 1, max: 1e6 });
    const M = requireInteger("minClients", options.minClients, { min: 1, max: K });
    requireOneOf("dp", options.dp, SERVICE_DP_MODES);
    if (options.roundTimeoutMs !== undefined) requirePositive("roundTimeoutMs", options.roundTimeoutMs);
    if (options.selectionWindowMs !== undefined) requireNonNegative("selectionWindowMs", options.selectionWindowMs);
    if (options.dp !== "none") {
      requirePositive("noiseMultiplier", options.noiseMultiplier);
      requirePositive("l2NormClip", options.l2NormClip);
    }
    if (options.secureAggregation) {
      if (options.dp !== "client")
        throw new DpError(
          "invalid_parameter",
          '`secureAggregation` needs dp "client" (clients clip and noise; the server sees only the sum).',
          "secureAggregation",
        );
      if (M < 2) throw new DpError("invalid_parameter", "`minClients` must be >= 2 with secure aggregation. Found 1.", "minClients");
    }
    if (options.targetEpsilon !== undefined) {
      if (options.dp === "none") throw new DpError("invalid_parameter", "`targetEpsilon` needs dp server or client.", "targetEpsilon");
      requirePositive("targetEpsilon", options.targetEpsilon);
    }
    const delta = requireOpenProbability("delta", options.delta ?? 1e-5);
    const store = await ServiceStore.open(options.db);
    try {
      const config = {
        model: { name: options.model.name, dimension: options.model.dimension },
        clientsPerRound: K,
        minClients: M,
        dp: options.dp,
        noiseMultiplier: options.dp === "none" ? null : options.noiseMultiplier,
        l2NormClip: options.dp === "none" ? null : options.l2NormClip,
        secureAggregation: Boolean(options.secureAggregation),
        targetEpsilon: options.targetEpsilon ?? null,
        delta,
        training: options.training,
        rounds: options.rounds,
      };
      const stored = store.ensurePopulation(population, config, [
        "model",
        "clientsPerRound",
        "minClients",
        "dp",
        "noiseMultiplier",
        "l2NormClip",
        "secureAggregation",
        "targetEpsilon",
        "delta",
      ]);
      store.ensureInitialCheckpoint(population, options.initialWeights, Date.now());
      store.putTask(`${population}/train`, population, { model: options.model, training: options.training });
      const interrupted = store.abandonInterrupted(population, "server restarted; the interrupted round released nothing", Date.now());
      let budget: SqlitePrivacyBudget | undefined;
      if (options.dp !== "none") {
        budget = await openSqlitePrivacyBudget({
          file: options.db,
          name: `federated:${population}`,
          epsilon: options.targetEpsilon ?? NO_TARGET,
          delta,
          accountant: "rdp",
          neighboringRelation: "addOrRemoveOne",
        });
      }
      const service = new FederatedService(options, store, budget, delta);
      if (interrupted > 0)
        service.logLine(`resumed: ${interrupted} interrupted attempt(s) abandoned; ${service.completed} round(s) completed`);
      if (stored.status === "done" && service.completed < options.rounds && stored.stoppedBy === "rounds")
        store.reopenPopulation(population);
      else if (stored.status === "done") {
        service.isDone = true;
        service.stoppedBy = (stored.stoppedBy as ServiceStatus["stoppedBy"]) ?? "rounds";
      }
      service.startNextRound();
      service.timer = setInterval(() => service.tick(), service.o.tickMs);
      (service.timer as { unref?: () => void }).unref?.();
      return service;
    } catch (e) {
      store.close();
      throw e;
    }
  }

  private logLine(line: string): void {
    this.o.log?.(`[${this.population}] ${line}`);
  }

  /** Completed rounds. */
  get roundsCompleted(): number {
    return this.completed;
  }

  /** The current global weights (a copy). */
  get globalWeights(): Float32Array {
    return this.weights.slice();
  }

  /** Whether the population is finished. */
  get done(): boolean {
    return this.isDone;
  }

  /** Resolves when the population is finished (rounds done or budget reached). */
  whenDone(): Promise<void> {
    if (this.isDone) return Promise.resolve();
    return new Promise((resolve) => this.doneWaiters.push(resolve));
  }

  /** Resolves when the current attempt ends (completed or abandoned). */
  whenRoundEnds(): Promise<void> {
    return new Promise((resolve) => this.roundWaiters.push(resolve));
  }

  private finish(stoppedBy: "rounds" | "targetEpsilon"): void {
    if (this.isDone) return;
    this.isDone = true;
    this.stoppedBy = stoppedBy;
    this.store.finishPopulation(this.population, stoppedBy);
    this.logLine(`population done (${stoppedBy}) after ${this.completed} round(s)`);
    for (const w of this.doneWaiters.splice(0)) w();
  }

  /** The event one complete round spends (for the budget check before it starts). */
  private plannedEvent(): DpEvent | undefined {
    if (this.o.dp === "none") return undefined;
    const z = this.o.noiseMultiplier!;
    if (this.o.dp === "client" && !this.o.secureAggregation) return { kind: "gaussian", noiseMultiplier: z / 2 };
    return { kind: "gaussian", noiseMultiplier: z };
  }

  private startNextRound(): void {
    if (this.isDone || this.closed) return;
    if (this.completed >= this.o.rounds) return this.finish("rounds");
    const planned = this.plannedEvent();
    if (planned && this.budget?.wouldExceed(planned)) {
      this.logLine(`the next round would take epsilon above the target ${this.o.targetEpsilon}; stopping`);
      return this.finish("targetEpsilon");
    }
    const now = Date.now();
    const attempt = this.store.openRound(this.population, this.completed, now);
    this.active = {
      attempt,
      round: this.completed,
      phase: "selection",
      openedAt: now,
      firstCheckIn: undefined,
      reportingDeadline: Infinity,
      assignments: new Map(),
      bySlot: new Map(),
      checkpoint: this.weights.slice(),
      plans: new Map(),
      reported: new Set(),
      sum: undefined,
      weight: 0,
      lossSum: 0,
      lossCount: 0,
      stored: [],
    };
    this.logLine(`round ${this.completed} (attempt ${attempt}): selection open`);
  }

  private setPhase(r: ActiveRound, phase: RoundPhase): void {
    r.phase = phase;
    this.store.setPhase(r.attempt, phase);
    this.logLine(`round ${r.round}: phase ${phase}`);
  }

  private retryAfter(base: number): number {
    // Pace steering: spread returning clients over [base, 1.5·base) without a random source.
    this.jitter = (this.jitter + 0x9e3779b9) >>> 0;
    return Math.round(Math.max(50, base) * (1 + (this.jitter / 2 ** 32) * 0.5));
  }

  /** Advances phases whose deadline passed. Called by the timer and after every request. */
  tick(): void {
    const r = this.active;
    if (!r || this.busy || this.closed) return;
    const now = Date.now();
    try {
      if (r.phase === "selection") {
        const n = r.assignments.size;
        const windowOver = r.firstCheckIn !== undefined && now - r.firstCheckIn >= this.o.selectionWindowMs;
        if (n >= this.o.clientsPerRound || (windowOver && n >= this.o.minClients)) this.configure(r);
      } else if (r.phase === "reporting") {
        const configured = [...r.bySlot.values()].filter((a) => a.status !== "dropped" && a.status !== "rejected").length;
        if (r.reported.size >= configured || now >= r.reportingDeadline) this.closeReporting(r);
      } else if (r.secagg && r.phase.startsWith("secagg:")) {
        const s = r.secagg;
        const allIn = [...s.expected].every((slot) => s.answered.has(slot));
        if (allIn || now >= s.stageDeadline || now >= r.reportingDeadline + this.o.secAggStageTimeoutMs * 3) this.advanceSecAgg(r);
      }
    } catch (e) {
      this.abandon(r, `internal error: ${(e as Error).message}`);
    }
  }

  private configure(r: ActiveRound): void {
    const now = Date.now();
    const slots = [...r.bySlot.keys()].sort((a, b) => a - b);
    const n = slots.length;
    const z = this.o.noiseMultiplier ?? 0;
    const C = this.o.l2NormClip ?? 1;
    const M = this.o.minClients;
    let privacy: ClientPrivacyPlan = { kind: "none" };
    if (this.o.dp === "client") {
      privacy = this.o.secureAggregation
        ? { kind: "clip-distributed", l2NormClip: C, noiseStddev: (z * C) / Math.sqrt(M) }
        : { kind: "clip-local", l2NormClip: C, noiseMultiplier: z };
    }
    r.reportingDeadline = now + this.o.roundTimeoutMs;
    const base = {
      population: this.population,
      round: r.round,
      taskId: `${this.population}/train/${r.round}/${r.attempt}`,
      model: this.o.model,
      training: this.o.training,
      privacy,
      uploadLength: this.o.model.dimension,
      expectedClients: this.o.clientsPerRound,
    };
    if (this.o.secureAggregation) {
      const sparse = (this.o.secAggGraph ?? (n > 32 ? "secagg+" : "complete")) === "secagg+";
      let degree: number | undefined;
      let threshold = Math.max(secAggMinimumThreshold(n), Math.min(M, n));
      if (sparse) {
        const p = secAggPlusParameters({ clients: n, dropoutRate: 0.1 });
        if (p.degree < n - 1) {
          degree = p.degree;
          threshold = Math.min(Math.max(p.threshold, 2), degree + 1);
        }
      }
      const config: SecAggSessionConfig = {
        sessionId: randomBytes(32, this.o.rng),
        clientIds: slots,
        threshold,
        dimension: this.o.model.dimension,
        modulusBits: 32,
        degree,
      };
      const clipRange = C + (6 * z * C) / Math.sqrt(M);
      const quantizer = new SecAggQuantizer({ clipRange, modulusBits: 32, clients: n });
      const encoding: SecAggEncodingPlan = { kind: "quantizer", clipRange, scale: quantizer.scale, modulusBits: 32, clients: n };
      r.secagg = {
        server: new SecAggServer({ config, rng: this.o.rng }),
        config,
        encoding,
        quantizer,
        expected: new Set(slots),
        answered: new Set(),
        outbox: new Map(),
        stageDeadline: r.reportingDeadline,
        cpuMs: 0,
      };
      for (const slot of slots)
        r.plans.set(slot, { ...base, deadlineMs: this.o.roundTimeoutMs, secagg: { config, clientId: slot, encoding } });
      this.setPhase(r, "secagg:advertiseKeys");
    } else {
      for (const slot of slots) r.plans.set(slot, { ...base, deadlineMs: this.o.roundTimeoutMs });
      this.setPhase(r, "reporting");
    }
    this.logLine(
      `round ${r.round}: configured ${n} client(s)${r.secagg ? ` (secure aggregation, threshold ${r.secagg.config.threshold}${r.secagg.config.degree ? `, degree ${r.secagg.config.degree}` : ""})` : ""}`,
    );
  }

  private context(r: ActiveRound, selected: number): AggregationContext {
    return {
      round: r.round,
      dimension: this.o.model.dimension,
      totalClients: Math.max(this.o.clientsPerRound, selected),
      selectedClients: selected,
      expectedClients: this.o.clientsPerRound,
      // First-come selection is not uniform sampling: no amplification (q = 1, unwrapped below).
      selection: { kind: "poisson", samplingProbability: 1 },
    };
  }

  private closeReporting(r: ActiveRound): void {
    const n = r.reported.size;
    this.store.batch(() => {
      for (const a of r.bySlot.values())
        if (!r.reported.has(a.slot) && (a.status === "selected" || a.status === "configured"))
          this.markAssignment(a, "dropped", "no report before the deadline");
    });
    if (n < this.o.minClients) return this.abandon(r, `only ${n} report(s) arrived; the minimum is ${this.o.minClients}`);
    const ctx = this.context(r, r.bySlot.size);
    const z = this.o.noiseMultiplier ?? 0;
    const C = this.o.l2NormClip ?? 1;
    let result: AggregationResult;
    if (this.o.dp === "none") {
      const delta = new Float32Array(this.o.model.dimension);
      if (r.weight > 0) for (let i = 0; i < delta.length; i++) delta[i] = r.sum![i] / r.weight;
      result = { delta, event: nonPrivateEvent(), accepted: n, rejected: [] };
    } else if (this.o.dp === "server") {
      result = new DpFedAvgAggregator({ noiseMultiplier: z, l2NormClip: C, noisePlacement: "server", rng: this.o.rng }).aggregate(
        r.stored,
        ctx,
      );
    } else {
      result = new DpFedAvgAggregator({ noiseMultiplier: z, l2NormClip: C, noisePlacement: "client-local" }).finalizeSum(r.sum!, n, ctx);
    }
    if (r.lossCount > 0) result.info = { ...(result.info ?? {}), meanLocalLoss: r.lossSum / r.lossCount };
    r.stored = [];
    r.sum = undefined;
    this.release(
      r,
      result,
      [...r.bySlot.values()].filter((a) => a.status === "reported"),
    );
  }

  private advanceSecAgg(r: ActiveRound): void {
    const s = r.secagg!;
    const missing = [...s.expected].filter((slot) => !s.answered.has(slot));
    for (const slot of missing) {
      const a = r.bySlot.get(slot)!;
      if (a.status !== "dropped" && a.status !== "rejected") this.markAssignment(a, "dropped", `silent in ${r.phase}`);
    }
    try {
      if (r.phase === "secagg:advertiseKeys") {
        const directory = timed(s, () => s.server.closeAdvertiseKeys());
        this.nextStage(r, "secagg:shareKeys", new Map(directory.entries.map((e) => [e.id, directory as ServerSecAggMessage])));
      } else if (r.phase === "secagg:shareKeys") {
        const forwarded = timed(s, () => s.server.closeShareKeys());
        this.nextStage(r, "secagg:maskedInput", new Map(forwarded.map((m) => [m.recipient, m as ServerSecAggMessage])));
      } else if (r.phase === "secagg:maskedInput") {
        const requests = timed(s, () => s.server.closeMaskedInput());
        this.nextStage(r, "secagg:unmasking", new Map(requests.map((m) => [m.recipient, m as ServerSecAggMessage])));
      } else if (r.phase === "secagg:unmasking") {
        const out = timed(s, () => s.server.finalize());
        if (out.survivors.length < this.o.minClients)
          return this.abandon(r, `only ${out.survivors.length} secure-aggregation survivor(s); the minimum is ${this.o.minClients}`);
        const sum = s.quantizer.decodeSum(out.sum);
        const inner = new DpFedAvgAggregator({
          noiseMultiplier: this.o.noiseMultiplier!,
          l2NormClip: this.o.l2NormClip!,
          noisePlacement: "client-distributed",
          minimumClients: this.o.minClients,
        });
        const result = inner.finalizeSum(sum, out.survivors.length, this.context(r, r.bySlot.size));
        result.info = {
          ...(result.info ?? {}),
          secAggSurvivors: out.survivors.length,
          secAggThreshold: s.config.threshold,
          secAggServerCpuMs: s.cpuMs,
        };
        const survivors = new Set(out.survivors);
        this.release(
          r,
          result,
          [...r.bySlot.values()].filter((a) => survivors.has(a.slot)),
        );
      }
    } catch (e) {
      if (e instanceof DpError && e.code === "protocol_error") return this.abandon(r, `secure aggregation: ${e.message}`);
      throw e;
    }
  }

  private nextStage(r: ActiveRound, phase: RoundPhase, outbox: Map<number, ServerSecAggMessage>): void {
    const s = r.secagg!;
    s.outbox = outbox;
    s.expected = new Set(outbox.keys());
    s.answered = new Set();
    s.stageDeadline = Date.now() + this.o.secAggStageTimeoutMs;
    this.setPhase(r, phase);
  }

  private markAssignment(a: Assignment, status: Assignment["status"], reason?: string): void {
    a.status = status;
    this.store.setAssignmentStatus(a.tokenHash, status, reason, Date.now());
    if (reason && (status === "dropped" || status === "rejected")) this.logLine(`slot ${a.slot} (${a.kind}) ${status}: ${reason}`);
  }

  private endAttempt(r: ActiveRound, outcome: "completed" | "abandoned", accepted: number, reason: string): void {
    for (const a of r.assignments.values())
      this.finishedAttempts.set(a.tokenHash, { attempt: r.attempt, round: r.round, outcome, accepted, reason });
    // Keep the answers for the last few thousand tokens only (bounded memory).
    if (this.finishedAttempts.size > 20_000) {
      const drop = this.finishedAttempts.size - 20_000;
      let i = 0;
      for (const k of this.finishedAttempts.keys()) {
        if (i++ >= drop) break;
        this.finishedAttempts.delete(k);
      }
    }
    this.active = undefined;
    r.stored = [];
    r.sum = undefined;
    r.secagg = undefined;
    for (const w of this.roundWaiters.splice(0)) w();
  }

  private abandon(r: ActiveRound, reason: string, next = true): void {
    this.store.abandonRound(r.attempt, reason, Date.now());
    r.phase = "abandoned";
    this.logLine(`round ${r.round} (attempt ${r.attempt}) abandoned, nothing released: ${reason}`);
    this.endAttempt(r, "abandoned", 0, reason);
    if (next) this.startNextRound();
  }

  /** Spends in the ledger, then commits the round (checkpoint); the commit is the release. */
  private release(r: ActiveRound, result: AggregationResult, accepted: Assignment[]): void {
    const event = result.event;
    let ledgerSpendId: number | null = null;
    if (this.budget) {
      if (this.budget.wouldExceed(event)) {
        this.abandon(
          r,
          `the ledger refuses the round's event (${JSON.stringify(event)}): it would exceed the target epsilon ${this.o.targetEpsilon}`,
          false,
        );
        return this.finish("targetEpsilon");
      }
      this.budget.spend(event);
      ledgerSpendId = this.store.lastLedgerId(this.budget.name);
    }
    const weights = this.weights.slice();
    for (let i = 0; i < weights.length; i++) weights[i] += result.delta[i];
    const events = this.completedEvents();
    events.push(event);
    const epsilon = this.budget ? epsilonOfEvents(events, this.delta) : null;
    const metrics: Record<string, number> = { ...(result.info ?? {}) };
    this.store.completeRound({
      population: this.population,
      attempt: r.attempt,
      round: r.round,
      accepted: accepted.length,
      event,
      epsilon,
      ledgerSpendId,
      weights,
      metrics,
      now: Date.now(),
    });
    this.store.batch(() => {
      for (const a of accepted) {
        this.markAssignment(a, "accepted");
        this.recentClients.push({ round: r.round, kind: a.kind });
      }
    });
    if (this.recentClients.length > 1000) this.recentClients.splice(0, this.recentClients.length - 1000);
    this.weights = weights;
    this.completed = r.round + 1;
    r.phase = "completed";
    this.logLine(
      `round ${r.round} completed: ${accepted.length} client(s)${epsilon === null ? "" : `, epsilon ${epsilon.toFixed(4)} at delta ${this.delta}`}`,
    );
    this.endAttempt(r, "completed", accepted.length, "");
    const evaluate = this.o.evaluate;
    if (evaluate) {
      this.busy = true;
      Promise.resolve()
        .then(() => evaluate(weights, r.round))
        .then((m) => {
          if (!this.closed) this.store.putMetrics(this.population, r.round, m);
        })
        .catch((e: unknown) => this.logLine(`evaluation failed: ${(e as Error)?.message ?? String(e)}`))
        .finally(() => {
          this.busy = false;
          this.startNextRound();
        });
    } else this.startNextRound();
  }

  private completedEvents(): DpEvent[] {
    return this.store
      .rounds(this.population)
      .filter((x) => x.phase === "completed" && x.event !== null)
      .map((x) => JSON.parse(x.event!) as DpEvent);
  }

  private refuse(code: ProtocolErrorCode, reason: string): never {
    throw new Refusal(code, reason);
  }

  private assignmentFor(token: string | undefined, round: number): { r: ActiveRound; a: Assignment } | ServerMessage {
    if (!token) this.refuse("unauthorized", "this request needs the bearer token from check-in");
    const h = hashToken(token);
    const r = this.active;
    const a = r?.assignments.get(h);
    if (!r || !a) {
      const past = this.finishedAttempts.get(h);
      if (past) {
        if (past.round !== round) this.refuse("conflict", `the token is for round ${past.round}, not ${round}`);
        return past.outcome === "completed"
          ? { type: "complete", round: past.round, accepted: past.accepted }
          : { type: "abandoned", round: past.round, reason: past.reason };
      }
      this.refuse("unauthorized", "unknown or expired token (check in again)");
    }
    if (r.round !== round) this.refuse("conflict", `the token is for round ${r.round}, not ${round}`);
    a.lastSeen = Date.now();
    return { r, a };
  }

  /**
   * Handles one request (see {@link FederatedRequestHandler}): validates the body, checks the
   * token and the phase, changes state, answers. Never throws: a refusal is an `error` message.
   */
  handle(path: string, body: unknown, token: string | undefined, bodyBytes?: number): ServerMessage {
    this.requests++;
    if (bodyBytes !== undefined) this.bytesReceived += bodyBytes;
    try {
      if (this.closed) this.refuse("gone", "the server is shutting down");
      let message;
      try {
        message = validateClientMessage(body, this.limits);
      } catch (e) {
        this.refuse("bad_request", (e as Error).message);
      }
      if (message.type !== path) this.refuse("bad_request", `a ${message.type} message was sent to /v1/${path}`);
      let answer: ServerMessage;
      switch (message.type) {
        case "checkIn":
          answer = this.checkIn(message.population, message.clientKind, message.label);
          break;
        case "poll":
          answer = this.poll(token, message.round);
          break;
        case "report":
          answer = this.report(token, message.round, message.update, message.numExamples, message.meanLoss);
          break;
        case "secagg":
          answer = this.secagg(token, message.round, message.message);
          break;
      }
      this.tick();
      return answer;
    } catch (e) {
      if (e instanceof Refusal) return { type: "error", code: e.code, reason: e.message } satisfies ErrorResponse;
      this.logLine(`internal error: ${(e as Error)?.stack ?? String(e)}`);
      return { type: "error", code: "internal", reason: "internal error" };
    }
  }

  private checkIn(population: string, kind: ClientKind, label: string | undefined): ServerMessage {
    if (population !== this.population) this.refuse("not_found", `unknown population ${JSON.stringify(population)}`);
    if (this.isDone)
      return { type: "done", reason: this.stoppedBy === "targetEpsilon" ? "the privacy budget is spent" : "all rounds are complete" };
    const r = this.active;
    if (!r || this.busy) return { type: "retry", retryAfterMs: this.retryAfter(500), reason: "between rounds" };
    if (r.phase !== "selection" || r.assignments.size >= this.o.clientsPerRound) {
      const left = Number.isFinite(r.reportingDeadline) ? r.reportingDeadline - Date.now() : this.o.roundTimeoutMs;
      return {
        type: "retry",
        retryAfterMs: this.retryAfter(Math.min(Math.max(left, 200), 30_000) / 4),
        reason: `round ${r.round} is in ${r.phase}`,
      };
    }
    const token = hex(randomBytes(32, this.o.rng));
    const tokenHash = hashToken(token);
    const slot = r.assignments.size + 1;
    const a: Assignment = { tokenHash, slot, kind, label, status: "selected", lastSeen: Date.now() };
    r.assignments.set(tokenHash, a);
    r.bySlot.set(slot, a);
    r.firstCheckIn ??= Date.now();
    this.store.putAssignment(
      { tokenHash, population: this.population, attempt: r.attempt, slot, clientKind: kind, label, status: "selected" },
      Date.now(),
    );
    return { type: "assigned", token, population: this.population, round: r.round, retryAfterMs: 100 };
  }

  private poll(token: string | undefined, round: number): ServerMessage {
    const found = this.assignmentFor(token, round);
    if (!("r" in found)) return found;
    const { r, a } = found;
    if (a.status === "dropped" || a.status === "rejected") this.refuse("gone", `this client was ${a.status} from round ${r.round}`);
    // Pace steering of polls: about one poll per client per (clients in the round) ms, 100 ms to 2 s.
    const pace = Math.min(2000, Math.max(100, r.assignments.size));
    const wait = (ms = pace): ServerMessage => ({ type: "wait", phase: r.phase, retryAfterMs: this.retryAfter(ms) });
    if (r.phase === "selection") return wait();
    const planFor = (): ServerMessage => {
      if (a.status === "selected") this.markAssignment(a, "configured");
      const plan = { ...r.plans.get(a.slot)!, deadlineMs: Math.max(0, r.reportingDeadline - Date.now()) };
      return { type: "plan", plan, checkpoint: r.checkpoint };
    };
    if (r.phase === "reporting") return r.reported.has(a.slot) ? wait() : planFor();
    const s = r.secagg;
    if (!s) return wait();
    if (r.phase === "secagg:advertiseKeys") return s.answered.has(a.slot) ? wait() : planFor();
    if (!s.expected.has(a.slot)) this.refuse("gone", `this client dropped out of round ${r.round}'s secure aggregation`);
    if (s.answered.has(a.slot)) return wait();
    const m = s.outbox.get(a.slot);
    return m ? { type: "secagg", round: r.round, message: m } : wait();
  }

  private report(
    token: string | undefined,
    round: number,
    update: Float32Array,
    numExamples: number,
    meanLoss: number | undefined,
  ): ServerMessage {
    const found = this.assignmentFor(token, round);
    if (!("r" in found)) this.refuse("gone", `round ${round} is over`);
    const { r, a } = found;
    if (r.secagg) this.refuse("conflict", "this round runs secure aggregation: send secagg messages, never a plain update");
    if (r.phase !== "reporting") this.refuse("conflict", `round ${r.round} is in ${r.phase}, not reporting`);
    if (a.status === "dropped" || a.status === "rejected") this.refuse("gone", `this client was ${a.status}`);
    if (r.reported.has(a.slot) || a.status === "reported")
      this.refuse("conflict", "this assignment has already reported (replayed token?)");
    if (update.length !== this.o.model.dimension) {
      this.markAssignment(a, "rejected", `update has ${update.length} entries, expected ${this.o.model.dimension}`);
      this.refuse("bad_request", `the update must have ${this.o.model.dimension} entries. Found ${update.length}.`);
    }
    if (this.o.dp === "server") r.stored.push({ clientId: `slot-${a.slot}`, delta: update, numExamples });
    else {
      const sum = (r.sum ??= new Float64Array(this.o.model.dimension));
      const w = this.o.dp === "none" ? numExamples : 1;
      for (let i = 0; i < sum.length; i++) sum[i] += w * update[i];
      r.weight += w;
    }
    if (meanLoss !== undefined) {
      r.lossSum += meanLoss;
      r.lossCount++;
    }
    r.reported.add(a.slot);
    this.markAssignment(a, "reported");
    return { type: "ack", retryAfterMs: this.retryAfter(Math.min(2000, Math.max(100, r.assignments.size))) };
  }

  private secagg(token: string | undefined, round: number, message: ClientSecAggMessage): ServerMessage {
    const found = this.assignmentFor(token, round);
    if (!("r" in found)) this.refuse("gone", `round ${round} is over`);
    const { r, a } = found;
    const s = r.secagg;
    if (!s) this.refuse("conflict", "this round does not run secure aggregation");
    if (message.sender !== a.slot) this.refuse("conflict", `this token is for client ${a.slot}, not ${message.sender}`);
    const want = {
      advertiseKeys: "secagg:advertiseKeys",
      shareKeys: "secagg:shareKeys",
      maskedInput: "secagg:maskedInput",
      unmaskingResponse: "secagg:unmasking",
    }[message.stage];
    if (r.phase !== want) this.refuse("conflict", `a ${message.stage} message in phase ${r.phase}`);
    if (!s.expected.has(a.slot)) this.refuse("gone", `this client dropped out of round ${r.round}'s secure aggregation`);
    if (s.answered.has(a.slot)) this.refuse("conflict", `repeated ${message.stage} (replayed token?)`);
    try {
      timed(s, () => s.server.receive(message));
    } catch (e) {
      this.markAssignment(a, "rejected", (e as Error).message);
      s.expected.delete(a.slot);
      this.refuse("bad_request", (e as Error).message);
    }
    s.answered.add(a.slot);
    if (message.stage === "maskedInput") this.markAssignment(a, "reported");
    return { type: "ack", retryAfterMs: this.retryAfter(Math.min(2000, Math.max(100, r.assignments.size))) };
  }

  /** The JSON of `GET /status` (and of `dpkit server --json` at the end); recomputed at most every 250 ms. */
  status(): ServiceStatus {
    const now = Date.now();
    if (
      this.statusCache &&
      now - this.statusCache.at < 250 &&
      this.statusCache.completed === this.completed &&
      this.statusCache.value.done === this.isDone &&
      !this.closed
    ) {
      return {
        ...this.statusCache.value,
        phase: this.isDone ? "done" : (this.active?.phase ?? "idle"),
        bytesReceived: this.bytesReceived,
        requests: this.requests,
        serverCpuMs: cpuMs() - this.cpuAtOpen,
      };
    }
    const value = this.computeStatus();
    this.statusCache = { at: now, completed: this.completed, value };
    return value;
  }

  private computeStatus(): ServiceStatus {
    const rows = this.store.rounds(this.population);
    const history: ServiceRoundStatus[] = rows
      .filter((x) => x.phase === "completed")
      .map((x) => {
        const clients: Record<ClientKind, number> = { node: 0, browser: 0 };
        for (const c of x.clients) if (c.status === "accepted") clients[c.kind as ClientKind] = (clients[c.kind as ClientKind] ?? 0) + 1;
        return {
          round: x.round,
          accepted: x.accepted,
          seconds: ((x.closedAt ?? x.openedAt) - x.openedAt) / 1000,
          event: JSON.parse(x.event ?? '{"kind":"noOp"}') as DpEvent,
          testAccuracy: x.metrics.accuracy ?? null,
          epsilon: x.epsilon,
          clients,
          metrics: x.metrics,
        };
      });
    const last = history[history.length - 1];
    let ledgerEpsilon: number | null = null;
    if (this.budget && !this.closed) ledgerEpsilon = this.budget.spent().epsilon;
    return {
      population: this.population,
      rounds: this.completed,
      targetRounds: this.o.rounds,
      done: this.isDone,
      stoppedBy: this.stoppedBy,
      phase: this.isDone ? "done" : (this.active?.phase ?? "idle"),
      dp: this.o.dp,
      secureAggregation: Boolean(this.o.secureAggregation),
      noiseMultiplier: this.o.dp === "none" ? null : this.o.noiseMultiplier!,
      l2NormClip: this.o.dp === "none" ? null : this.o.l2NormClip!,
      history,
      abandoned: rows.filter((x) => x.phase === "abandoned").map((x) => ({ round: x.round, reason: x.reason ?? "" })),
      epsilon: this.budget ? (last?.epsilon ?? 0) : null,
      ledgerEpsilon,
      delta: this.budget ? this.delta : null,
      targetEpsilon: this.o.targetEpsilon ?? null,
      clients: this.recentClients.slice(),
      bytesReceived: this.bytesReceived,
      requests: this.requests,
      serverCpuMs: cpuMs() - this.cpuAtOpen,
    };
  }

  /** Stops the timer and closes the database and ledger (an open round is left to be abandoned on the next start). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.budget?.close();
    this.store.close();
    for (const w of this.doneWaiters.splice(0)) w();
    for (const w of this.roundWaiters.splice(0)) w();
  }
}

/**
 * Client-level ε of a list of round events (RDP accountant, add/remove one client).
 * @param events - the completed rounds' events
 * @param delta - δ
 * @returns ε
 * @example
 * ```ts
 * import { epsilonOfEvents } from "dpkit/federated";
 * epsilonOfEvents([{ kind: "gaussian", noiseMultiplier: 1 }], 1e-5);
 * ```
 */
export function epsilonOfEvents(events: readonly DpEvent[], delta: number): number {
  const acc = new RdpAccountant({ neighboringRelation: "addOrRemoveOne" });
  if (events.length > 0) acc.compose(composedEvent([...events]));
  return acc.getEpsilon(delta);
}
