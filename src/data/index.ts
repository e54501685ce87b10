/**
 * Dataset loaders.
 * @module
 */
export * from "./mnist.js";
