/**
 * Update compression for the FedAvg uplink.
 * @module
 */
export * from "./compressor.js";
export * from "./quantize.js";
export * from "./low-rank.js";
