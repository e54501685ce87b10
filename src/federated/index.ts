/**
 * `dpkit/federated`.
 * @module
 */
export {};
