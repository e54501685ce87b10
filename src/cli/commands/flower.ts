/**
 * `dpkit flower client` — join a Flower server (grpc-bidi, `flwr.server.start_server`) as a
 * client training an MNIST model on one partition, with dpkit's client-side privacy.
 * @module
 */
import type { Command } from "commander";
import {
  DpError,
  requireInRange,
  requireInteger,
  requireNonNegative,
  requireOneOf,
  requireOpenProbability,
  requirePositive,
} from "../../errors.js";
import { parseNumberOption, printJson } from "../output.js";

interface FlowerClientRaw {
  server: string;
  data: string;
  model: string;
  partition: string;
  dp: string;
  clip: string;
  noiseMultiplier: string;
  delta: string;
  trainSize: string;
  testSize: string;
  epochs: string;
  batchSize: string;
  lr: string;
  connectTimeout: string;
  timeout: string;
  json?: boolean;
}

/** The validated options of `dpkit flower client`. @internal */
export interface FlowerClientCliOptions {
  server: string;
  model: "mlp" | "cnn";
  partition: { index: number; count: number };
  dp: "none" | "local" | "dpsgd";
  clip: number;
  noiseMultiplier: number;
  delta: number;
  trainSize: number;
  testSize: number;
  defaults: { localEpochs: number; batchSize: number; learningRate: number };
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  json: boolean;
}

const num = (name: string, raw: string | undefined): number | undefined => {
  try {
    return parseNumberOption(name, raw);
  } catch (e) {
    throw new DpError("invalid_parameter", (e as Error).message, `--${name}`);
  }
};

/** Parses and checks the CLI options before anything connects. @internal */
export function flowerClientOptionsFromCli(raw: FlowerClientRaw): FlowerClientCliOptions {
  const server = raw.server;
  if (
    typeof server !== "string" ||
    !/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(server) ||
    Number(server.slice(server.lastIndexOf(":") + 1)) > 65535
  ) {
    throw new DpError("invalid_parameter", `\`--server\` must be HOST:PORT. Found ${JSON.stringify(server ?? "")}.`, "--server");
  }
  requireOneOf("--data", raw.data, ["mnist"] as const);
  const model = requireOneOf("--model", raw.model, ["mlp", "cnn"] as const);
  const m = /^(\d+)\/(\d+)$/.exec(raw.partition ?? "");
  if (!m)
    throw new DpError(
      "invalid_parameter",
      `\`--partition\` must be I/N with 0 <= I < N (e.g. 0/2). Found ${JSON.stringify(raw.partition ?? "")}.`,
      "--partition",
    );
  const count = requireInteger("--partition N", Number(m[2]), { min: 1, max: 60000 });
  const index = requireInteger("--partition I", Number(m[1]), { min: 0, max: count - 1 });
  const dp = requireOneOf("--dp", raw.dp, ["none", "local", "dpsgd"] as const);
  const clip = requirePositive("--clip", num("clip", raw.clip));
  const noiseMultiplier = requireNonNegative("--noise-multiplier", num("noise-multiplier", raw.noiseMultiplier));
  if (dp !== "none") requirePositive("--noise-multiplier", noiseMultiplier);
  const trainSize = requireInteger("--train-size", num("train-size", raw.trainSize), { min: count, max: 60000 });
  const testSize = requireInteger("--test-size", num("test-size", raw.testSize), { min: 0, max: 10000 });
  return {
    server,
    model,
    partition: { index, count },
    dp,
    clip,
    noiseMultiplier,
    delta: requireOpenProbability("--delta", num("delta", raw.delta)),
    trainSize,
    testSize,
    defaults: {
      localEpochs: requireInteger("--epochs", num("epochs", raw.epochs), { min: 1, max: 1000 }),
      batchSize: requireInteger("--batch-size", num("batch-size", raw.batchSize), { min: 1 }),
      learningRate: requirePositive("--lr", num("lr", raw.lr)),
    },
    // Bounded (a day) so that the milliseconds stay finite: 1e308 s was refused only after connecting began.
    connectTimeoutMs:
      1000 *
      requireInRange("--connect-timeout", requirePositive("--connect-timeout", num("connect-timeout", raw.connectTimeout)), 0.001, 86_400),
    idleTimeoutMs: 1000 * requireInRange("--timeout", requirePositive("--timeout", num("timeout", raw.timeout)), 0.001, 86_400),
    json: Boolean(raw.json),
  };
}

/** The slice [start, end) of `total` examples that partition I of N gets (contiguous, sizes differ by at most 1). @internal */
export function partitionSlice(total: number, index: number, count: number): { start: number; count: number } {
  const start = Math.floor((index * total) / count);
  const end = Math.floor(((index + 1) * total) / count);
  return { start, count: end - start };
}

async function runClient(o: FlowerClientCliOptions): Promise<void> {
  const [{ prepareBackend }, { loadMnist }, { mnistInputShape, mnistModel }, flower] = await Promise.all([
    import("../../backend/index.js"),
    import("../../data/mnist.js"),
    import("../../dpsgd/mnist-models.js"),
    import("../../federated/flower/index.js"),
  ]);
  await prepareBackend({ announce: !o.json });
  const tr = partitionSlice(o.trainSize, o.partition.index, o.partition.count);
  const te = partitionSlice(o.testSize, o.partition.index, o.partition.count);
  const train = loadMnist({ split: "train", start: tr.start, count: tr.count });
  const test = loadMnist({ split: "test", start: te.start, count: te.count });
  const model = mnistModel(o.model);
  const client = flower.createTfjsFlowerClient({
    model,
    inputShape: mnistInputShape(o.model),
    train: { x: train.images, y: train.labels, count: train.count },
    test: { x: test.images, y: test.labels, count: test.count },
    privacy: o.dp === "none" ? { kind: "none" } : { kind: o.dp, l2NormClip: o.clip, noiseMultiplier: o.noiseMultiplier },
    defaults: o.defaults,
    targetDelta: o.delta,
    properties: { partition: `${o.partition.index}/${o.partition.count}`, model: o.model },
  });
  const log = (s: string): void => {
    if (!o.json) process.stderr.write(`${s}\n`);
  };
  log(
    `flower: partition ${o.partition.index}/${o.partition.count}: ${train.count} training and ${test.count} test examples; connecting to ${o.server}`,
  );
  await flower.runFlowerClient({
    server: o.server,
    client,
    connectTimeoutMs: o.connectTimeoutMs,
    idleTimeoutMs: o.idleTimeoutMs,
    onInstruction: (kind) => log(`flower: ${kind}`),
  });
  const s = client.summary();
  const out = {
    fitRounds: s.fitRounds,
    evaluateRounds: s.evaluateRounds,
    examples: s.examples,
    ...(s.epsilon !== undefined ? { epsilon: s.epsilon, delta: s.delta } : {}),
  };
  if (o.json) printJson(out);
  else {
    process.stdout.write(
      `fit rounds ${out.fitRounds}, evaluate rounds ${out.evaluateRounds}, ${out.examples} examples` +
        (s.epsilon !== undefined ? `, client epsilon ${s.epsilon.toPrecision(4)} at delta ${s.delta}` : "") +
        "\n",
    );
  }
}

/** Registers `dpkit flower client`. */
export function register(program: Command): void {
  const flower = program.command("flower").description("take part in a Flower federated-learning run (Flower's gRPC protocol)");
  flower.exitOverride();
  flower
    .command("client")
    .description("join a Flower server (flwr.server.start_server) as an MNIST client, with client-side DP")
    .requiredOption("--server <HOST:PORT>", "the Flower server's address")
    .option("--data <name>", "dataset (mnist)", "mnist")
    .option("--model <kind>", "mlp (784-128-10) or cnn (small tanh CNN)", "mlp")
    .requiredOption("--partition <I/N>", "use partition I of N (0-based) of the training and test sets")
    .option("--dp <mode>", "none, local (clip + Gaussian noise on the client, as LocalDpMod) or dpsgd (example-level DP-SGD)", "none")
    .option("--clip <C>", "L2 clip: of the update (local) or per example (dpsgd)", "1")
    .option("--noise-multiplier <z>", "noise standard deviation / clip", "1")
    .option("--delta <delta>", "delta of the client's reported epsilon", "1e-5")
    .option("--train-size <n>", "MNIST training examples split among the N partitions", "60000")
    .option("--test-size <n>", "MNIST test examples split among the N partitions", "10000")
    .option("--epochs <E>", "local epochs when the server's config has no local_epochs", "1")
    .option("--batch-size <B>", "batch size when the server's config has no batch_size", "32")
    .option("--lr <lr>", "learning rate when the server's config has no lr", "0.05")
    .option("--connect-timeout <s>", "seconds to wait for the connection", "30")
    .option("--timeout <s>", "seconds to wait for each server instruction", "600")
    .option("--json", "print one JSON object {fitRounds, evaluateRounds, examples, epsilon?, delta?}")
    .exitOverride()
    .action(async (raw: FlowerClientRaw) => {
      await runClient(flowerClientOptionsFromCli(raw));
    });
}
