/**
 * Dataset loaders.
 * @module
 */
export * from "./mnist.js";

// The error type every function here throws, so callers of this entry point can catch it.
export { DpError, type DpErrorCode } from "../errors.js";
