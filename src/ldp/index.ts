/**
 * `dpkit/ldp`.
 * @module
 */
export {};
