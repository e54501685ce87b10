/**
 * `dpkit server` — the federated service for the MNIST demo population: serves HTTP until R
 * rounds are complete (or the target ε is reached), then prints one JSON object and exits 0.
 * Started again on the same `--db`, it resumes.
 * @module
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { prepareBackend } from "../../backend/index.js";
import { DpError, requireInteger, requireNonNegative, requireOneOf, requireOpenProbability, requirePositive } from "../../errors.js";
import { startMnistFederatedService } from "../../experiments/federated-service.js";
import { browserClientAssets } from "../../federated/client/browser/assets.js";
import { mnistPartitionBytes, parsePartitionSpec } from "../../federated/client/demo-data.js";
import { SERVICE_DP_MODES, type ServiceDpMode, type ServiceStatus } from "../../federated/server/service.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";

interface ServerRaw {
  db?: string;
  port: string;
  host: string;
  dataset: string;
  model: string;
  rounds: string;
  clientsPerRound: string;
  minClients?: string;
  roundTimeout: string;
  selectionWindow: string;
  dp: string;
  noiseMultiplier: string;
  clip: string;
  secureAggregation?: boolean;
  targetEpsilon?: string;
  delta: string;
  localEpochs: string;
  batchSize: string;
  learningRate: string;
  testSize: string;
  json?: boolean;
  quiet?: boolean;
}

/** The summary printed at the end: the status, with the fields the issue names first. @internal */
export function serverSummary(s: ServiceStatus): Record<string, unknown> {
  const { rounds, history, epsilon, delta, ...rest } = s;
  return { rounds, history, epsilon, delta, ...rest };
}

async function run(raw: ServerRaw): Promise<void> {
  const num = (name: string, v: string | undefined): number | undefined => parseNumberOption(name, v);
  if (!raw.db) throw new DpError("invalid_parameter", "`--db` is required (the SQLite file holding the server's state).", "--db");
  const dir = path.dirname(path.resolve(raw.db));
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new DpError("invalid_parameter", `\`--db\` must be in an existing folder. Found ${JSON.stringify(raw.db)}.`, "--db");
  requireOneOf("--dataset", raw.dataset, ["mnist"] as const);
  const model = requireOneOf("--model", raw.model, ["mlp", "cnn"] as const);
  const dp = requireOneOf("--dp", raw.dp, SERVICE_DP_MODES) as ServiceDpMode;
  const K = requireInteger("--clients-per-round", num("clients-per-round", raw.clientsPerRound), { min: 1, max: 100_000 });
  const M = requireInteger("--min-clients", num("min-clients", raw.minClients ?? String(K)), { min: 1, max: K });
  const secureAggregation = Boolean(raw.secureAggregation);
  if (secureAggregation && dp !== "client")
    throw new DpError("invalid_parameter", "`--secure-aggregation` needs `--dp client`.", "--secure-aggregation");
  if (secureAggregation && M < 2)
    throw new DpError("invalid_parameter", "`--min-clients` must be >= 2 with `--secure-aggregation`. Found 1.", "--min-clients");
  let targetEpsilon: number | undefined;
  if (raw.targetEpsilon !== undefined) {
    if (dp === "none")
      throw new DpError("invalid_parameter", "`--target-epsilon` needs `--dp server` or `--dp client`.", "--target-epsilon");
    targetEpsilon = requirePositive("--target-epsilon", num("target-epsilon", raw.targetEpsilon));
  }
  const opts = {
    db: raw.db,
    port: requireInteger("--port", num("port", raw.port), { min: 0, max: 65535 }),
    host: raw.host,
    model,
    rounds: requireInteger("--rounds", num("rounds", raw.rounds), { min: 1, max: 100_000 }),
    clientsPerRound: K,
    minClients: M,
    roundTimeoutMs: 1000 * requirePositive("--round-timeout", num("round-timeout", raw.roundTimeout)),
    selectionWindowMs: 1000 * requireNonNegative("--selection-window", num("selection-window", raw.selectionWindow)),
    dp,
    noiseMultiplier: dp === "none" ? undefined : requirePositive("--noise-multiplier", num("noise-multiplier", raw.noiseMultiplier)),
    l2NormClip: dp === "none" ? undefined : requirePositive("--clip", num("clip", raw.clip)),
    secureAggregation,
    targetEpsilon,
    delta: requireOpenProbability("--delta", num("delta", raw.delta)),
    localEpochs: requireInteger("--local-epochs", num("local-epochs", raw.localEpochs), { min: 1, max: 1000 }),
    batchSize: requireInteger("--batch-size", num("batch-size", raw.batchSize), { min: 1, max: 100_000 }),
    learningRate: requirePositive("--learning-rate", num("learning-rate", raw.learningRate)),
    testExamples: requireInteger("--test-size", num("test-size", raw.testSize), { min: 0, max: 10_000 }),
  };
  await prepareBackend({ announce: false });
  const log = raw.quiet ? undefined : (line: string): void => void process.stderr.write(`${line}\n`);
  // The browser client (page and bundle, built on first request) and the demo partitions it fetches.
  const asset = (p: string) => async () => (await browserClientAssets())[p];
  const demo = await startMnistFederatedService({
    ...opts,
    log,
    assets: { "/": asset("/"), "/index.html": asset("/"), "/fl-client.js": asset("/fl-client.js") },
    getRoutes: {
      "/data/mnist": (url) => {
        const { index, count } = parsePartitionSpec(url.searchParams.get("partition") ?? "");
        return { contentType: "application/x-dpkit-frame", body: mnistPartitionBytes(index, count) };
      },
    },
  });
  process.stderr.write(`dpkit server listening on ${demo.url}\n`);
  const stop = (): void => {
    void demo.close().then(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  await demo.service.whenDone();
  // Let clients learn that the population is done before the port closes.
  await new Promise((r) => setTimeout(r, 1500));
  const status = demo.service.status();
  await demo.close();
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
  if (raw.json) return printJson(serverSummary(status));
  process.stdout.write(
    renderTable(
      ["round", "accepted", "node", "browser", "test acc", "epsilon"],
      status.history.map((h) => [h.round + 1, h.accepted, h.clients.node, h.clients.browser, h.testAccuracy, h.epsilon]),
    ),
  );
  process.stdout.write(
    `\n${status.rounds} round(s) complete (${status.stoppedBy ?? "stopped"}); ${status.epsilon === null ? "not private" : `client-level epsilon ${status.epsilon.toFixed(3)} at delta ${status.delta}`}; ${status.abandoned.length} abandoned attempt(s)\n`,
  );
}

/** Registers `dpkit server` on the program. */
export function register(program: Command): void {
  program
    .command("server")
    .description("Run the federated learning service (MNIST demo population) over HTTP until R rounds complete; resumes on the same --db")
    .option("--db <file>", "SQLite file holding rounds, checkpoints and the privacy ledger")
    .option("--port <P>", "TCP port (0: any free port)", "8080")
    .option("--host <addr>", "interface to listen on", "127.0.0.1")
    .option("--dataset <name>", "dataset (mnist)", "mnist")
    .option("--model <kind>", "mlp or cnn", "mlp")
    .option("--rounds <R>", "rounds to complete", "5")
    .option("--clients-per-round <K>", "goal count of clients per round", "10")
    .option("--min-clients <M>", "fewest reports for a round to complete (default K)")
    .option("--round-timeout <S>", "reporting deadline in seconds", "120")
    .option("--selection-window <S>", "seconds after the first check-in before a round may start below K", "5")
    .option("--dp <mode>", "none, server (trusted server clips and noises), client (clients clip and noise)", "none")
    .option("--noise-multiplier <z>", "noise multiplier z", "1")
    .option("--clip <C>", "L2 clip of each client update", "1")
    .option("--secure-aggregation", "with --dp client: clients mask their noised updates; the server sees only the sum")
    .option("--target-epsilon <eps>", "stop the population before client-level epsilon would exceed this")
    .option("--delta <D>", "delta for epsilon", "1e-5")
    .option("--local-epochs <E>", "local epochs per round", "1")
    .option("--batch-size <B>", "local minibatch size", "32")
    .option("--learning-rate <lr>", "client learning rate", "0.1")
    .option("--test-size <n>", "MNIST test examples for the accuracy after each round (0: none)", "1000")
    .option("--quiet", "no log lines on stderr")
    .option("--json", "print one JSON object at the end")
    .action(async (raw: ServerRaw) => {
      await run(raw);
    });
}
