/**
 * `dpkit federated` — federated averaging on MNIST split among simulated clients, with
 * client-level DP (noise on the server or on the clients), example-level DP, compression, and a
 * per-round report of test accuracy, epsilon and uplink megabytes.
 * @module
 */
import type { Command } from "commander";
import { prepareBackend } from "../../backend/index.js";
import { DpError, requireInteger, requireNonNegative, requireOneOf, requireOpenProbability, requirePositive } from "../../errors.js";
import { FEDERATED_DP_MODES, FEDERATED_PARTITIONS, runMnistFederated } from "../../experiments/federated-mnist.js";
import type { FederatedDpMode, FederatedPartitionKind, MnistFederatedOptions } from "../../experiments/federated-mnist.js";
import type { RoundReport } from "../../federated/core/fedavg.js";
import { linePlot, savePlot } from "../../plot/index.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";
import { ProgressBar } from "../progress.js";

interface FederatedRaw {
  dataset: string;
  model: string;
  clients: string;
  clientsPerRound: string;
  localEpochs: string;
  localBatchSize: string;
  learningRate: string;
  rounds: string;
  partition: string;
  alpha: string;
  dp: string;
  noiseMultiplier: string;
  clip: string;
  adaptiveClip?: boolean;
  secureAggregation?: boolean;
  service?: boolean;
  minClients?: string;
  compression: string;
  targetEpsilon?: string;
  targetDelta?: string;
  selection?: string;
  serverOptimizer: string;
  serverLearningRate?: string;
  trainSize: string;
  testSize: string;
  dropout: string;
  seed?: string;
  plot?: string;
  json?: boolean;
  progress?: boolean;
}

function num(name: string, raw: string | undefined): number | undefined {
  return parseNumberOption(name, raw);
}

/** Turns the raw CLI options into experiment options (validated). @internal */
export function federatedOptionsFromCli(raw: FederatedRaw): MnistFederatedOptions {
  requireOneOf("--dataset", raw.dataset, ["mnist"] as const);
  const model = requireOneOf("--model", raw.model, ["mlp", "cnn"] as const);
  const clients = requireInteger("--clients", num("clients", raw.clients), { min: 1 });
  const clientsPerRound = requireInteger("--clients-per-round", num("clients-per-round", raw.clientsPerRound), { min: 1 });
  if (clientsPerRound > clients) {
    throw new DpError("invalid_parameter", `\`--clients-per-round\` must be <= \`--clients\` (${clients}). Found ${clientsPerRound}.`, "--clients-per-round");
  }
  const bRaw = raw.localBatchSize;
  const localBatchSize = bRaw === "inf" || bRaw === "Infinity" || bRaw === "all" ? Infinity : requireInteger("--local-batch-size", num("local-batch-size", bRaw), { min: 1 });
  const dp = requireOneOf("--dp", raw.dp, FEDERATED_DP_MODES) as FederatedDpMode;
  const noiseMultiplier = requireNonNegative("--noise-multiplier", num("noise-multiplier", raw.noiseMultiplier));
  if (dp !== "none" && !(noiseMultiplier > 0)) requirePositive("--noise-multiplier", noiseMultiplier);
  const opts: MnistFederatedOptions = {
    model,
    clients,
    clientsPerRound,
    localEpochs: requireInteger("--local-epochs", num("local-epochs", raw.localEpochs), { min: 1 }),
    localBatchSize,
    learningRate: requirePositive("--learning-rate", num("learning-rate", raw.learningRate)),
    rounds: requireInteger("--rounds", num("rounds", raw.rounds), { min: 1 }),
    partition: requireOneOf("--partition", raw.partition, FEDERATED_PARTITIONS) as FederatedPartitionKind,
    alpha: requirePositive("--alpha", num("alpha", raw.alpha)),
    dp,
    noiseMultiplier,
    clip: requirePositive("--clip", num("clip", raw.clip)),
    adaptiveClip: Boolean(raw.adaptiveClip),
    secureAggregation: Boolean(raw.secureAggregation),
    compression: raw.compression,
    trainExamples: requireInteger("--train-size", num("train-size", raw.trainSize), { min: 1, max: 60000 }),
    testExamples: requireInteger("--test-size", num("test-size", raw.testSize), { min: 1, max: 10000 }),
    dropoutProbability: requireInRange01("--dropout", num("dropout", raw.dropout)),
    serverOptimizer: {
      kind: requireOneOf("--server-optimizer", raw.serverOptimizer, ["sgd", "momentum", "adam"] as const),
      learningRate: raw.serverLearningRate === undefined ? undefined : requirePositive("--server-learning-rate", num("server-learning-rate", raw.serverLearningRate)),
    },
  };
  if (raw.selection !== undefined) opts.selection = requireOneOf("--selection", raw.selection, ["fixed", "poisson"] as const);
  if (raw.targetEpsilon !== undefined) {
    if (dp === "none") throw new DpError("invalid_parameter", "`--target-epsilon` needs `--dp` other than none.", "--target-epsilon");
    opts.targetEpsilon = requirePositive("--target-epsilon", num("target-epsilon", raw.targetEpsilon));
  }
  if (raw.targetDelta !== undefined) opts.targetDelta = requireOpenProbability("--target-delta", num("target-delta", raw.targetDelta));
  if (raw.seed !== undefined) opts.seed = requireInteger("--seed", num("seed", raw.seed), { min: 0 });
  if (raw.service) {
    opts.service = true;
    if (dp !== "none" && dp !== "server" && dp !== "client") throw new DpError("invalid_parameter", "`--service` supports `--dp` none, server or client.", "--service");
    if (raw.minClients !== undefined) opts.minClients = requireInteger("--min-clients", num("min-clients", raw.minClients), { min: 1, max: clientsPerRound });
  } else if (raw.minClients !== undefined) {
    throw new DpError("invalid_parameter", "`--min-clients` needs `--service`.", "--min-clients");
  }
  if (opts.secureAggregation && dp !== "client") {
    throw new DpError("invalid_parameter", "`--secure-aggregation` needs `--dp client`.", "--secure-aggregation");
  }
  if (opts.adaptiveClip && dp !== "server" && dp !== "client") {
    throw new DpError("invalid_parameter", "`--adaptive-clip` needs `--dp server` or `--dp client`.", "--adaptive-clip");
  }
  return opts;
}

function requireInRange01(name: string, v: number | undefined): number {
  const x = requireNonNegative(name, v);
  if (!(x <= 1)) throw new DpError("invalid_parameter", `\`${name}\` must be in [0, 1]. Found ${x}.`, name);
  return x;
}

async function run(raw: FederatedRaw): Promise<void> {
  const opts = federatedOptionsFromCli(raw);
  await prepareBackend({ announce: !raw.json });
  const bar = new ProgressBar({ total: opts.rounds ?? 1, label: "rounds", force: Boolean(raw.progress) });
  const logLines: string[] = [];
  const result = await runMnistFederated({
    ...opts,
    log: (l) => logLines.push(l),
    onRound: (r: RoundReport) => {
      const acc = r.metrics?.accuracy;
      bar.tick(1, `acc ${acc === undefined ? "-" : (100 * acc).toFixed(1) + "%"}${r.epsilon !== undefined ? ` eps ${r.epsilon.toFixed(2)}` : ""} up ${(r.uplinkBytes / 1e6).toFixed(2)} MB`);
    },
  });
  bar.done();
  const rows = result.rounds.map((r) => ({
    round: r.round + 1,
    selected: r.selected,
    accepted: r.accepted,
    testAccuracy: r.metrics?.accuracy ?? null,
    epsilon: r.epsilon ?? null,
    l2NormClip: r.l2NormClip ?? null,
    uplinkMegabytes: r.uplinkBytes / 1e6,
    meanLocalLoss: r.meanLocalLoss ?? null,
    seconds: r.seconds,
    failures: r.failures.length,
  }));
  const summary = {
    dataset: "mnist",
    model: opts.model,
    parameters: result.parameters,
    clients: opts.clients,
    clientsPerRound: opts.clientsPerRound,
    partition: opts.partition,
    dp: opts.dp,
    aggregator: result.aggregator,
    noiseMultiplier: opts.dp === "none" ? null : opts.noiseMultiplier,
    compression: result.compression,
    rounds: result.rounds.length,
    stoppedBy: result.stoppedBy,
    testAccuracy: result.accuracy,
    epsilon: result.epsilon ?? null,
    targetDelta: opts.dp === "none" ? null : result.targetDelta,
    uplinkMegabytes: result.uplinkBytes / 1e6,
    seeded: opts.seed !== undefined,
  };
  if (raw.plot) {
    const evaluated = rows.filter((r) => r.testAccuracy !== null);
    const series = [{ name: "test accuracy", x: evaluated.map((r) => r.round), y: evaluated.map((r) => r.testAccuracy as number) }];
    const svg = linePlot({ series, title: `FedAvg MNIST (${opts.partition}, dp ${opts.dp})`, xLabel: "round", yLabel: "test accuracy" });
    await savePlot(raw.plot, svg);
  }
  if (raw.json) {
    printJson({ ...summary, history: rows, failures: logLines });
    return;
  }
  process.stdout.write(
    renderTable(
      ["round", "clients", "test acc", "epsilon", "clip", "uplink MB", "s"],
      rows.map((r) => [r.round, `${r.accepted}/${r.selected}`, r.testAccuracy, r.epsilon, r.l2NormClip, r.uplinkMegabytes, r.seconds]),
    ),
  );
  const eps = summary.epsilon === null ? "not private" : `epsilon ${summary.epsilon.toFixed(3)} at delta ${summary.targetDelta?.toExponential(2)} (${opts.dp === "example" ? "example level" : opts.dp === "local" ? "local, per participation" : "client level"})`;
  process.stdout.write(
    `\nfinal test accuracy ${(100 * summary.testAccuracy).toFixed(2)}%, ${eps}, uplink ${summary.uplinkMegabytes.toFixed(2)} MB in ${summary.rounds} rounds${summary.stoppedBy === "targetEpsilon" ? " (stopped at the target epsilon)" : ""}${summary.seeded ? "; seeded run: NOT private" : ""}\n`,
  );
  if (logLines.length > 0) process.stdout.write(`${logLines.length} client failures (dropped, late or rejected); --json lists them\n`);
}

/** Registers `dpkit federated` on the program. */
export function register(program: Command): void {
  program
    .command("federated")
    .description("Federated averaging on MNIST split among simulated clients, with client-level DP (server or client noise), compression and accounting")
    .option("--dataset <name>", "dataset (mnist)", "mnist")
    .option("--model <kind>", "mlp (784-128-10) or cnn (small tanh CNN)", "mlp")
    .option("--clients <N>", "number of clients", "100")
    .option("--clients-per-round <K>", "clients per round (Poisson rate K/N under --dp server|client)", "10")
    .option("--local-epochs <E>", "local epochs", "5")
    .option("--local-batch-size <B>", "local minibatch size (inf: FedSGD)", "10")
    .option("--learning-rate <lr>", "client learning rate", "0.1")
    .option("--rounds <R>", "maximum rounds", "20")
    .option("--partition <kind>", "iid, shards (pathological non-IID), dirichlet, unbalanced", "iid")
    .option("--alpha <A>", "Dirichlet concentration", "0.5")
    .option("--dp <mode>", "none, server (trusted server adds noise), client (distributed noise, needs secure aggregation), local (each client adds full noise), example (local DP-SGD)", "none")
    .option("--noise-multiplier <z>", "noise multiplier z", "1")
    .option("--clip <C>", "L2 clip of each client update (per example with --dp example)", "1")
    .option("--adaptive-clip", "adapt C to the median update norm (Andrew et al. 2021)")
    .option("--secure-aggregation", "with --dp client: run the noise shares through secure aggregation (SecAgg+, simulated)")
    .option("--service", "run the rounds on the deployed code path: the federated service and client runtime over an in-memory transport")
    .option("--min-clients <M>", "with --service: fewest reports for a round to complete (default K)")
    .option("--compression <spec>", "none, quantize:B[:rotate], subsample:F, mask:F, lowrank:K", "none")
    .option("--target-epsilon <eps>", "stop before client-level epsilon exceeds this")
    .option("--target-delta <delta>", "delta for epsilon (default 1/N^1.1)")
    .option("--selection <kind>", "fixed (K of N) or poisson (rate K/N)")
    .option("--server-optimizer <kind>", "sgd (FedAvg), momentum, adam", "sgd")
    .option("--server-learning-rate <lr>", "server learning rate")
    .option("--train-size <n>", "training examples used", "60000")
    .option("--test-size <n>", "test examples used", "10000")
    .option("--dropout <p>", "probability that a selected client drops out (simulated)", "0")
    .option("--seed <s>", "seed everything for a reproducible simulation (INSECURE noise)")
    .option("--plot <file>", "save test accuracy against rounds (.svg or .png)")
    .option("--json", "print one JSON object with the per-round history")
    .option("--progress", "draw the progress bar even when stderr is not a terminal")
    .action(async (raw: FederatedRaw) => {
      await run(raw);
    });
}
