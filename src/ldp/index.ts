/**
 * `dpkit/ldp`: local differential privacy — randomized response, unary encodings, local
 * hashing, and a RAPPOR encoder and decoder.
 * @module
 */
export * from "./frequencyEstimate.js";
export * from "./randomizedResponse.js";
export * from "./unaryEncoding.js";
export * from "./localHashing.js";
export * from "./rappor/index.js";
