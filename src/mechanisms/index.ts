/**
 * `dpkit/mechanisms`.
 * @module
 */
export {};
