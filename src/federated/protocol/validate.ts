/**
 * Validation of every protocol message at the boundary: type, fields, lengths and sizes,
 * finiteness. Called on whatever a transport decoded, before any state changes; the result is a
 * fresh object holding only the known fields.
 *
 * @module
 */
import { DpError } from "../../errors.js";
import type { EncryptedShares, RevealedShare, SecAggDirectoryEntry, SecAggSessionConfig } from "../secagg/messages.js";
import {
  CLIENT_KINDS,
  PROTOCOL_ERROR_STATUS,
  type ClientMessage,
  type ClientPrivacyPlan,
  type ClientSecAggMessage,
  type ModelSpec,
  type ProtocolErrorCode,
  type RoundPhase,
  type SecAggEncodingPlan,
  type SecAggPlan,
  type ServerMessage,
  type ServerSecAggMessage,
  type TaskPlan,
} from "./messages.js";

/** Bounds a validator enforces (the server's limits, or generous defaults on the client). */
export interface ProtocolLimits {
  /** Most entries in any tensor (update, checkpoint, masked input). Default 50,000,000. */
  maxDimension: number;
  /** Most clients in a secure-aggregation session (and ciphertexts / shares per message). Default 100,000. */
  maxClients: number;
  /** Longest string field. Default 256. */
  maxStringLength: number;
}

/** The default {@link ProtocolLimits}. */
export const DEFAULT_PROTOCOL_LIMITS: ProtocolLimits = { maxDimension: 50_000_000, maxClients: 100_000, maxStringLength: 256 };

const PHASES: readonly RoundPhase[] = [
  "selection",
  "configuration",
  "reporting",
  "secagg:advertiseKeys",
  "secagg:shareKeys",
  "secagg:maskedInput",
  "secagg:unmasking",
  "completed",
  "abandoned",
];

class Checker {
  constructor(
    readonly limits: ProtocolLimits,
    readonly what: string,
  ) {}

  fail(path: string, requirement: string, value: unknown): never {
    let shown: string;
    if (value instanceof Uint8Array || value instanceof Float32Array) shown = `${value.constructor.name}(${value.length})`;
    else if (typeof value === "string") shown = JSON.stringify(value.slice(0, 40));
    else if (Array.isArray(value)) shown = `an array of ${value.length}`;
    else if (value === null || typeof value !== "object") shown = String(value);
    else shown = "an object";
    throw new DpError("protocol_error", `${this.what}: \`${path}\` must be ${requirement}. Found ${shown}.`, path);
  }

  object(path: string, v: unknown): Record<string, unknown> {
    if (v === null || typeof v !== "object" || Array.isArray(v) || ArrayBuffer.isView(v)) this.fail(path, "an object", v);
    return v as Record<string, unknown>;
  }

  int(path: string, v: unknown, min: number, max: number): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max) this.fail(path, `an integer in [${min}, ${max}]`, v);
    return v;
  }

  num(path: string, v: unknown, min = -Infinity, max = Infinity, open = false): number {
    if (typeof v !== "number" || !Number.isFinite(v) || v < min || v > max || (open && v === min)) {
      this.fail(path, `a finite number in ${open ? "(" : "["}${min}, ${max}]`, v);
    }
    return v;
  }

  str(path: string, v: unknown, min = 0): string {
    if (typeof v !== "string" || v.length < min || v.length > this.limits.maxStringLength)
      this.fail(path, `a string of ${min} to ${this.limits.maxStringLength} characters`, v);
    return v;
  }

  oneOf<T extends string>(path: string, v: unknown, values: readonly T[]): T {
    if (typeof v !== "string" || !values.includes(v as T)) this.fail(path, `one of ${values.join(", ")}`, v);
    return v as T;
  }

  bytes(path: string, v: unknown, min: number, max: number): Uint8Array {
    if (!(v instanceof Uint8Array) || v.length < min || v.length > max) this.fail(path, `a Uint8Array of ${min} to ${max} bytes`, v);
    return v;
  }

  floats(path: string, v: unknown, finite: boolean): Float32Array {
    if (!(v instanceof Float32Array) || v.length < 1 || v.length > this.limits.maxDimension)
      this.fail(path, `a Float32Array of 1 to ${this.limits.maxDimension} entries`, v);
    if (finite) {
      for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i])) this.fail(`${path}[${i}]`, "finite", v[i]);
    }
    return v;
  }

  array(path: string, v: unknown, max: number): unknown[] {
    if (!Array.isArray(v) || v.length > max) this.fail(path, `an array of at most ${max} entries`, v);
    return v;
  }

  ids(path: string, v: unknown): number[] {
    return this.array(path, v, this.limits.maxClients).map((x, i) => this.int(`${path}[${i}]`, x, 1, 0xffffffff));
  }
}

const KEY_BYTES = 32;

function encryptedShares(c: Checker, path: string, v: unknown): EncryptedShares {
  const o = c.object(path, v);
  return {
    sender: c.int(`${path}.sender`, o.sender, 1, 0xffffffff),
    recipient: c.int(`${path}.recipient`, o.recipient, 1, 0xffffffff),
    nonce: c.bytes(`${path}.nonce`, o.nonce, 1, 64),
    ciphertext: c.bytes(`${path}.ciphertext`, o.ciphertext, 1, 4096),
  };
}

function revealed(c: Checker, path: string, v: unknown): RevealedShare {
  const o = c.object(path, v);
  return { owner: c.int(`${path}.owner`, o.owner, 1, 0xffffffff), share: c.bytes(`${path}.share`, o.share, 1, 256) };
}

function clientSecAgg(c: Checker, path: string, v: unknown): ClientSecAggMessage {
  const o = c.object(path, v);
  const stage = c.oneOf(`${path}.stage`, o.stage, ["advertiseKeys", "shareKeys", "maskedInput", "unmaskingResponse"] as const);
  const sender = c.int(`${path}.sender`, o.sender, 1, 0xffffffff);
  switch (stage) {
    case "advertiseKeys":
      return {
        stage,
        sender,
        encryptionPublicKey: c.bytes(`${path}.encryptionPublicKey`, o.encryptionPublicKey, KEY_BYTES, KEY_BYTES),
        maskingPublicKey: c.bytes(`${path}.maskingPublicKey`, o.maskingPublicKey, KEY_BYTES, KEY_BYTES),
      };
    case "shareKeys":
      return {
        stage,
        sender,
        selfMaskCommitment: c.bytes(`${path}.selfMaskCommitment`, o.selfMaskCommitment, 32, 32),
        ciphertexts: c
          .array(`${path}.ciphertexts`, o.ciphertexts, c.limits.maxClients)
          .map((x, i) => encryptedShares(c, `${path}.ciphertexts[${i}]`, x)),
      };
    case "maskedInput":
      return { stage, sender, maskedInput: c.bytes(`${path}.maskedInput`, o.maskedInput, 1, 4 * c.limits.maxDimension) };
    case "unmaskingResponse":
      return {
        stage,
        sender,
        selfMaskShares: c
          .array(`${path}.selfMaskShares`, o.selfMaskShares, c.limits.maxClients)
          .map((x, i) => revealed(c, `${path}.selfMaskShares[${i}]`, x)),
        keyShares: c.array(`${path}.keyShares`, o.keyShares, c.limits.maxClients).map((x, i) => revealed(c, `${path}.keyShares[${i}]`, x)),
      };
  }
}

/**
 * Checks a message a client sent (server side): its type, every field's type and range, every
 * byte length against `limits`, and finiteness of float tensors.
 *
 * @param value - the decoded body (untrusted)
 * @param limits - bounds; default {@link DEFAULT_PROTOCOL_LIMITS}
 * @returns a clean copy holding only the known fields
 * @throws {@link DpError} `protocol_error` naming the field and what was found
 * @example
 * ```ts
 * import { validateClientMessage } from "dpkit/federated";
 * validateClientMessage({ type: "poll", round: 0 }); // { type: "poll", round: 0 }
 * ```
 */
export function validateClientMessage(value: unknown, limits: ProtocolLimits = DEFAULT_PROTOCOL_LIMITS): ClientMessage {
  const c = new Checker(limits, "client message");
  const o = c.object("message", value);
  const type = c.oneOf("type", o.type, ["checkIn", "poll", "report", "secagg"] as const);
  switch (type) {
    case "checkIn": {
      const out: ClientMessage = {
        type,
        protocol: c.int("protocol", o.protocol, 1, 1),
        population: c.str("population", o.population, 1),
        clientKind: c.oneOf("clientKind", o.clientKind, CLIENT_KINDS),
      };
      if (o.numExamples !== undefined) out.numExamples = c.int("numExamples", o.numExamples, 0, Number.MAX_SAFE_INTEGER);
      if (o.label !== undefined) out.label = c.str("label", o.label);
      return out;
    }
    case "poll":
      return { type, round: c.int("round", o.round, 0, 1e9) };
    case "report": {
      const out: ClientMessage = {
        type,
        round: c.int("round", o.round, 0, 1e9),
        numExamples: c.int("numExamples", o.numExamples, 1, Number.MAX_SAFE_INTEGER),
        update: c.floats("update", o.update, true),
      };
      if (o.meanLoss !== undefined) out.meanLoss = c.num("meanLoss", o.meanLoss);
      return out;
    }
    case "secagg":
      return { type, round: c.int("round", o.round, 0, 1e9), message: clientSecAgg(c, "message", o.message) };
  }
}

function privacyPlan(c: Checker, path: string, v: unknown): ClientPrivacyPlan {
  const o = c.object(path, v);
  const kind = c.oneOf(`${path}.kind`, o.kind, ["none", "clip-local", "clip-distributed", "ddg"] as const);
  switch (kind) {
    case "none":
      return { kind };
    case "clip-local":
      return {
        kind,
        l2NormClip: c.num(`${path}.l2NormClip`, o.l2NormClip, 0, Infinity, true),
        noiseMultiplier: c.num(`${path}.noiseMultiplier`, o.noiseMultiplier, 0),
      };
    case "clip-distributed": {
      const out: ClientPrivacyPlan = {
        kind,
        l2NormClip: c.num(`${path}.l2NormClip`, o.l2NormClip, 0, Infinity, true),
        noiseStddev: c.num(`${path}.noiseStddev`, o.noiseStddev, 0),
      };
      if (o.indicatorNoiseStddev !== undefined) out.indicatorNoiseStddev = c.num(`${path}.indicatorNoiseStddev`, o.indicatorNoiseStddev, 0);
      return out;
    }
    case "ddg": {
      const out: ClientPrivacyPlan = {
        kind,
        l2NormClip: c.num(`${path}.l2NormClip`, o.l2NormClip, 0, Infinity, true),
        granularity: c.num(`${path}.granularity`, o.granularity, 0, Infinity, true),
        localNoiseStddev: c.num(`${path}.localNoiseStddev`, o.localNoiseStddev, 0.5),
      };
      if (o.beta !== undefined) out.beta = c.num(`${path}.beta`, o.beta, 0, 1, true);
      return out;
    }
  }
}

function secAggConfig(c: Checker, path: string, v: unknown): SecAggSessionConfig {
  const o = c.object(path, v);
  const out: SecAggSessionConfig = {
    sessionId: c.bytes(`${path}.sessionId`, o.sessionId, 16, 64),
    clientIds: c.ids(`${path}.clientIds`, o.clientIds),
    threshold: c.int(`${path}.threshold`, o.threshold, 1, c.limits.maxClients),
    dimension: c.int(`${path}.dimension`, o.dimension, 1, c.limits.maxDimension),
    modulusBits: c.int(`${path}.modulusBits`, o.modulusBits, 1, 32),
  };
  if (o.degree !== undefined) out.degree = c.int(`${path}.degree`, o.degree, 2, c.limits.maxClients);
  return out;
}

function encodingPlan(c: Checker, path: string, v: unknown): SecAggEncodingPlan {
  const o = c.object(path, v);
  const kind = c.oneOf(`${path}.kind`, o.kind, ["quantizer", "integers"] as const);
  if (kind === "quantizer") {
    return {
      kind,
      clipRange: c.num(`${path}.clipRange`, o.clipRange, 0, Infinity, true),
      scale: c.num(`${path}.scale`, o.scale, 0, Infinity, true),
      modulusBits: c.int(`${path}.modulusBits`, o.modulusBits, 2, 32),
      clients: c.int(`${path}.clients`, o.clients, 1, c.limits.maxClients),
    };
  }
  return {
    kind,
    granularity: c.num(`${path}.granularity`, o.granularity, 0, Infinity, true),
    modulusBits: c.int(`${path}.modulusBits`, o.modulusBits, 2, 32),
  };
}

function modelSpec(c: Checker, path: string, v: unknown): ModelSpec {
  const o = c.object(path, v);
  const out: ModelSpec = {
    name: c.str(`${path}.name`, o.name, 1),
    dimension: c.int(`${path}.dimension`, o.dimension, 1, c.limits.maxDimension),
  };
  if (o.inputShape !== undefined)
    out.inputShape = c.array(`${path}.inputShape`, o.inputShape, 8).map((x, i) => c.int(`${path}.inputShape[${i}]`, x, 1, 1e6));
  if (o.numClasses !== undefined) out.numClasses = c.int(`${path}.numClasses`, o.numClasses, 1, 1e6);
  return out;
}

function taskPlan(c: Checker, path: string, v: unknown): TaskPlan {
  const o = c.object(path, v);
  const t = c.object(`${path}.training`, o.training);
  const out: TaskPlan = {
    population: c.str(`${path}.population`, o.population, 1),
    round: c.int(`${path}.round`, o.round, 0, 1e9),
    taskId: c.str(`${path}.taskId`, o.taskId, 1),
    model: modelSpec(c, `${path}.model`, o.model),
    training: {
      localEpochs: c.int(`${path}.training.localEpochs`, t.localEpochs, 1, 1e6),
      batchSize: c.int(`${path}.training.batchSize`, t.batchSize, 1, 1e9),
      learningRate: c.num(`${path}.training.learningRate`, t.learningRate, 0, Infinity, true),
      minExamples: c.int(`${path}.training.minExamples`, t.minExamples, 0, 1e12),
    },
    privacy: privacyPlan(c, `${path}.privacy`, o.privacy),
    uploadLength: c.int(`${path}.uploadLength`, o.uploadLength, 1, c.limits.maxDimension),
    expectedClients: c.int(`${path}.expectedClients`, o.expectedClients, 1, c.limits.maxClients),
    deadlineMs: c.num(`${path}.deadlineMs`, o.deadlineMs, 0),
  };
  if (o.secagg !== undefined) {
    const s = c.object(`${path}.secagg`, o.secagg);
    const plan: SecAggPlan = {
      config: secAggConfig(c, `${path}.secagg.config`, s.config),
      clientId: c.int(`${path}.secagg.clientId`, s.clientId, 1, 0xffffffff),
      encoding: encodingPlan(c, `${path}.secagg.encoding`, s.encoding),
    };
    out.secagg = plan;
  }
  return out;
}

function directoryEntry(c: Checker, path: string, v: unknown): SecAggDirectoryEntry {
  const o = c.object(path, v);
  return {
    id: c.int(`${path}.id`, o.id, 1, 0xffffffff),
    encryptionPublicKey: c.bytes(`${path}.encryptionPublicKey`, o.encryptionPublicKey, KEY_BYTES, KEY_BYTES),
    maskingPublicKey: c.bytes(`${path}.maskingPublicKey`, o.maskingPublicKey, KEY_BYTES, KEY_BYTES),
  };
}

function serverSecAgg(c: Checker, path: string, v: unknown): ServerSecAggMessage {
  const o = c.object(path, v);
  const stage = c.oneOf(`${path}.stage`, o.stage, ["keyDirectory", "forwardedShares", "unmaskingRequest"] as const);
  switch (stage) {
    case "keyDirectory":
      return {
        stage,
        entries: c.array(`${path}.entries`, o.entries, c.limits.maxClients).map((x, i) => directoryEntry(c, `${path}.entries[${i}]`, x)),
        graphSeed: c.bytes(`${path}.graphSeed`, o.graphSeed, 0, 32),
      };
    case "forwardedShares":
      return {
        stage,
        recipient: c.int(`${path}.recipient`, o.recipient, 1, 0xffffffff),
        ciphertexts: c
          .array(`${path}.ciphertexts`, o.ciphertexts, c.limits.maxClients)
          .map((x, i) => encryptedShares(c, `${path}.ciphertexts[${i}]`, x)),
      };
    case "unmaskingRequest":
      return {
        stage,
        recipient: c.int(`${path}.recipient`, o.recipient, 1, 0xffffffff),
        survivors: c.ids(`${path}.survivors`, o.survivors),
        dropped: c.ids(`${path}.dropped`, o.dropped),
      };
  }
}

/**
 * Checks a message the server sent (client side): a client trusts the server to run the
 * protocol, but not the network or a bug to hand it something malformed.
 *
 * @param value - the decoded body
 * @param limits - bounds; default {@link DEFAULT_PROTOCOL_LIMITS}
 * @returns a clean copy
 * @throws {@link DpError} `protocol_error` naming the field
 * @example
 * ```ts
 * import { validateServerMessage } from "dpkit/federated";
 * validateServerMessage({ type: "retry", retryAfterMs: 500, reason: "round full" });
 * ```
 */
export function validateServerMessage(value: unknown, limits: ProtocolLimits = DEFAULT_PROTOCOL_LIMITS): ServerMessage {
  const c = new Checker(limits, "server message");
  const o = c.object("message", value);
  const type = c.oneOf("type", o.type, [
    "retry",
    "done",
    "assigned",
    "wait",
    "plan",
    "secagg",
    "complete",
    "abandoned",
    "ack",
    "error",
  ] as const);
  const ms = (k: string): number => c.num(k, o[k], 0, 86_400_000);
  switch (type) {
    case "retry":
      return { type, retryAfterMs: ms("retryAfterMs"), reason: c.str("reason", o.reason) };
    case "done":
      return { type, reason: c.str("reason", o.reason) };
    case "assigned": {
      const token = c.str("token", o.token, 16);
      return {
        type,
        token,
        population: c.str("population", o.population, 1),
        round: c.int("round", o.round, 0, 1e9),
        retryAfterMs: ms("retryAfterMs"),
      };
    }
    case "wait":
      return { type, phase: c.oneOf("phase", o.phase, PHASES), retryAfterMs: ms("retryAfterMs") };
    case "plan": {
      const plan = taskPlan(c, "plan", o.plan);
      const checkpoint = c.floats("checkpoint", o.checkpoint, true);
      if (checkpoint.length !== plan.model.dimension)
        c.fail("checkpoint", `${plan.model.dimension} entries (the model's dimension)`, checkpoint);
      return { type, plan, checkpoint };
    }
    case "secagg":
      return { type, round: c.int("round", o.round, 0, 1e9), message: serverSecAgg(c, "message", o.message) };
    case "complete":
      return { type, round: c.int("round", o.round, 0, 1e9), accepted: c.int("accepted", o.accepted, 0, 1e9) };
    case "abandoned":
      return { type, round: c.int("round", o.round, 0, 1e9), reason: c.str("reason", o.reason) };
    case "ack":
      return { type, retryAfterMs: ms("retryAfterMs") };
    case "error":
      return {
        type,
        code: c.oneOf("code", o.code, Object.keys(PROTOCOL_ERROR_STATUS) as ProtocolErrorCode[]),
        reason: c.str("reason", o.reason),
      };
  }
}
