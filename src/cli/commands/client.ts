/**
 * `dpkit client` — a federated client for the MNIST demo population: keeps its partition in a
 * SQLite example store, checks in with the server, trains when selected, clips, noises and masks
 * its update in this process, uploads, and repeats until the server says the population is done.
 * @module
 */
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import type * as tf from "@tensorflow/tfjs";
import type { MnistModelKind } from "../../dpsgd/mnist-models.js";
import { DpError, requireInteger, requireOneOf, requirePositive } from "../../errors.js";
import type { FederatedClientSummary } from "../../federated/client/runtime.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";

interface ClientRaw {
  server?: string;
  data: string;
  partition?: string;
  store?: string;
  population: string;
  maxExamples: string;
  maxRounds?: string;
  timeout: string;
  label?: string;
  json?: boolean;
  quiet?: boolean;
}

/** What `dpkit client --json` prints. */
export interface ClientCliSummary extends FederatedClientSummary {
  partition: string;
  examples: number;
  store: string;
  bytesUp: number;
  bytesDown: number;
}

async function run(raw: ClientRaw): Promise<void> {
  const num = (name: string, v: string | undefined): number | undefined => parseNumberOption(name, v);
  if (!raw.server) throw new DpError("invalid_parameter", "`--server` is required (e.g. http://127.0.0.1:8080).", "--server");
  requireOneOf("--data", raw.data, ["mnist"] as const);
  if (!raw.partition) throw new DpError("invalid_parameter", "`--partition` is required (I/N, e.g. 3/10).", "--partition");
  const { index, count } = (await import("../../federated/client/demo-data.js")).parsePartitionSpec(raw.partition);
  const storeFile = raw.store ?? ":memory:";
  if (storeFile !== ":memory:") {
    const dir = path.dirname(path.resolve(storeFile));
    if (!existsSync(dir) || !statSync(dir).isDirectory())
      throw new DpError("invalid_parameter", `\`--store\` must be in an existing folder. Found ${JSON.stringify(raw.store)}.`, "--store");
  }
  const maxExamples = requireInteger("--max-examples", num("max-examples", raw.maxExamples), { min: 1, max: 1_000_000 });
  const maxRounds =
    raw.maxRounds === undefined ? undefined : requireInteger("--max-rounds", num("max-rounds", raw.maxRounds), { min: 1, max: 1_000_000 });
  const timeoutMs = 1000 * requirePositive("--timeout", num("timeout", raw.timeout));
  // tfjs and the client are loaded only when this command runs (every dpkit command starts faster).
  const { mnistDemoPartition } = await import("../../federated/client/demo-data.js");
  const { HttpTransport } = await import("../../federated/transport/http-client.js");
  const transport = new HttpTransport({ baseUrl: raw.server });
  const { prepareBackend } = await import("../../backend/index.js");
  const { mnistModel } = await import("../../dpsgd/mnist-models.js");
  const { probabilityCrossEntropyLoss } = await import("../../federated/client/local-training.js");
  const { FederatedClient } = await import("../../federated/client/runtime.js");
  const { openSqliteExampleStore } = await import("../../federated/client/sqlite-example-store.js");
  await prepareBackend({ announce: false });
  const store = await openSqliteExampleStore({ file: storeFile, featureLength: 784, timeToLiveMs: 30 * 24 * 3600 * 1000 });
  const say = raw.quiet ? (): void => undefined : (line: string): void => void process.stderr.write(`[client ${raw.partition}] ${line}\n`);
  let summary: FederatedClientSummary;
  let examples = 0;
  try {
    if ((await store.count()) === 0) {
      const p = mnistDemoPartition(index, count);
      const rows = function* () {
        for (let i = 0; i < p.count; i++) yield { features: p.x.subarray(i * 784, (i + 1) * 784), label: p.y[i] };
      };
      await store.addMany(rows());
      say(`stored partition ${index}/${count} (${p.count} examples) in ${storeFile}`);
    }
    examples = await store.count();
    const models = new Map<string, tf.LayersModel>();
    const client = new FederatedClient({
      transport,
      population: raw.population,
      clientKind: "node",
      label: raw.label ?? `node-${index}/${count}`,
      store,
      selector: { limit: maxExamples },
      loss: probabilityCrossEntropyLoss,
      maxRounds,
      timeoutMs,
      model: (spec) => {
        const kind = requireOneOf("plan.model.name", spec.name, ["mlp", "cnn"] as const) as MnistModelKind;
        let m = models.get(kind);
        if (!m) models.set(kind, (m = mnistModel(kind)));
        return m;
      },
      onEvent: (e) => say(`${e.state}${e.round !== undefined ? ` round ${e.round}` : ""}${e.detail ? `: ${e.detail}` : ""}`),
    });
    summary = await client.run();
  } finally {
    await store.close();
  }
  const out: ClientCliSummary = {
    ...summary,
    partition: raw.partition,
    examples,
    store: storeFile,
    bytesUp: transport.bytesUp,
    bytesDown: transport.bytesDown,
  };
  if (raw.json) return printJson(out);
  process.stdout.write(
    renderTable(
      ["round", "outcome", "examples", "wait ms", "train ms", "privatise ms", "upload ms", "round ms"],
      out.rounds.map((r) => [r.round + 1, r.outcome, r.numExamples, r.waitMs, r.trainMs, r.privatizeMs, r.uploadMs, r.roundMs]),
    ),
  );
  process.stdout.write(
    `\n${out.rounds.length} round(s); stopped: ${out.reason}; uploaded ${out.bytesUp} bytes, downloaded ${out.bytesDown} bytes\n`,
  );
}

/** Registers `dpkit client` on the program. */
export function register(program: Command): void {
  program
    .command("client")
    .description(
      "Join a federated population as a Node client: train on a local example store, clip/noise/mask the update here, upload; until the server is done",
    )
    .option("--server <url>", "the server's base URL, e.g. http://127.0.0.1:8080")
    .option("--data <name>", "demo dataset (mnist)", "mnist")
    .option("--partition <I/N>", "which demo partition this client holds (I of N, IID split of MNIST's training set)")
    .option("--store <file>", "SQLite example store (filled with the partition once); default in memory")
    .option("--population <name>", "population to join", "mnist")
    .option("--max-examples <n>", "examples read from the store per round (the newest)", "600")
    .option("--max-rounds <n>", "stop after taking part in this many rounds")
    .option("--timeout <S>", "give up after this many seconds", "3600")
    .option("--label <text>", "label for the server's logs")
    .option("--quiet", "no log lines on stderr")
    .option("--json", "print one JSON object at the end")
    .action(async (raw: ClientRaw) => {
      await run(raw);
    });
}
