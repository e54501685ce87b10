/**
 * RAPPOR: encoder, hashing, stores, file formats and decoder.
 * @module
 */
export * from "./params.js";
export * from "./hashing.js";
export * from "./store.js";
export * from "./sqliteStore.js";
export * from "./encoder.js";
export * from "./aggregate.js";
export * from "./formats.js";
export * from "./decoder.js";
export * from "./simulate.js";
