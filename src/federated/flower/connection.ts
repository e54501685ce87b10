/**
 * Joins a Flower server over its bidirectional gRPC stream `flwr.proto.FlowerService/Join`
 * (Flower's `grpc-bidi` transport, served by `flwr.server.start_server` in every 1.x release)
 * and answers its instructions until it sends `reconnect_ins`.
 *
 * The conversation, as Flower's `grpc_client/connection.py` and `message_handler.py` run it:
 * the server writes one `ServerMessage` (reconnect_ins, get_properties_ins, get_parameters_ins,
 * fit_ins or evaluate_ins) and waits for the matching `ClientMessage` (disconnect_res,
 * get_properties_res, get_parameters_res, fit_res, evaluate_res); on `reconnect_ins` the client
 * answers `disconnect_res` and closes the channel.
 * @module
 */
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { DpError, requirePositive } from "../../errors.js";
import type { FlowerClient } from "./client.js";
import {
  ClientMessageSchema,
  Code,
  Reason,
  ServerMessageSchema,
  StatusSchema,
  type ClientMessage,
  type ServerMessage,
} from "./gen/flwr/proto/transport_pb.js";
import {
  arraysToParameters,
  FLOWER_JOIN_METHOD,
  FLOWER_MAX_MESSAGE_LENGTH,
  parametersToArrays,
  scalarsFromProto,
  scalarsToProto,
} from "./messages.js";

/** Options for {@link runFlowerClient}. */
export interface RunFlowerClientOptions {
  /** `HOST:PORT` of the Flower server (insecure gRPC). */
  server: string;
  /** The client that answers the server. */
  client: FlowerClient;
  /** Milliseconds to wait for the connection. Default 30000. */
  connectTimeoutMs?: number;
  /** Milliseconds to wait for the server's next instruction (it may be waiting for other clients). Default 600000. */
  idleTimeoutMs?: number;
  /** Largest message accepted and sent, in bytes. Default {@link FLOWER_MAX_MESSAGE_LENGTH}. */
  maxMessageBytes?: number;
  /** Most instructions to answer before giving up (a bound on the loop). Default 1000000. */
  maxInstructions?: number;
  /** Called for every instruction handled (for progress output). */
  onInstruction?: (kind: FlowerInstructionKind, index: number) => void;
}

/** The instructions of Flower's `ServerMessage`. */
export type FlowerInstructionKind = "reconnectIns" | "getPropertiesIns" | "getParametersIns" | "fitIns" | "evaluateIns";

/** What {@link runFlowerClient} resolves to. */
export interface FlowerRunResult {
  /** How many of each instruction were answered. */
  counts: Record<FlowerInstructionKind, number>;
  /** The `seconds` of the final reconnect_ins. */
  reconnectSeconds: bigint;
}

type Event = { kind: "data"; bytes: Buffer } | { kind: "end" } | { kind: "error"; error: grpc.ServiceError };

/** A queue of stream events with a bounded wait. */
class EventQueue {
  private readonly items: Event[] = [];
  private waiter: ((e: Event | undefined) => void) | undefined;

  push(e: Event): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(e);
    } else this.items.push(e);
  }

  next(timeoutMs: number): Promise<Event | undefined> {
    const e = this.items.shift();
    if (e) return Promise.resolve(e);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve(undefined);
      }, timeoutMs);
      this.waiter = (ev) => {
        clearTimeout(timer);
        resolve(ev);
      };
    });
  }
}

function describeGrpcError(e: grpc.ServiceError): string {
  const name = grpc.status[e.code] ?? String(e.code);
  return `${name}${e.details ? `: ${e.details}` : ""}`;
}

/**
 * Connects to a Flower server and answers it until `reconnect_ins`: get_properties,
 * get_parameters, fit and evaluate go to `client`, the answers are encoded as Flower's serde
 * encodes a `NumPyClient`'s results (status OK "Success", `.npy` tensors of type
 * `"numpy.ndarray"`, Scalar metrics), and reconnect_ins is answered with
 * `disconnect_res { reason: RECONNECT }` as Flower's own client does.
 *
 * @remarks
 * Every wait is bounded (connection, each instruction, the closing handshake). Anything the
 * server does that a Flower client could not follow — an unknown instruction, a malformed or
 * wrongly shaped tensor, a stream that ends or fails before reconnect_ins — rejects with a
 * {@link DpError} (`protocol_error`, `io_error` or `non_finite`) naming what happened, and the
 * stream is cancelled.
 *
 * @param options - server address, client and limits
 * @returns how many instructions of each kind were answered
 * @throws {@link DpError} as described
 * @example
 * ```ts
 * import { createTfjsFlowerClient, runFlowerClient } from "dpkit/flower";
 * // const client = createTfjsFlowerClient({ ... });
 * // const { counts } = await runFlowerClient({ server: "127.0.0.1:8080", client });
 * ```
 * @see https://github.com/adap/flower/blob/v1.10.0/src/py/flwr/client/grpc_client/connection.py
 */
export async function runFlowerClient(options: RunFlowerClientOptions): Promise<FlowerRunResult> {
  const server = options.server;
  if (typeof server !== "string" || !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(server)) {
    throw new DpError("invalid_parameter", `\`server\` must be HOST:PORT. Found ${JSON.stringify(server)}.`, "server");
  }
  const connectTimeout = requirePositive("connectTimeoutMs", options.connectTimeoutMs ?? 30_000);
  const idleTimeout = requirePositive("idleTimeoutMs", options.idleTimeoutMs ?? 600_000);
  const maxBytes = requirePositive("maxMessageBytes", options.maxMessageBytes ?? FLOWER_MAX_MESSAGE_LENGTH);
  const maxInstructions = requirePositive("maxInstructions", options.maxInstructions ?? 1_000_000);
  const channelOptions: grpc.ChannelOptions = {
    "grpc.max_receive_message_length": maxBytes,
    "grpc.max_send_message_length": maxBytes,
  };
  const rpc = new grpc.Client(server, grpc.credentials.createInsecure(), channelOptions);
  let call: grpc.ClientDuplexStream<Buffer, Buffer> | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      rpc.waitForReady(Date.now() + connectTimeout, (err) => {
        if (err)
          reject(
            new DpError(
              "io_error",
              `Could not connect to the Flower server at ${server} within ${connectTimeout} ms (${err.message}).`,
              "server",
            ),
          );
        else resolve();
      });
    });
    const events = new EventQueue();
    const duplex = rpc.makeBidiStreamRequest<Buffer, Buffer>(
      FLOWER_JOIN_METHOD,
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    call = duplex;
    duplex.on("data", (bytes: Buffer) => events.push({ kind: "data", bytes }));
    duplex.on("end", () => events.push({ kind: "end" }));
    duplex.on("error", (error: grpc.ServiceError) => events.push({ kind: "error", error }));
    const send = (m: ClientMessage): void => {
      duplex.write(Buffer.from(toBinary(ClientMessageSchema, m)));
    };
    const counts: Record<FlowerInstructionKind, number> = {
      reconnectIns: 0,
      getPropertiesIns: 0,
      getParametersIns: 0,
      fitIns: 0,
      evaluateIns: 0,
    };
    const ok = create(StatusSchema, { code: Code.OK, message: "Success" });
    const phase = (): string => `after ${counts.fitIns} fit and ${counts.evaluateIns} evaluate rounds`;
    for (let handled = 0; handled < maxInstructions; handled++) {
      const ev = await events.next(idleTimeout);
      if (!ev) throw new DpError("io_error", `The Flower server sent nothing for ${idleTimeout} ms (${phase()}).`, "server");
      if (ev.kind === "end")
        throw new DpError("protocol_error", `The Flower server closed the stream before reconnect_ins (${phase()}).`, "server");
      if (ev.kind === "error")
        throw new DpError("io_error", `The connection to the Flower server failed (${phase()}): ${describeGrpcError(ev.error)}.`, "server");
      let msg: ServerMessage;
      try {
        msg = fromBinary(ServerMessageSchema, ev.bytes);
      } catch (e) {
        throw new DpError(
          "protocol_error",
          `The Flower server sent a ServerMessage that is not valid protobuf: ${(e as Error).message}.`,
          "server",
        );
      }
      const m = msg.msg;
      if (m.case === undefined) {
        const unknown = (msg.$unknown ?? []).map((u) => u.no);
        throw new DpError(
          "protocol_error",
          unknown.length > 0
            ? `The Flower server sent an unknown instruction (ServerMessage field ${unknown.join(", ")}); this client speaks Flower's grpc-bidi protocol (reconnect, get_properties, get_parameters, fit, evaluate).`
            : "The Flower server sent an empty ServerMessage (no instruction).",
          "server",
        );
      }
      counts[m.case]++;
      options.onInstruction?.(m.case, handled);
      switch (m.case) {
        case "reconnectIns": {
          send(create(ClientMessageSchema, { msg: { case: "disconnectRes", value: { reason: Reason.RECONNECT } } }));
          await closeGracefully(duplex, events);
          return { counts, reconnectSeconds: m.value.seconds };
        }
        case "getPropertiesIns": {
          const properties = await options.client.getProperties(scalarsFromProto(m.value.config, "get_properties config"));
          send(
            create(ClientMessageSchema, {
              msg: { case: "getPropertiesRes", value: { status: ok, properties: scalarsToProto(properties) } },
            }),
          );
          break;
        }
        case "getParametersIns": {
          const arrays = await options.client.getParameters(scalarsFromProto(m.value.config, "get_parameters config"));
          send(
            create(ClientMessageSchema, {
              msg: { case: "getParametersRes", value: { status: ok, parameters: arraysToParameters(arrays) } },
            }),
          );
          break;
        }
        case "fitIns": {
          const arrays = parametersToArrays(m.value.parameters);
          const r = await options.client.fit(arrays, scalarsFromProto(m.value.config, "fit config"));
          send(
            create(ClientMessageSchema, {
              msg: {
                case: "fitRes",
                value: {
                  status: ok,
                  parameters: arraysToParameters(r.parameters),
                  numExamples: BigInt(r.numExamples),
                  metrics: scalarsToProto(r.metrics),
                },
              },
            }),
          );
          break;
        }
        case "evaluateIns": {
          const arrays = parametersToArrays(m.value.parameters);
          const r = await options.client.evaluate(arrays, scalarsFromProto(m.value.config, "evaluate config"));
          send(
            create(ClientMessageSchema, {
              msg: {
                case: "evaluateRes",
                value: { status: ok, loss: r.loss, numExamples: BigInt(r.numExamples), metrics: scalarsToProto(r.metrics) },
              },
            }),
          );
          break;
        }
      }
    }
    throw new DpError(
      "protocol_error",
      `The Flower server sent more than ${maxInstructions} instructions without reconnect_ins.`,
      "maxInstructions",
    );
  } finally {
    if (call) call.cancel();
    rpc.close();
  }
}

/** Half-closes the stream and waits (at most 3 s) for the server to end it, as Flower's client closes its channel. */
async function closeGracefully(duplex: grpc.ClientDuplexStream<Buffer, Buffer>, events: EventQueue): Promise<void> {
  duplex.end();
  const deadline = Date.now() + 3000;
  for (let k = 0; k < 100; k++) {
    const left = deadline - Date.now();
    if (left <= 0) return;
    const ev = await events.next(left);
    if (!ev || ev.kind !== "data") return;
  }
}
