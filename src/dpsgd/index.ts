/**
 * `dpkit/dpsgd`.
 * @module
 */
export {};
