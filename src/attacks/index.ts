/**
 * `dpkit/attacks`.
 * @module
 */
export {};
