/**
 * A Flower server in TypeScript, built from the same `transport.proto`, that plays Flower's
 * `start_server` with `FedAvg` (optionally wrapped in `DifferentialPrivacyClientSideFixedClipping`)
 * over the grpc-bidi stream: it waits for the clients, asks one of them for the initial
 * parameters, runs fit and evaluate rounds, then sends reconnect_ins to every client. It checks
 * every byte a client sends as Flower's serde would read it, and can be told to misbehave.
 *
 * For tests, notebooks and demos on loopback; it is not a production server. Server side of the
 * trust boundary: it imports nothing of the client (client.ts, privacy.ts), only the shared
 * protocol pieces (messages.ts, npy.ts).
 * @module
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { DpError, requireInteger, requireNonNegative, requirePositive } from "../../errors.js";
import type { Rng } from "../../random/rng.js";
import { fillGaussian } from "../../random/gaussian.js";
import {
  ClientMessageSchema,
  Code,
  Reason,
  ServerMessageSchema,
  type ClientMessage,
  type ServerMessage,
} from "./gen/flwr/proto/transport_pb.js";
import {
  arraysToParameters,
  FLOWER_CLIPPING_NORM_KEY,
  FLOWER_JOIN_METHOD,
  FLOWER_MAX_MESSAGE_LENGTH,
  NUMPY_TENSOR_TYPE,
  scalarsFromProto,
  scalarsToProto,
  type FlowerScalars,
} from "./messages.js";
import { decodeNpy, type NpyArray } from "./npy.js";

/** Ways {@link startFlowerTestServer} can break the protocol on purpose (for tests of the client). */
export type FlowerMisbehaviour =
  | "unknownInstruction"
  | "emptyMessage"
  | "malformedTensor"
  | "wrongShape"
  | "badTensorType"
  | "nonFinite"
  | "closeStream"
  | "abortStream"
  | "silent";

/** Options for {@link startFlowerTestServer}. */
export interface FlowerTestServerOptions {
  /** Clients to wait for before starting (Flower's `min_available_clients`). Default 2. */
  minClients?: number;
  /** Rounds of fit + evaluate. Default 3. */
  rounds?: number;
  /** The fit config of a round (Flower's `on_fit_config_fn`). */
  fitConfig?: (round: number) => FlowerScalars;
  /** The evaluate config of a round (Flower's `on_evaluate_config_fn`). */
  evaluateConfig?: (round: number) => FlowerScalars;
  /** `DifferentialPrivacyClientSideFixedClipping`: send `clipping_norm` and add N(0, (zC/K)²) to the aggregate. */
  clientSideFixedClipping?: { clippingNorm: number; noiseMultiplier: number; rng?: Rng };
  /** Send get_properties_ins (with this config) to every client before the initial parameters (Flower's strategies may, e.g. to select clients). */
  getProperties?: FlowerScalars;
  /** Break the protocol at this round's fit or evaluate (sent to the first client). */
  misbehave?: { round: number; phase: "fit" | "evaluate"; action: FlowerMisbehaviour };
  /** Milliseconds to wait for all clients to join. Default 60000. */
  joinTimeoutMs?: number;
  /** Milliseconds to wait for each answer (Flower's round `timeout`). Default 120000. */
  answerTimeoutMs?: number;
  /** Port on 127.0.0.1; default 0 (any free port). */
  port?: number;
}

/** One round's aggregates. */
export interface FlowerTestRound {
  /** Round number (from 1). */
  round: number;
  /** Example-weighted mean of the clients' evaluate losses (Flower's `weighted_loss_avg`). */
  loss: number;
  /** Example-weighted mean of the clients' `accuracy` metric. */
  accuracy: number;
  /** Each client's fit metrics. */
  fitMetrics: FlowerScalars[];
  /** L2 norm of each client's update (returned − sent weights), as the server sees it. */
  updateNorms: number[];
}

/** What the server saw. */
export interface FlowerTestServerResult {
  /** The rounds, in order. */
  rounds: FlowerTestRound[];
  /** The final aggregated weights. */
  parameters: NpyArray[];
  /** Every ClientMessage received, as raw bytes, with the instruction it answered. */
  received: { client: number; instruction: string; bytes: Uint8Array }[];
  /** Everything in the clients' bytes that Flower's serde would not read as intended (empty when all is well). */
  violations: string[];
  /** The reason each client gave in disconnect_res. */
  disconnectReasons: Reason[];
  /** Each client's get_properties answer (when `getProperties` was set). */
  properties: FlowerScalars[];
}

/** A running {@link startFlowerTestServer}. */
export interface FlowerTestServer {
  /** `127.0.0.1:PORT`. */
  address: string;
  /** Resolves when the run ends (after reconnect_ins, or after a misbehaviour). */
  done: Promise<FlowerTestServerResult>;
  /** Live list of what Flower's serde would not read as the client meant (also in the result). */
  violations: readonly string[];
  /** Stops the server (idempotent). */
  close(): Promise<void>;
}

interface Proxy {
  index: number;
  call: grpc.ServerDuplexStream<Buffer, Buffer>;
  pending: ((b: Buffer | Error) => void) | undefined;
  inbox: (Buffer | Error)[];
}

const EXPECTED: Record<string, string> = {
  reconnectIns: "disconnectRes",
  getPropertiesIns: "getPropertiesRes",
  getParametersIns: "getParametersRes",
  fitIns: "fitRes",
  evaluateIns: "evaluateRes",
};

function flatOf(arrays: NpyArray[]): Float64Array {
  const n = arrays.reduce((s, a) => s + a.data.length, 0);
  const out = new Float64Array(n);
  let off = 0;
  for (const a of arrays) {
    for (let i = 0; i < a.data.length; i++) out[off + i] = Number(a.data[i]);
    off += a.data.length;
  }
  return out;
}

/**
 * Starts a Flower-compatible test server on 127.0.0.1 (see the module description).
 *
 * @param options - clients, rounds, configs, strategy wrapper and misbehaviour
 * @returns the address, a promise of what it saw, and `close()`
 * @throws {@link DpError} `invalid_parameter` for bad options, `io_error` if it cannot bind
 * @example
 * ```ts
 * import { startFlowerTestServer } from "dpkit/flower";
 * const server = await startFlowerTestServer({ minClients: 2, rounds: 3, fitConfig: () => ({ local_epochs: 1n, lr: 0.1 }) });
 * console.log(server.address); // e.g. 127.0.0.1:41235 — point two clients at it
 * await server.close();
 * ```
 */
export async function startFlowerTestServer(options: FlowerTestServerOptions = {}): Promise<FlowerTestServer> {
  const minClients = requireInteger("minClients", options.minClients ?? 2, { min: 1, max: 1000 });
  const rounds = requireInteger("rounds", options.rounds ?? 3, { min: 0, max: 10_000 });
  const joinTimeout = requirePositive("joinTimeoutMs", options.joinTimeoutMs ?? 60_000);
  const answerTimeout = requirePositive("answerTimeoutMs", options.answerTimeoutMs ?? 120_000);
  const dp = options.clientSideFixedClipping;
  if (dp) {
    requirePositive("clientSideFixedClipping.clippingNorm", dp.clippingNorm);
    requireNonNegative("clientSideFixedClipping.noiseMultiplier", dp.noiseMultiplier);
  }
  const proxies: Proxy[] = [];
  let joined: (() => void) | undefined;
  const server = new grpc.Server({
    "grpc.max_receive_message_length": FLOWER_MAX_MESSAGE_LENGTH,
    "grpc.max_send_message_length": FLOWER_MAX_MESSAGE_LENGTH,
  });
  server.addService(
    {
      Join: {
        path: FLOWER_JOIN_METHOD,
        requestStream: true,
        responseStream: true,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
        originalName: "join",
      },
    },
    {
      Join: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        const p: Proxy = { index: proxies.length, call, pending: undefined, inbox: [] };
        const deliver = (x: Buffer | Error): void => {
          if (p.pending) {
            const f = p.pending;
            p.pending = undefined;
            f(x);
          } else p.inbox.push(x);
        };
        call.on("data", (b: Buffer) => deliver(b));
        call.on("end", () => deliver(new Error("the client closed its stream")));
        call.on("error", (e: Error) => deliver(e));
        call.on("cancelled", () => deliver(new Error("the client cancelled the stream")));
        proxies.push(p);
        if (proxies.length >= minClients) joined?.();
      },
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`127.0.0.1:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
      if (err) reject(new DpError("io_error", `The test server could not bind 127.0.0.1:${options.port ?? 0}: ${err.message}.`, "port"));
      else resolve(bound);
    });
  });

  const violations: string[] = [];
  const received: FlowerTestServerResult["received"] = [];
  const disconnectReasons: Reason[] = [];
  const properties: FlowerScalars[] = [];

  const request = async (p: Proxy, msg: ServerMessage | Uint8Array, instruction: string): Promise<ClientMessage> => {
    p.call.write(Buffer.from(msg instanceof Uint8Array ? msg : toBinary(ServerMessageSchema, msg)));
    const answer = await new Promise<Buffer | Error>((resolve) => {
      const queued = p.inbox.shift();
      if (queued) return resolve(queued);
      const timer = setTimeout(() => {
        p.pending = undefined;
        resolve(new Error(`no answer to ${instruction} within ${answerTimeout} ms`));
      }, answerTimeout);
      p.pending = (x) => {
        clearTimeout(timer);
        resolve(x);
      };
    });
    if (answer instanceof Error) throw new DpError("io_error", `Client ${p.index}: ${answer.message}.`, "client");
    received.push({ client: p.index, instruction, bytes: new Uint8Array(answer) });
    return checkClientMessage(p.index, instruction, answer, violations);
  };

  const misbehave = async (p: Proxy, action: FlowerMisbehaviour, params: NpyArray[]): Promise<void> => {
    const fitWith = (parameters: ReturnType<typeof arraysToParameters>): ServerMessage =>
      create(ServerMessageSchema, { msg: { case: "fitIns", value: { parameters, config: scalarsToProto(options.fitConfig?.(1) ?? {}) } } });
    switch (action) {
      case "unknownInstruction":
        p.call.write(Buffer.from([0x4a, 0x02, 0x08, 0x01])); // field 9 (not in transport.proto), length 2
        return;
      case "emptyMessage":
        p.call.write(Buffer.alloc(0));
        return;
      case "malformedTensor": {
        const good = arraysToParameters(params);
        good.tensors[0] = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 8, 0, 0x7b, 0x7d, 0x20, 0x0a]);
        p.call.write(Buffer.from(toBinary(ServerMessageSchema, fitWith(good))));
        return;
      }
      case "wrongShape": {
        const a = params[0];
        const reshaped: NpyArray = { ...a, shape: [a.data.length] };
        p.call.write(Buffer.from(toBinary(ServerMessageSchema, fitWith(arraysToParameters([reshaped, ...params.slice(1)])))));
        return;
      }
      case "badTensorType": {
        const ps = arraysToParameters(params);
        ps.tensorType = "torch.Tensor";
        p.call.write(Buffer.from(toBinary(ServerMessageSchema, fitWith(ps))));
        return;
      }
      case "nonFinite": {
        const a = params[0];
        const data = Float32Array.from(a.data as Float32Array);
        data[0] = NaN;
        p.call.write(Buffer.from(toBinary(ServerMessageSchema, fitWith(arraysToParameters([{ ...a, data }, ...params.slice(1)])))));
        return;
      }
      case "closeStream":
        p.call.end();
        return;
      case "abortStream":
        p.call.emit("error", { code: grpc.status.UNAVAILABLE, details: "server shutting down" });
        return;
      case "silent":
        return;
    }
  };

  const run = async (): Promise<FlowerTestServerResult> => {
    if (proxies.length < minClients) {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new DpError("io_error", `Only ${proxies.length} of ${minClients} clients joined within ${joinTimeout} ms.`, "minClients"),
            ),
          joinTimeout,
        );
        joined = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const clients = proxies.slice(0, minClients);
    if (options.getProperties) {
      const ins = create(ServerMessageSchema, {
        msg: { case: "getPropertiesIns", value: { config: scalarsToProto(options.getProperties) } },
      });
      for (const c of clients) {
        const a = await request(c, ins, "getPropertiesIns");
        if (a.msg.case === "getPropertiesRes") properties.push(scalarsFromProto(a.msg.value.properties, "properties"));
      }
    }
    // [INIT]: the initial parameters come from one client (Flower picks one at random).
    const init = await request(
      clients[0],
      create(ServerMessageSchema, { msg: { case: "getParametersIns", value: {} } }),
      "getParametersIns",
    );
    if (init.msg.case !== "getParametersRes" || !init.msg.value.parameters)
      throw new DpError("protocol_error", "Client 0 sent no parameters.", "client");
    let params = decodeAll(init.msg.value.parameters.tensors, 0, violations);
    const history: FlowerTestRound[] = [];
    for (let round = 1; round <= rounds; round++) {
      const sent = flatOf(params);
      const bad = options.misbehave?.round === round ? options.misbehave : undefined;
      if (bad?.phase === "fit") {
        await misbehave(clients[0], bad.action, params);
        return { rounds: history, parameters: params, received, violations, disconnectReasons, properties };
      }
      const config: FlowerScalars = { ...(options.fitConfig?.(round) ?? {}) };
      if (dp) config[FLOWER_CLIPPING_NORM_KEY] = dp.clippingNorm;
      const fitIns = create(ServerMessageSchema, {
        msg: { case: "fitIns", value: { parameters: arraysToParameters(params), config: scalarsToProto(config) } },
      });
      const fits = await Promise.all(clients.map((c) => request(c, fitIns, "fitIns")));
      const sum = new Float64Array(sent.length);
      let total = 0;
      const fitMetrics: FlowerScalars[] = [];
      const updateNorms: number[] = [];
      let shapes: NpyArray[] = params;
      fits.forEach((f, i) => {
        if (f.msg.case !== "fitRes") return;
        const arrays = decodeAll(f.msg.value.parameters?.tensors ?? [], clients[i].index, violations);
        const flat = flatOf(arrays);
        if (flat.length !== sent.length) {
          violations.push(`client ${clients[i].index}: fit_res holds ${flat.length} values; the model has ${sent.length}`);
          return;
        }
        shapes = arrays;
        const n = Number(f.msg.value.numExamples);
        total += n;
        let s2 = 0;
        for (let j = 0; j < flat.length; j++) {
          sum[j] += n * flat[j];
          s2 += (flat[j] - sent[j]) ** 2;
        }
        updateNorms.push(Math.sqrt(s2));
        fitMetrics.push(scalarsFromProto(f.msg.value.metrics, "fit metrics"));
      });
      if (total <= 0) throw new DpError("protocol_error", `Round ${round}: no usable fit results.`, "client");
      const mean = new Float32Array(sent.length);
      const noise = dp
        ? fillGaussian(new Float64Array(sent.length), (dp.noiseMultiplier * dp.clippingNorm) / clients.length, dp.rng)
        : undefined;
      for (let j = 0; j < mean.length; j++) mean[j] = sum[j] / total + (noise ? noise[j] : 0);
      let off = 0;
      params = shapes.map((a) => {
        const data = mean.slice(off, off + a.data.length);
        off += a.data.length;
        return { dtype: "float32", shape: a.shape.slice(), data };
      });
      if (bad?.phase === "evaluate") {
        await misbehave(clients[0], bad.action, params);
        return { rounds: history, parameters: params, received, violations, disconnectReasons, properties };
      }
      const evalIns = create(ServerMessageSchema, {
        msg: {
          case: "evaluateIns",
          value: { parameters: arraysToParameters(params), config: scalarsToProto(options.evaluateConfig?.(round) ?? {}) },
        },
      });
      const evals = await Promise.all(clients.map((c) => request(c, evalIns, "evaluateIns")));
      let lossSum = 0;
      let accSum = 0;
      let n = 0;
      for (const e of evals) {
        if (e.msg.case !== "evaluateRes") continue;
        const k = Number(e.msg.value.numExamples);
        lossSum += k * e.msg.value.loss;
        const acc = scalarsFromProto(e.msg.value.metrics, "evaluate metrics").accuracy;
        accSum += k * (typeof acc === "number" ? acc : NaN);
        n += k;
      }
      history.push({ round, loss: n > 0 ? lossSum / n : NaN, accuracy: n > 0 ? accSum / n : NaN, fitMetrics, updateNorms });
    }
    // Shutdown: Server.disconnect_all_clients sends ReconnectIns(seconds=None) to every client.
    const bye = create(ServerMessageSchema, { msg: { case: "reconnectIns", value: {} } });
    const answers = await Promise.all(clients.map((c) => request(c, bye, "reconnectIns")));
    for (const a of answers) if (a.msg.case === "disconnectRes") disconnectReasons.push(a.msg.value.reason);
    for (const c of clients) c.call.end();
    return { rounds: history, parameters: params, received, violations, disconnectReasons, properties };
  };

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const p of proxies) {
      try {
        p.call.end();
      } catch {
        // already ended
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 2000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  };
  const done = run();
  // If the run fails, end every client's stream with an error status (no client waits for an
  // instruction that will not come); the caller still sees the rejection through `done`.
  done.catch((e: unknown) => {
    for (const p of proxies) {
      try {
        p.call.emit("error", { code: grpc.status.INTERNAL, details: `test server failed: ${(e as Error).message}` });
      } catch {
        // the stream is already closed
      }
    }
  });
  return { address: `127.0.0.1:${port}`, done, violations, close };
}

/** Paths of (nested) messages that carry unknown fields. */
function unknownFieldPaths(value: unknown, path: string, depth = 0): string[] {
  if (depth > 16 || value === null || typeof value !== "object" || value instanceof Uint8Array) return [];
  const out: string[] = [];
  const rec = value as { $unknown?: { no: number }[] } & Record<string, unknown>;
  if (Array.isArray(rec.$unknown) && rec.$unknown.length > 0) out.push(`${path} field ${rec.$unknown.map((u) => u.no).join("/")}`);
  for (const [k, x] of Object.entries(rec))
    if (k !== "$unknown" && k !== "$typeName") out.push(...unknownFieldPaths(x, `${path}.${k}`, depth + 1));
  return out;
}

function decodeAll(tensors: Uint8Array[], client: number, violations: string[]): NpyArray[] {
  const out: NpyArray[] = [];
  tensors.forEach((t, i) => {
    try {
      const a = decodeNpy(t);
      out.push({ dtype: a.dtype, shape: a.shape, data: a.data });
    } catch (e) {
      violations.push(`client ${client}: tensor ${i} is not a loadable .npy: ${(e as Error).message}`);
    }
  });
  return out;
}

/**
 * Reads a ClientMessage as Flower's serde would and records anything it would not read as the
 * client meant: not protobuf, the wrong answer kind, fields Flower does not know (bytes that do
 * not re-encode identically), a status other than OK, a tensor type other than
 * "numpy.ndarray", tensors `np.load(allow_pickle=False)` would refuse, unset Scalars
 * (`scalar_from_proto` would fail), negative example counts, non-finite losses.
 */
function checkClientMessage(client: number, instruction: string, bytes: Uint8Array, violations: string[]): ClientMessage {
  const v = (s: string): void => {
    violations.push(`client ${client}, answer to ${instruction}: ${s}`);
  };
  let m: ClientMessage;
  try {
    m = fromBinary(ClientMessageSchema, bytes);
  } catch (e) {
    v(`not a ClientMessage: ${(e as Error).message}`);
    return create(ClientMessageSchema, {});
  }
  const unknown = unknownFieldPaths(m, "ClientMessage");
  if (unknown.length > 0) v(`fields Flower's transport.proto does not define: ${unknown.join(", ")}`);
  const again = toBinary(ClientMessageSchema, m);
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i]))
    v("the bytes do not re-encode identically (unknown fields or non-canonical encoding)");
  if (m.msg.case !== EXPECTED[instruction]) v(`expected ${EXPECTED[instruction]}, found ${m.msg.case ?? "nothing"}`);
  const scalars = (map: { [k: string]: { scalar: { case: string | undefined } } }, what: string): void => {
    for (const [k, s] of Object.entries(map)) if (s.scalar.case === undefined) v(`${what} \`${k}\` is an unset Scalar`);
  };
  const params = (p: { tensors: Uint8Array[]; tensorType: string } | undefined): void => {
    if (!p) return v("no parameters");
    if (p.tensorType !== NUMPY_TENSOR_TYPE) v(`tensor_type is ${JSON.stringify(p.tensorType)}`);
    p.tensors.forEach((t, i) => {
      try {
        decodeNpy(t);
      } catch (e) {
        v(`tensor ${i}: ${(e as Error).message}`);
      }
    });
  };
  switch (m.msg.case) {
    case "disconnectRes":
      break;
    case "getPropertiesRes":
      if (m.msg.value.status?.code !== Code.OK) v("status is not OK");
      scalars(m.msg.value.properties, "property");
      break;
    case "getParametersRes":
      if (m.msg.value.status?.code !== Code.OK) v("status is not OK");
      params(m.msg.value.parameters);
      break;
    case "fitRes":
      if (m.msg.value.status?.code !== Code.OK) v("status is not OK");
      params(m.msg.value.parameters);
      if (m.msg.value.numExamples < 0n) v("num_examples < 0");
      scalars(m.msg.value.metrics, "metric");
      break;
    case "evaluateRes":
      if (m.msg.value.status?.code !== Code.OK) v("status is not OK");
      if (!Number.isFinite(m.msg.value.loss)) v("loss is not finite");
      if (m.msg.value.numExamples < 0n) v("num_examples < 0");
      scalars(m.msg.value.metrics, "metric");
      break;
    default:
      break;
  }
  return m;
}
