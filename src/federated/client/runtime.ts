/**
 * The federated client runtime (Bonawitz et al. 2019, the device side): check in, wait when the
 * server says to come back later (pace steering), receive the plan and the checkpoint, train
 * locally on the user's tfjs model from the on-device example store, privatise the update in
 * this process (clip, noise, secure-aggregation masking), upload, and repeat until the server
 * says the population is done. The same code runs in Node and in a browser page; only the
 * transport and the example store differ.
 *
 * @see K. Bonawitz et al., "Towards Federated Learning at Scale: System Design", SysML 2019.
 * @module
 */
import type * as tf from "@tensorflow/tfjs";
import { DpError, requireObject } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import type {
  ClientKind,
  ClientMessage,
  ModelSpec,
  PlanResponse,
  ServerMessage,
  ServerSecAggMessage,
  TaskPlan,
} from "../protocol/messages.js";
import { PROTOCOL_VERSION } from "../protocol/messages.js";
import type { FederatedTransport } from "../protocol/transport.js";
import { validateServerMessage } from "../protocol/validate.js";
import { SecAggClient } from "../secagg/client.js";
import type { ClientSecAggMessage } from "../protocol/messages.js";
import { readExamples, type ExampleSelector, type ExampleStore } from "./example-store.js";
import { softmaxCrossEntropyLoss, trainLocalUpdate, type FederatedLoss } from "./local-training.js";
import { encodeForSecureAggregation, privatizeUpdate } from "./privatize.js";
import { flattenWeights } from "./weights.js";

/** The states a client reports (what the browser page shows). */
export type FederatedClientState =
  "checking-in" | "waiting" | "training" | "uploading" | "uploaded" | "complete" | "abandoned" | "done" | "failed";

/** One state change, with what the client knows at that moment. */
export interface FederatedClientEvent {
  state: FederatedClientState;
  /** The round, when known. */
  round?: number;
  /** A human-readable detail (the server's reason, the retry delay, the loss …). */
  detail?: string;
  /** Milliseconds since {@link FederatedClient.run} started. */
  atMs: number;
}

/** Timings and outcome of one round the client took part in. */
export interface FederatedClientRound {
  round: number;
  /** "complete" (the server aggregated), "abandoned" (nothing released), "dropped" (this client left the round). */
  outcome: "complete" | "abandoned" | "dropped";
  /** Examples trained on. */
  numExamples: number;
  /** From assignment to the plan (configuration). */
  waitMs: number;
  /** Local training. */
  trainMs: number;
  /** Privatisation (clip, noise, encode) and masking, on this device. */
  privatizeMs: number;
  /** From the end of training until the upload was acknowledged (includes the secure-aggregation rounds). */
  uploadMs: number;
  /** From assignment to the end of the round. */
  roundMs: number;
  /** Mean local training loss (stays on the device). */
  meanLoss: number;
  /** ‖Δ‖₂ of the raw local update, before clipping (stays on the device unless the caller prints it). */
  updateNorm?: number;
  /** Whether the update was scaled down to the plan's clip. */
  clipped?: boolean;
  /** What this client's privacy plan was (clip, noise share), for the record. */
  privacy?: string;
  /** Why the client dropped, when it did. */
  reason?: string;
}

/** What {@link FederatedClient.run} returns. */
export interface FederatedClientSummary {
  /** Why the client stopped: the server's "done" reason, or the limit reached. */
  reason: string;
  /** Rounds this client took part in. */
  rounds: FederatedClientRound[];
  /** Check-ins answered "retry" (pace steering). */
  retries: number;
  /** Total run time. */
  ms: number;
}

/** What a custom trainer returns: the raw local delta (it is privatised by the runtime, never uploaded as is). */
export interface LocalUpdateResult {
  /** w_local − w_global, flat, length `plan.model.dimension`. */
  delta: Float32Array;
  /** Examples used. */
  numExamples: number;
  /** Mean local loss (stays on the device). */
  meanLoss?: number;
}

/** A custom local trainer (the simulator's, or a user's own training loop). */
export type PlanTrainer = (plan: TaskPlan, checkpoint: Float32Array) => Promise<LocalUpdateResult> | LocalUpdateResult;

/** Options for {@link FederatedClient}. */
export interface FederatedClientOptions {
  /** How to reach the server (HTTP or in-memory). */
  transport: FederatedTransport;
  /** The population (task family) to join. */
  population: string;
  /** "node" or "browser" (reported in the server's status). */
  clientKind: ClientKind;
  /** The on-device examples (needed unless `trainer` is given). */
  store?: ExampleStore;
  /** Which examples to train on. Default: all unexpired examples. */
  selector?: ExampleSelector;
  /** Builds the tfjs model the plan names (a fresh model or a cached one; its weights are overwritten). Needed unless `trainer` is given. */
  model?: (spec: ModelSpec) => tf.LayersModel | Promise<tf.LayersModel>;
  /**
   * Replaces the built-in training (store + model): returns the raw delta for the plan and
   * checkpoint. The runtime still privatises and masks it before upload.
   */
  trainer?: PlanTrainer;
  /** Training loss; default softmax cross-entropy on logits. */
  loss?: FederatedLoss;
  /** A label for the server's logs (never used for authentication). */
  label?: string;
  /** Randomness for shuffling, noise, rounding and secure-aggregation keys. Default: the platform CSPRNG. A seeded Rng is **insecure** and refused for noise unless `allowInsecureRng`. */
  rng?: Rng;
  /** Accept a seeded `rng` for this client's noise: a reproducible test, NOT private. Default false. */
  allowInsecureRng?: boolean;
  /** Stop after taking part in this many rounds. Default: until the server says done. */
  maxRounds?: number;
  /** Give up after this long in total (ms). Default 1 hour. */
  timeoutMs?: number;
  /** Longest sleep the client accepts from a server's retry hint (ms). Default 30,000. */
  maxRetryAfterMs?: number;
  /** Shortest sleep between polls (ms). Default 20. */
  minPollMs?: number;
  /** Consecutive unreachable-server failures tolerated before giving up. Default 30. */
  maxConsecutiveFailures?: number;
  /** State changes (for a page or a log). */
  onEvent?: (event: FederatedClientEvent) => void;
  /**
   * Called on the device with the privatised upload (clipped and noised; before secure-aggregation
   * encoding and masking), e.g. for a test that checks the released aggregate against it.
   */
  onUpload?: (info: { round: number; upload: Float32Array }) => void;
  /** Stops the client between steps. */
  signal?: AbortSignal;
}

/** Why a round ended early. */
class RoundEnd {
  constructor(
    readonly outcome: "complete" | "abandoned" | "dropped" | "done",
    readonly reason: string,
  ) {}
}

/**
 * A federated client (exported from `dpkit/federated` as `FederatedClientRuntime`, since
 * `FederatedClient` there names the simulator's client interface): {@link FederatedClient.run} takes part in rounds until the server says
 * the population is done.
 *
 * @remarks
 * Trust boundary: the raw model delta never leaves this object. Before any upload it is
 * clipped and noised as the plan's {@link ClientPrivacyPlan} says ({@link privatizeUpdate}),
 * and under secure aggregation encoded and masked by a {@link SecAggClient} owned by this
 * client: the server receives only masked integers and, at the end, the sum. Every server reply
 * is validated ({@link validateServerMessage}); a malformed one stops the client with a
 * `protocol_error` DpError. Waiting is bounded by `timeoutMs` and every sleep by
 * `maxRetryAfterMs`.
 *
 * @example
 * ```ts
 * import * as tf from "@tensorflow/tfjs";
 * import { FederatedClientRuntime, HttpTransport, openSqliteExampleStore } from "dpkit/federated";
 * const store = await openSqliteExampleStore({ file: "examples.db", featureLength: 784 });
 * const client = new FederatedClientRuntime({
 *   transport: new HttpTransport({ baseUrl: "http://127.0.0.1:8080" }),
 *   population: "mnist", clientKind: "node", store,
 *   model: () => tf.sequential({ layers: [tf.layers.dense({ units: 10, inputShape: [784] })] }),
 * });
 * const summary = await client.run();
 * ```
 * @see K. Bonawitz et al., SysML 2019.
 */
export class FederatedClient {
  private readonly o: FederatedClientOptions;
  private readonly timeoutMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly minPollMs: number;
  private readonly maxFailures: number;
  private t0 = 0;
  private failures = 0;
  private retries = 0;
  private lastNetworkError: string | undefined;

  /**
   * @param options - see {@link FederatedClientOptions}
   * @throws {@link DpError} `invalid_parameter` for bad options
   */
  constructor(options: FederatedClientOptions) {
    requireObject("options", options);
    if (!options.transport || typeof options.transport.request !== "function")
      throw new DpError("invalid_parameter", "`transport` must have a `request` method.", "transport");
    if (typeof options.population !== "string" || options.population.length === 0) {
      throw new DpError(
        "invalid_parameter",
        `\`population\` must be a non-empty string. Found ${String(options.population)}.`,
        "population",
      );
    }
    if (options.clientKind !== "node" && options.clientKind !== "browser") {
      throw new DpError(
        "invalid_parameter",
        `\`clientKind\` must be "node" or "browser". Found ${String(options.clientKind)}.`,
        "clientKind",
      );
    }
    if (options.trainer !== undefined) {
      if (typeof options.trainer !== "function") throw new DpError("invalid_parameter", "`trainer` must be a function.", "trainer");
    } else {
      if (!options.store || typeof options.store.examples !== "function")
        throw new DpError("invalid_parameter", "`store` must be an ExampleStore.", "store");
      if (typeof options.model !== "function")
        throw new DpError("invalid_parameter", "`model` must be a function of the plan's model spec.", "model");
    }
    const num = (name: string, v: number | undefined, dflt: number, min: number): number => {
      const x = v ?? dflt;
      if (!(typeof x === "number" && x >= min && !Number.isNaN(x)))
        throw new DpError("invalid_parameter", `\`${name}\` must be >= ${min}. Found ${String(v)}.`, name);
      return x;
    };
    this.timeoutMs = num("timeoutMs", options.timeoutMs, 3_600_000, 1);
    this.maxRetryAfterMs = num("maxRetryAfterMs", options.maxRetryAfterMs, 30_000, 0);
    this.minPollMs = num("minPollMs", options.minPollMs, 20, 0);
    this.maxFailures = num("maxConsecutiveFailures", options.maxConsecutiveFailures, 30, 0);
    if (options.maxRounds !== undefined) num("maxRounds", options.maxRounds, 0, 1);
    this.o = options;
  }

  private emit(state: FederatedClientState, round?: number, detail?: string): void {
    this.o.onEvent?.({ state, round, detail, atMs: Math.round(performance.now() - this.t0) });
  }

  private checkTime(): void {
    if (this.o.signal?.aborted) throw new DpError("invalid_state", "The federated client was stopped.");
    if (performance.now() - this.t0 > this.timeoutMs) {
      const why = this.failures > 0 && this.lastNetworkError ? ` (last error: ${this.lastNetworkError})` : "";
      throw new DpError(
        "io_error",
        `The federated client gave up after ${this.timeoutMs} ms without the server finishing the population${why}.`,
        "timeoutMs",
      );
    }
  }

  private async sleep(ms: number): Promise<void> {
    this.checkTime();
    const remaining = this.timeoutMs - (performance.now() - this.t0);
    const t = Math.max(this.minPollMs, Math.min(ms, this.maxRetryAfterMs, remaining + 1));
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, t);
      this.o.signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
    this.checkTime();
  }

  /** One request: validated answer; unreachable server → retried after a back-off (bounded). */
  private async send(message: ClientMessage, token?: string): Promise<ServerMessage> {
    for (;;) {
      this.checkTime();
      let raw: ServerMessage;
      try {
        raw = await this.o.transport.request(message, token);
      } catch (e) {
        if (e instanceof DpError && e.code === "io_error" && this.failures < this.maxFailures) {
          this.failures++;
          this.lastNetworkError = e.message;
          await this.sleep(Math.min(200 * 2 ** Math.min(this.failures, 6), 10_000));
          continue;
        }
        throw e;
      }
      this.failures = 0;
      try {
        return validateServerMessage(raw);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        throw new DpError("protocol_error", `The server's answer to ${message.type} is malformed: ${why}`, "response");
      }
    }
  }

  /**
   * Takes part in rounds until the server says the population is done (or `maxRounds`).
   * @returns what happened in each round and why the client stopped
   * @throws {@link DpError} `protocol_error` for a malformed server answer or an unusable plan,
   *   `io_error` when the server stays unreachable or `timeoutMs` passes
   */
  async run(): Promise<FederatedClientSummary> {
    this.t0 = performance.now();
    const rounds: FederatedClientRound[] = [];
    let reason = "";
    try {
      for (;;) {
        if (this.o.maxRounds !== undefined && rounds.length >= this.o.maxRounds) {
          reason = `took part in ${rounds.length} rounds (maxRounds)`;
          break;
        }
        this.emit("checking-in");
        const numExamples = this.o.store ? await this.o.store.count(this.o.selector) : undefined;
        const answer = await this.send({
          type: "checkIn",
          protocol: PROTOCOL_VERSION,
          population: this.o.population,
          clientKind: this.o.clientKind,
          numExamples,
          label: this.o.label,
        });
        if (answer.type === "done") {
          reason = answer.reason;
          break;
        }
        if (answer.type === "retry") {
          this.retries++;
          this.emit("waiting", undefined, `come back in ${answer.retryAfterMs} ms: ${answer.reason}`);
          await this.sleep(answer.retryAfterMs);
          continue;
        }
        if (answer.type === "error")
          throw new DpError("protocol_error", `The server refused the check-in (${answer.code}): ${answer.reason}`, "checkIn");
        if (answer.type !== "assigned")
          throw new DpError("protocol_error", `Unexpected answer "${answer.type}" to a check-in.`, "response");
        const r = await this.round(answer.token, answer.round, answer.retryAfterMs);
        if (r === "done") {
          reason = "the server finished the population";
          break;
        }
        rounds.push(r);
      }
    } catch (e) {
      this.emit("failed", undefined, e instanceof Error ? e.message : String(e));
      throw e;
    }
    this.emit("done", undefined, reason);
    return { reason, rounds, retries: this.retries, ms: performance.now() - this.t0 };
  }

  /** Polls until something other than "wait" arrives. */
  private async pollPastWait(token: string, round: number, retryAfterMs: number): Promise<ServerMessage> {
    let delay = retryAfterMs;
    for (;;) {
      await this.sleep(delay);
      const m = await this.send({ type: "poll", round }, token);
      if (m.type !== "wait") return m;
      delay = m.retryAfterMs;
    }
  }

  private roundEndFor(m: ServerMessage, expecting: string): RoundEnd {
    switch (m.type) {
      case "complete":
        return new RoundEnd("complete", `aggregated ${m.accepted} updates`);
      case "abandoned":
        return new RoundEnd("abandoned", m.reason);
      case "done":
        return new RoundEnd("done", m.reason);
      case "error":
        if (m.code === "unauthorized" || m.code === "gone" || m.code === "conflict")
          return new RoundEnd("dropped", `${m.code}: ${m.reason}`);
        throw new DpError("protocol_error", `The server refused a request (${m.code}): ${m.reason}`, "response");
      default:
        throw new DpError("protocol_error", `Unexpected answer "${m.type}" while ${expecting}.`, "response");
    }
  }

  private async round(token: string, round: number, retryAfterMs: number): Promise<FederatedClientRound | "done"> {
    const tAssigned = performance.now();
    const record: FederatedClientRound = {
      round,
      outcome: "dropped",
      numExamples: 0,
      waitMs: 0,
      trainMs: 0,
      privatizeMs: 0,
      uploadMs: 0,
      roundMs: 0,
      meanLoss: NaN,
    };
    const finish = (end: RoundEnd): FederatedClientRound | "done" => {
      record.roundMs = performance.now() - tAssigned;
      if (end.outcome === "done") return "done";
      record.outcome = end.outcome;
      if (end.outcome !== "complete") record.reason = end.reason;
      this.emit(end.outcome === "complete" ? "complete" : "abandoned", round, end.reason);
      return record;
    };
    this.emit("waiting", round, "selected; waiting for the plan");
    const first = await this.pollPastWait(token, round, retryAfterMs);
    if (first.type !== "plan") return finish(this.roundEndFor(first, "waiting for the plan"));
    record.waitMs = performance.now() - tAssigned;
    const plan = first.plan;
    record.privacy = describePrivacyPlan(plan);
    // Eligibility: too few examples → leave the round (the server sees a dropout).
    const selector: ExampleSelector = { ...(this.o.selector ?? {}) };
    const available = this.o.store ? await this.o.store.count(selector) : Infinity;
    if (available < plan.training.minExamples) {
      return finish(new RoundEnd("dropped", `only ${available} examples; the plan needs ${plan.training.minExamples}`));
    }
    this.emit("training", round, this.o.store ? `${available} examples` : undefined);
    const tTrain = performance.now();
    const trained = this.o.trainer ? await this.o.trainer(plan, first.checkpoint) : await this.train(first, selector);
    const { delta, numExamples } = trained;
    const meanLoss = trained.meanLoss ?? NaN;
    if (!(delta instanceof Float32Array) || delta.length !== plan.model.dimension) {
      throw new DpError(
        "invalid_parameter",
        `The trainer must return a Float32Array delta of length ${plan.model.dimension}. Found ${String((delta as { length?: number } | undefined)?.length)}.`,
        "trainer",
      );
    }
    record.trainMs = performance.now() - tTrain;
    record.numExamples = numExamples;
    record.meanLoss = meanLoss;
    const tUpload = performance.now();
    this.emit("uploading", round);
    let end: RoundEnd;
    if (!plan.secagg) {
      const tp = performance.now();
      const { upload, norm, wasClipped } = privatizeUpdate(delta, plan.privacy, this.o.rng, this.o.allowInsecureRng === true);
      record.privatizeMs = performance.now() - tp;
      record.updateNorm = norm;
      record.clipped = wasClipped;
      this.o.onUpload?.({ round, upload });
      const ack = await this.send({ type: "report", round, numExamples, update: upload }, token);
      if (ack.type !== "ack") return finish(this.roundEndFor(ack, "uploading the update"));
      record.uploadMs = performance.now() - tUpload;
      this.emit("uploaded", round);
      const last = await this.pollPastWait(token, round, ack.retryAfterMs);
      end = this.roundEndFor(last, "waiting for the round to close");
    } else {
      end = await this.secureAggregation(token, plan, delta, record, tUpload);
    }
    return finish(end);
  }

  private async train(
    planMessage: PlanResponse,
    selector: ExampleSelector,
  ): Promise<{ delta: Float32Array; numExamples: number; meanLoss: number }> {
    const { plan, checkpoint } = planMessage;
    const store = this.o.store!;
    const model = await this.o.model!(plan.model);
    const dimension = flattenWeights(model).length;
    if (dimension !== plan.model.dimension) {
      throw new DpError(
        "protocol_error",
        `The plan's model "${plan.model.name}" has ${plan.model.dimension} parameters; the local model has ${dimension}.`,
        "plan.model",
      );
    }
    const inputShape = plan.model.inputShape ?? (model.inputs[0].shape.slice(1) as number[]);
    const width = inputShape.reduce((a, b) => a * b, 1);
    if (width !== store.featureLength) {
      throw new DpError(
        "protocol_error",
        `The plan's model takes ${width} features; the example store holds ${store.featureLength}.`,
        "plan.model.inputShape",
      );
    }
    const data = await readExamples(store, selector);
    // Let a page repaint before the synchronous training loop.
    await new Promise((r) => setTimeout(r, 0));
    const r = trainLocalUpdate({
      model,
      globalWeights: checkpoint,
      data,
      inputShape,
      localEpochs: plan.training.localEpochs,
      localBatchSize: plan.training.batchSize,
      learningRate: plan.training.learningRate,
      loss: this.o.loss ?? softmaxCrossEntropyLoss,
      rng: this.o.rng,
    });
    return { delta: r.delta, numExamples: r.numExamples, meanLoss: r.meanLoss };
  }

  private async secureAggregation(
    token: string,
    plan: TaskPlan,
    delta: Float32Array,
    record: FederatedClientRound,
    tUpload: number,
  ): Promise<RoundEnd> {
    const sa = plan.secagg!;
    const round = plan.round;
    const tp = performance.now();
    let client: SecAggClient;
    let input: Uint32Array;
    try {
      client = new SecAggClient({ config: sa.config, id: sa.clientId, rng: this.o.rng });
      if (sa.config.dimension !== plan.uploadLength)
        throw new DpError("protocol_error", `secure aggregation dimension ${sa.config.dimension} != upload length ${plan.uploadLength}`);
      const { upload, norm, wasClipped } = privatizeUpdate(delta, plan.privacy, this.o.rng, this.o.allowInsecureRng === true);
      record.updateNorm = norm;
      record.clipped = wasClipped;
      this.o.onUpload?.({ round, upload });
      input = encodeForSecureAggregation(upload, sa.encoding, this.o.rng);
    } catch (e) {
      if (e instanceof DpError && e.code === "protocol_error") throw e;
      throw new DpError("protocol_error", `The plan's secure-aggregation parameters are unusable: ${(e as Error).message}`, "plan.secagg");
    }
    record.privatizeMs = performance.now() - tp;
    const upload = async (message: ClientSecAggMessage): Promise<RoundEnd | undefined> => {
      const ack = await this.send({ type: "secagg", round, message }, token);
      return ack.type === "ack" ? undefined : this.roundEndFor(ack, `sending ${message.stage}`);
    };
    let stop = await upload(client.advertiseKeys());
    if (stop) return stop;
    // Each server message is answered once, in order; the loop is bounded by the timeout and by
    // the client state machine (three answers, then only the round's end is acceptable).
    for (;;) {
      const m = await this.pollPastWait(token, round, this.minPollMs);
      if (m.type !== "secagg") return this.roundEndFor(m, `secure aggregation (stage ${client.stage})`);
      if (m.round !== round)
        throw new DpError("protocol_error", `A secure-aggregation message for round ${m.round} arrived in round ${round}.`, "response");
      const t = performance.now();
      const reply = this.answer(client, m.message, input);
      record.privatizeMs += performance.now() - t;
      stop = await upload(reply);
      if (stop) return stop;
      if (reply.stage === "maskedInput") {
        record.uploadMs = performance.now() - tUpload;
        this.emit("uploaded", round, "masked update sent");
      }
    }
  }

  private answer(client: SecAggClient, m: ServerSecAggMessage, input: Uint32Array): ClientSecAggMessage {
    switch (m.stage) {
      case "keyDirectory":
        return client.shareKeys(m);
      case "forwardedShares":
        return client.maskInput(m, input);
      case "unmaskingRequest":
        return client.unmask(m);
    }
  }
}

/** A one-line description of what a plan makes the client do to its update. @internal */
export function describePrivacyPlan(plan: TaskPlan): string {
  const p = plan.privacy;
  let text: string;
  if (p.kind === "none") text = "raw update (no client-side DP)";
  else if (p.kind === "clip-local") text = `clip ${p.l2NormClip}, local noise sd ${p.noiseMultiplier * p.l2NormClip}`;
  else if (p.kind === "clip-distributed") text = `clip ${p.l2NormClip}, noise share sd ${Number(p.noiseStddev.toPrecision(4))}`;
  else text = `clip ${p.l2NormClip}, discrete Gaussian share sd ${p.localNoiseStddev} steps of ${p.granularity}`;
  return plan.secagg
    ? `${text}, masked (secure aggregation, ${plan.secagg.config.clientIds.length} parties, threshold ${plan.secagg.config.threshold})`
    : text;
}

/**
 * Runs a {@link FederatedClient} until the server says the population is done.
 * @param options - see {@link FederatedClientOptions}
 * @returns the client's summary
 * @throws {@link DpError} as {@link FederatedClient.run}
 * @example
 * ```ts
 * import { runFederatedClient, InMemoryTransport } from "dpkit/federated";
 * declare const transport: InMemoryTransport;
 * await runFederatedClient({ transport, population: "demo", clientKind: "node",
 *   trainer: (plan) => ({ delta: new Float32Array(plan.model.dimension), numExamples: 1 }) });
 * ```
 */
export function runFederatedClient(options: FederatedClientOptions): Promise<FederatedClientSummary> {
  return new FederatedClient(options).run();
}
