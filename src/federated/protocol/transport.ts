/**
 * The transport interface both sides code against: a client sends a {@link ClientMessage} (with
 * its bearer token after check-in) and receives a {@link ServerMessage}. Implementations: the
 * in-memory transport (the simulator, tests) and the HTTP fetch client (Node and browsers).
 * @module
 */
import type { ClientMessage, ServerMessage } from "./messages.js";

/**
 * How a client reaches the server.
 *
 * @remarks
 * A refused request is an answer (`{ type: "error", code, reason }`), not an exception; a
 * transport throws only when the server cannot be reached (network error, timeout), which the
 * client treats as "try again later".
 */
export interface FederatedTransport {
  /** Sends one message; `token` is the bearer token from check-in (absent for check-in). */
  request(message: ClientMessage, token?: string): Promise<ServerMessage>;
}

/** The server-side entry point a transport delivers to (implemented by `FederatedService`). */
export interface FederatedRequestHandler {
  /**
   * Handles one request whose body is already decoded (not yet validated: the handler validates).
   * @param path - the message type from the path (`/v1/<type>`)
   * @param body - the decoded body
   * @param token - the bearer token, if any
   * @param bodyBytes - the body's size on the wire (for accounting of bytes), if known
   */
  handle(path: string, body: unknown, token: string | undefined, bodyBytes?: number): Promise<ServerMessage> | ServerMessage;
}
