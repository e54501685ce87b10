/**
 * The in-memory transport: a client and the server in one process (the simulator, tests). By
 * default every message is framed and decoded on the way in and out, exactly as over HTTP, so
 * what is validated and measured is what would cross a network.
 * @module
 */
import { decodeFrame, encodeFrame } from "../protocol/frame.js";
import type { ClientMessage, ServerMessage } from "../protocol/messages.js";
import type { FederatedRequestHandler, FederatedTransport } from "../protocol/transport.js";

/** Options for {@link InMemoryTransport}. */
export interface InMemoryTransportOptions {
  /** Encode and decode every message as a frame (default true); false passes objects through (faster, but messages are shared). */
  framed?: boolean;
}

/**
 * A {@link FederatedTransport} that calls the server's handler directly.
 *
 * @example
 * ```ts
 * import { InMemoryTransport } from "dpkit/federated";
 * const transport = new InMemoryTransport({ handle: () => ({ type: "done", reason: "demo" }) });
 * await transport.request({ type: "checkIn", protocol: 1, population: "p", clientKind: "node" });
 * ```
 */
export class InMemoryTransport implements FederatedTransport {
  /** Bytes sent by clients through this transport (framed size). */
  bytesUp = 0;
  /** Bytes received by clients. */
  bytesDown = 0;
  private readonly framed: boolean;

  /**
   * @param handler - the server (e.g. a `FederatedService`)
   * @param options - see {@link InMemoryTransportOptions}
   */
  constructor(
    private readonly handler: FederatedRequestHandler,
    options: InMemoryTransportOptions = {},
  ) {
    this.framed = options.framed ?? true;
  }

  /** Delivers `message` to the handler and returns its answer. */
  async request(message: ClientMessage, token?: string): Promise<ServerMessage> {
    if (!this.framed) return this.handler.handle(message.type, message, token);
    const up = encodeFrame(message);
    this.bytesUp += up.length;
    const answer = await this.handler.handle(message.type, decodeFrame(up), token, up.length);
    const down = encodeFrame(answer);
    this.bytesDown += down.length;
    return decodeFrame(down) as ServerMessage;
  }
}
