/**
 * `dpkit/accounting`: the DpEvent algebra and privacy accountants.
 * @module
 */
export * from "./events.js";
