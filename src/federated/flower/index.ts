/**
 * `dpkit/flower`: a TypeScript client for Flower servers (Flower's grpc-bidi transport,
 * `flwr.proto.FlowerService/Join`), with dpkit's client-side privacy, a `.npy` codec, and a
 * Flower-compatible test server.
 * @module
 */
export * from "./npy.js";
export * from "./messages.js";
export * from "./privacy.js";
export * from "./client.js";
export * from "./connection.js";
export * from "./test-server.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../../errors.js";
