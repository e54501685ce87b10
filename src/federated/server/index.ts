/**
 * The federated service (server side): SQLite state, round phases, secure aggregation over the
 * wire, accounting. Never imports `client/`.
 * @module
 */
export * from "./service.js";
