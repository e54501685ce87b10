/**
 * Where a RAPPOR client keeps its secret, its cohort and its memoised permanent randomized
 * responses. The caller chooses the store: in memory by default, or a SQLite file for a device
 * ({@link openRapporSqliteStore}).
 *
 * @module
 */

/**
 * A RAPPOR client's persistent state. All methods are synchronous.
 *
 * @remarks
 * The secret must never leave the client: with it, anyone can recompute the PRR of every
 * candidate value and so undo the permanent randomized response. Memoised PRRs are as
 * sensitive as the values themselves.
 */
export interface RapporClientStore {
  /** The client secret, if one was stored. */
  getSecret(): Uint8Array | undefined;
  /** Stores the client secret. */
  setSecret(secret: Uint8Array): void;
  /** The client's cohort, if one was stored. */
  getCohort(): number | undefined;
  /** Stores the client's cohort. */
  setCohort(cohort: number): void;
  /** The memoised PRR for `key` (parameters and value), if any. */
  getPrr(key: string): number | undefined;
  /** Memoises the PRR for `key`. */
  setPrr(key: string, prr: number): void;
}

/**
 * A store that lives in memory (lost when the process ends).
 * @returns a new, empty {@link RapporClientStore}
 * @example
 * ```ts
 * import { memoryRapporStore } from "dpkit/ldp";
 * const store = memoryRapporStore();
 * ```
 */
export function memoryRapporStore(): RapporClientStore {
  let secret: Uint8Array | undefined;
  let cohort: number | undefined;
  const prr = new Map<string, number>();
  return {
    getSecret: () => (secret ? secret.slice() : undefined),
    setSecret: (s) => {
      secret = s.slice();
    },
    getCohort: () => cohort,
    setCohort: (c) => {
      cohort = c;
    },
    getPrr: (key) => prr.get(key),
    setPrr: (key, value) => {
      prr.set(key, value);
    },
  };
}
