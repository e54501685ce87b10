/**
 * The federated service protocol: messages, binary framing, validation, transport interface.
 * @module
 */
export * from "./messages.js";
export * from "./frame.js";
export * from "./validate.js";
export * from "./transport.js";
