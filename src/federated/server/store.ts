/**
 * The federated service's state in one SQLite file (better-sqlite3): populations, tasks, round
 * attempts and their phase, per-client assignments (token hashes, never tokens), checkpoints
 * (global weights after every completed round), metrics. The privacy ledger lives in the same
 * file, in the tables of `openSqlitePrivacyBudget`.
 *
 * What is never written: any client's update, masked input or secure-aggregation message. An
 * interrupted round leaves only its phase row, which the next start marks abandoned.
 *
 * @module
 */
import { DpError } from "../../errors.js";
import { openSqliteDatabase, type SqliteDatabase } from "../../util/sqlite.js";

/** One completed or abandoned round attempt, as stored. */
export interface StoredRound {
  attempt: number;
  round: number;
  phase: string;
  openedAt: number;
  closedAt: number | null;
  accepted: number;
  event: string | null;
  epsilon: number | null;
  ledgerSpendId: number | null;
  reason: string | null;
  metrics: Record<string, number>;
  clients: { kind: string; status: string }[];
}

/** The SQLite tables of the service. @internal */
export class ServiceStore {
  private constructor(
    private readonly db: SqliteDatabase,
    readonly file: string,
  ) {}

  /** Opens (creates) the tables in `file`. */
  static async open(file: string): Promise<ServiceStore> {
    const db = await openSqliteDatabase(file, "The federated service's SQLite state", "SQLite file", "db");
    db.pragma("journal_mode = WAL");
    // WAL + NORMAL: a killed process loses nothing that was committed (the OS holds the WAL);
    // only a power loss can drop the last transactions, never corrupt the file.
    db.pragma("synchronous = NORMAL");
    db.exec(`
      CREATE TABLE IF NOT EXISTS fl_population (name TEXT PRIMARY KEY, config TEXT NOT NULL, created_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'active', stopped_by TEXT);
      CREATE TABLE IF NOT EXISTS fl_task (id TEXT PRIMARY KEY, population TEXT NOT NULL, plan TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS fl_round (attempt INTEGER PRIMARY KEY AUTOINCREMENT, population TEXT NOT NULL,
        round INTEGER NOT NULL, phase TEXT NOT NULL, opened_at INTEGER NOT NULL, closed_at INTEGER,
        accepted INTEGER NOT NULL DEFAULT 0, event TEXT, epsilon REAL, ledger_spend_id INTEGER, reason TEXT);
      CREATE INDEX IF NOT EXISTS fl_round_population ON fl_round(population, round);
      CREATE TABLE IF NOT EXISTS fl_assignment (token_hash TEXT PRIMARY KEY, population TEXT NOT NULL, attempt INTEGER NOT NULL,
        slot INTEGER NOT NULL, client_kind TEXT NOT NULL, label TEXT, status TEXT NOT NULL, reason TEXT, updated_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS fl_assignment_attempt ON fl_assignment(attempt, slot);
      CREATE TABLE IF NOT EXISTS fl_checkpoint (population TEXT NOT NULL, round INTEGER NOT NULL, weights BLOB NOT NULL,
        created_at INTEGER NOT NULL, PRIMARY KEY (population, round));
      CREATE TABLE IF NOT EXISTS fl_metric (population TEXT NOT NULL, round INTEGER NOT NULL, name TEXT NOT NULL, value REAL NOT NULL,
        PRIMARY KEY (population, round, name));`);
    return new ServiceStore(db, file);
  }

  /** Creates the population or checks that its stored config matches; returns the stored status. */
  ensurePopulation(
    name: string,
    config: Record<string, unknown>,
    compare: readonly string[],
  ): { status: string; stoppedBy: string | null } {
    return this.db
      .transaction(() => {
        const row = this.db.prepare("SELECT config, status, stopped_by FROM fl_population WHERE name = ?").get(name) as
          { config: string; status: string; stopped_by: string | null } | undefined;
        if (!row) {
          this.db
            .prepare("INSERT INTO fl_population (name, config, created_at) VALUES (?, ?, ?)")
            .run(name, JSON.stringify(config), new Date().toISOString());
          return { status: "active", stoppedBy: null };
        }
        const stored = JSON.parse(row.config) as Record<string, unknown>;
        for (const k of compare) {
          if (JSON.stringify(stored[k]) !== JSON.stringify(config[k])) {
            throw new DpError(
              "invalid_state",
              `Population ${JSON.stringify(name)} in ${this.file} was created with ${k} = ${JSON.stringify(stored[k])}; refusing to resume it with ${JSON.stringify(config[k])}.`,
              k,
            );
          }
        }
        return { status: row.status, stoppedBy: row.stopped_by };
      })
      .immediate();
  }

  /** Marks the population finished. */
  finishPopulation(name: string, stoppedBy: string): void {
    this.db.prepare("UPDATE fl_population SET status = 'done', stopped_by = ? WHERE name = ?").run(stoppedBy, name);
  }

  /** Re-opens a finished population (more rounds were asked for). */
  reopenPopulation(name: string): void {
    this.db.prepare("UPDATE fl_population SET status = 'active', stopped_by = NULL WHERE name = ?").run(name);
  }

  /** Stores the task plan template. */
  putTask(id: string, population: string, plan: unknown): void {
    this.db.prepare("INSERT OR REPLACE INTO fl_task (id, population, plan) VALUES (?, ?, ?)").run(id, population, JSON.stringify(plan));
  }

  /** Marks every unfinished attempt abandoned (after a restart); returns how many. */
  abandonInterrupted(population: string, reason: string, now: number): number {
    return this.db
      .prepare(
        "UPDATE fl_round SET phase = 'abandoned', closed_at = ?, reason = ? WHERE population = ? AND phase NOT IN ('completed', 'abandoned')",
      )
      .run(now, reason, population).changes;
  }

  /** Opens a round attempt in the selection phase; returns its attempt id. */
  openRound(population: string, round: number, now: number): number {
    return Number(
      this.db
        .prepare("INSERT INTO fl_round (population, round, phase, opened_at) VALUES (?, ?, 'selection', ?)")
        .run(population, round, now).lastInsertRowid,
    );
  }

  /** Records a phase change. */
  setPhase(attempt: number, phase: string): void {
    this.db.prepare("UPDATE fl_round SET phase = ? WHERE attempt = ?").run(phase, attempt);
  }

  /** Records an assignment (token hash only). */
  putAssignment(
    a: { tokenHash: string; population: string; attempt: number; slot: number; clientKind: string; label?: string; status: string },
    now: number,
  ): void {
    this.db
      .prepare(
        "INSERT INTO fl_assignment (token_hash, population, attempt, slot, client_kind, label, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(a.tokenHash, a.population, a.attempt, a.slot, a.clientKind, a.label ?? null, a.status, now);
  }

  /** Runs `fn` in one IMMEDIATE transaction. */
  batch(fn: () => void): void {
    this.db.transaction(fn).immediate();
  }

  /** Updates an assignment's status. */
  setAssignmentStatus(tokenHash: string, status: string, reason: string | undefined, now: number): void {
    this.db
      .prepare("UPDATE fl_assignment SET status = ?, reason = ?, updated_at = ? WHERE token_hash = ?")
      .run(status, reason ?? null, now, tokenHash);
  }

  /** Abandons an attempt (nothing released). */
  abandonRound(attempt: number, reason: string, now: number): void {
    this.db.prepare("UPDATE fl_round SET phase = 'abandoned', closed_at = ?, reason = ? WHERE attempt = ?").run(now, reason, attempt);
  }

  /**
   * Completes an attempt in one transaction: the round row (event, ε, ledger spend id), the new
   * checkpoint and the round's metrics.
   */
  completeRound(r: {
    population: string;
    attempt: number;
    round: number;
    accepted: number;
    event: unknown;
    epsilon: number | null;
    ledgerSpendId: number | null;
    weights: Float32Array;
    metrics: Record<string, number>;
    now: number;
  }): void {
    this.db
      .transaction(() => {
        this.db
          .prepare(
            "UPDATE fl_round SET phase = 'completed', closed_at = ?, accepted = ?, event = ?, epsilon = ?, ledger_spend_id = ? WHERE attempt = ?",
          )
          .run(r.now, r.accepted, JSON.stringify(r.event), r.epsilon, r.ledgerSpendId, r.attempt);
        this.db
          .prepare("INSERT INTO fl_checkpoint (population, round, weights, created_at) VALUES (?, ?, ?, ?)")
          .run(r.population, r.round + 1, Buffer.from(r.weights.buffer, r.weights.byteOffset, r.weights.byteLength), r.now);
        const put = this.db.prepare("INSERT OR REPLACE INTO fl_metric (population, round, name, value) VALUES (?, ?, ?, ?)");
        for (const [k, v] of Object.entries(r.metrics)) if (Number.isFinite(v)) put.run(r.population, r.round, k, v);
      })
      .immediate();
  }

  /** Adds metrics to a completed round (e.g. test accuracy, evaluated after the commit). */
  putMetrics(population: string, round: number, metrics: Record<string, number>): void {
    const put = this.db.prepare("INSERT OR REPLACE INTO fl_metric (population, round, name, value) VALUES (?, ?, ?, ?)");
    this.db
      .transaction(() => {
        for (const [k, v] of Object.entries(metrics)) if (Number.isFinite(v)) put.run(population, round, k, v);
      })
      .immediate();
  }

  /** Stores the initial checkpoint (round 0) if none exists. */
  ensureInitialCheckpoint(population: string, weights: Float32Array, now: number): void {
    this.db
      .prepare("INSERT OR IGNORE INTO fl_checkpoint (population, round, weights, created_at) VALUES (?, 0, ?, ?)")
      .run(population, Buffer.from(weights.buffer, weights.byteOffset, weights.byteLength), now);
  }

  /** The latest checkpoint: (completed rounds, weights). */
  latestCheckpoint(population: string): { round: number; weights: Float32Array } | undefined {
    const row = this.db
      .prepare("SELECT round, weights FROM fl_checkpoint WHERE population = ? ORDER BY round DESC LIMIT 1")
      .get(population) as { round: number; weights: Uint8Array } | undefined;
    if (!row) return undefined;
    const w = new Float32Array(row.weights.byteLength / 4);
    new Uint8Array(w.buffer).set(row.weights);
    return { round: row.round, weights: w };
  }

  /** The checkpoint after `round` completed rounds. */
  checkpoint(population: string, round: number): Float32Array | undefined {
    const row = this.db.prepare("SELECT weights FROM fl_checkpoint WHERE population = ? AND round = ?").get(population, round) as
      { weights: Uint8Array } | undefined;
    if (!row) return undefined;
    const w = new Float32Array(row.weights.byteLength / 4);
    new Uint8Array(w.buffer).set(row.weights);
    return w;
  }

  /** Every attempt of the population, oldest first, with metrics and the kinds of accepted clients. */
  rounds(population: string): StoredRound[] {
    const rows = this.db.prepare("SELECT * FROM fl_round WHERE population = ? ORDER BY attempt").all(population) as {
      attempt: number;
      round: number;
      phase: string;
      opened_at: number;
      closed_at: number | null;
      accepted: number;
      event: string | null;
      epsilon: number | null;
      ledger_spend_id: number | null;
      reason: string | null;
    }[];
    const metrics = this.db.prepare("SELECT round, name, value FROM fl_metric WHERE population = ?").all(population) as {
      round: number;
      name: string;
      value: number;
    }[];
    const clients = this.db
      .prepare("SELECT attempt, client_kind, status FROM fl_assignment WHERE population = ? ORDER BY attempt, slot")
      .all(population) as {
      attempt: number;
      client_kind: string;
      status: string;
    }[];
    return rows.map((r) => ({
      attempt: r.attempt,
      round: r.round,
      phase: r.phase,
      openedAt: r.opened_at,
      closedAt: r.closed_at,
      accepted: r.accepted,
      event: r.event,
      epsilon: r.epsilon,
      ledgerSpendId: r.ledger_spend_id,
      reason: r.reason,
      metrics: r.phase === "completed" ? Object.fromEntries(metrics.filter((m) => m.round === r.round).map((m) => [m.name, m.value])) : {},
      clients: clients.filter((c) => c.attempt === r.attempt).map((c) => ({ kind: c.client_kind, status: c.status })),
    }));
  }

  /** The newest ledger row id of `name` in the budget tables (0 if none). */
  lastLedgerId(name: string): number {
    try {
      const row = this.db.prepare("SELECT MAX(id) AS id FROM dpkit_privacy_spend WHERE name = ?").get(name) as
        { id: number | null } | undefined;
      return row?.id ?? 0;
    } catch {
      return 0;
    }
  }

  /** Closes the database. */
  close(): void {
    this.db.close();
  }
}
