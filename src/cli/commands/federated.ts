/**
 * `dpkit federated` — federated averaging on MNIST split among simulated clients, with
 * client-level DP (noise on the server or on the clients), example-level DP, compression, and a
 * per-round report of test accuracy, epsilon and uplink megabytes.
 * @module
 */
import type { Command } from "commander";
import { prepareBackend } from "../../backend/index.js";
import { DpError, requireInteger, requireOneOf } from "../../errors.js";
import { checkMnistFederatedOptions, runMnistFederated } from "../../experiments/federated-mnist.js";
import type { FederatedDpMode, FederatedPartitionKind, MnistFederatedOptions } from "../../experiments/federated-mnist.js";
import type { RoundReport } from "../../federated/core/fedavg.js";
import { linePlot, savePlot } from "../../plot/index.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";
import { checkOutputFile } from "../files.js";
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

/**
 * Turns the raw CLI options into experiment options: parsing only; the checks are the
 * library's (`checkMnistFederatedOptions`), run here before any work. @internal
 */
export function federatedOptionsFromCli(raw: FederatedRaw): MnistFederatedOptions {
  requireOneOf("--dataset", raw.dataset, ["mnist"] as const);
  const bRaw = raw.localBatchSize;
  const opts: MnistFederatedOptions = {
    model: raw.model as MnistFederatedOptions["model"],
    clients: num("clients", raw.clients),
    clientsPerRound: num("clients-per-round", raw.clientsPerRound),
    localEpochs: num("local-epochs", raw.localEpochs),
    localBatchSize: bRaw === "inf" || bRaw === "Infinity" || bRaw === "all" ? Infinity : num("local-batch-size", bRaw),
    learningRate: num("learning-rate", raw.learningRate),
    rounds: num("rounds", raw.rounds),
    partition: raw.partition as FederatedPartitionKind,
    alpha: num("alpha", raw.alpha),
    dp: raw.dp as FederatedDpMode,
    noiseMultiplier: num("noise-multiplier", raw.noiseMultiplier),
    clip: num("clip", raw.clip),
    adaptiveClip: Boolean(raw.adaptiveClip),
    secureAggregation: Boolean(raw.secureAggregation),
    compression: raw.compression,
    trainExamples: num("train-size", raw.trainSize),
    testExamples: num("test-size", raw.testSize),
    dropoutProbability: num("dropout", raw.dropout),
    serverOptimizer: {
      kind: raw.serverOptimizer as "sgd" | "momentum" | "adam",
      learningRate: num("server-learning-rate", raw.serverLearningRate),
    },
    selection: raw.selection as MnistFederatedOptions["selection"],
    targetEpsilon: num("target-epsilon", raw.targetEpsilon),
    targetDelta: num("target-delta", raw.targetDelta),
    seed: num("seed", raw.seed),
  };
  if (raw.service) {
    opts.service = true;
    if (opts.dp !== "none" && opts.dp !== "server" && opts.dp !== "client")
      throw new DpError("invalid_parameter", "`--service` supports `--dp` none, server or client.", "--service");
    if (raw.minClients !== undefined)
      opts.minClients = requireInteger("--min-clients", num("min-clients", raw.minClients), { min: 1, max: opts.clientsPerRound ?? 10 });
  } else if (raw.minClients !== undefined) {
    throw new DpError("invalid_parameter", "`--min-clients` needs `--service`.", "--min-clients");
  }
  return checkMnistFederatedOptions(opts);
}

async function run(raw: FederatedRaw): Promise<void> {
  const opts = federatedOptionsFromCli(raw);
  if (raw.plot) checkOutputFile("--plot", raw.plot, [".svg", ".png"]); // before any work
  await prepareBackend({ announce: !raw.json });
  const bar = new ProgressBar({ total: opts.rounds ?? 1, label: "rounds", force: Boolean(raw.progress) });
  const logLines: string[] = [];
  const result = await runMnistFederated({
    ...opts,
    log: (l) => logLines.push(l),
    onRound: (r: RoundReport) => {
      const acc = r.metrics?.accuracy;
      bar.tick(
        1,
        `acc ${acc === undefined ? "-" : (100 * acc).toFixed(1) + "%"}${r.epsilon !== undefined ? ` eps ${r.epsilon.toFixed(2)}` : ""} up ${(r.uplinkBytes / 1e6).toFixed(2)} MB`,
      );
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
    neighboringRelation: result.neighboringRelation ?? null,
    privacyUnit: result.privacyUnit ?? null,
    warnings: result.warnings,
    uplinkMegabytes: result.uplinkBytes / 1e6,
    seeded: opts.seed !== undefined,
  };
  if (raw.plot) {
    const evaluated = rows.filter((r) => r.testAccuracy !== null);
    const series = [{ name: "test accuracy", x: evaluated.map((r) => r.round), y: evaluated.map((r) => r.testAccuracy as number) }];
    const svg = linePlot({ series, title: `FedAvg MNIST (${opts.partition}, dp ${opts.dp})`, xLabel: "round", yLabel: "test accuracy" });
    await savePlot(raw.plot, svg);
  }
  if (raw.json) return printJson({ ...summary, history: rows, failures: logLines });
  process.stdout.write(
    renderTable(
      ["round", "clients", "test acc", "epsilon", "clip", "uplink MB", "s"],
      rows.map((r) => [r.round, `${r.accepted}/${r.selected}`, r.testAccuracy, r.epsilon, r.l2NormClip, r.uplinkMegabytes, r.seconds]),
    ),
  );
  const unit = opts.dp === "example" ? "example" : "client";
  const relation = summary.neighboringRelation === "replaceOne" ? `replace one ${unit}` : `add or remove one ${unit}`;
  const eps =
    summary.epsilon === null
      ? "not private"
      : `epsilon ${summary.epsilon.toFixed(3)} at delta ${summary.targetDelta?.toExponential(2)} (${opts.dp === "example" ? "example level" : opts.dp === "local" ? "local, per participation" : "client level"}; neighbours: ${relation})`;
  process.stdout.write(
    `\nfinal test accuracy ${(100 * summary.testAccuracy).toFixed(2)}%, ${eps}, uplink ${summary.uplinkMegabytes.toFixed(2)} MB in ${summary.rounds} rounds${summary.stoppedBy === "targetEpsilon" ? " (stopped at the target epsilon)" : ""}${summary.seeded ? "; seeded run: NOT private" : ""}\n`,
  );
  for (const w of summary.warnings) process.stdout.write(`WARNING: ${w}\n`);
  if (logLines.length > 0) process.stdout.write(`${logLines.length} client failures (dropped, late or rejected); --json lists them\n`);
}

/** Registers `dpkit federated` on the program. */
export function register(program: Command): void {
  program
    .command("federated")
    .description(
      "Federated averaging on MNIST split among simulated clients, with client-level DP (server or client noise), compression and accounting",
    )
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
    .option(
      "--dp <mode>",
      "none, server (trusted server adds noise), client (distributed noise, needs secure aggregation), local (each client adds full noise), example (local DP-SGD)",
      "none",
    )
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
