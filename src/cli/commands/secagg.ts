/**
 * `dpkit secagg simulate`: runs one secure-aggregation round (Bonawitz et al. 2017, or SecAgg+
 * with `--plus`) in process with random inputs and dropouts, checks the released sum against the
 * plain sum of the survivors, and reports time and bytes.
 * @module
 */
import type { Command } from "commander";
import { DpError } from "../../errors.js";
import { secAggPlusParameters, simulateSecAgg, SECAGG_DROP_STAGES, type SecAggDropStage } from "../../federated/secagg/index.js";
import { SeededRng } from "../../random/index.js";
import { parseIntegerOption, parseNumberOption, printJson, renderTable } from "../output.js";

interface SimulateOptions {
  clients: string;
  threshold?: string;
  dimension: string;
  dropout: string;
  stage: string;
  bits: string;
  plus?: boolean;
  degree?: string;
  seed?: string;
  json?: boolean;
}

/** Registers `dpkit secagg`. */
export function register(program: Command): void {
  const secagg = program.command("secagg").description("secure aggregation: the server learns only the sum of client updates");
  secagg
    .command("simulate")
    .description("run one secure-aggregation round in process and check the released sum")
    .option("--clients <n>", "number of clients", "10")
    .option("--threshold <t>", "shares needed to unmask (default: a majority of each client's share holders)")
    .option("--dimension <d>", "entries per input vector", "1000")
    .option("--dropout <f>", "fraction of clients that drop out", "0")
    .option("--stage <name>", `stage at which they drop: ${SECAGG_DROP_STAGES.join("|")}`, "maskedInput")
    .option("--bits <k>", "arithmetic modulo 2^k (1..32)", "32")
    .option("--plus", "SecAgg+ (Bell et al. 2020): a random k-regular neighbour graph instead of the complete graph")
    .option("--degree <k>", "SecAgg+ degree (even); default chosen for the dropout rate")
    .option("--seed <s>", "seeded (INSECURE, reproducible) randomness instead of the secure source")
    .option("--json", "print one JSON object")
    .action((opts: SimulateOptions) => {
      const clients = parseNumberOption("clients", opts.clients) as number;
      const dimension = parseNumberOption("dimension", opts.dimension) as number;
      const dropout = parseNumberOption("dropout", opts.dropout) as number;
      if (opts.degree !== undefined && !opts.plus) {
        throw new DpError(
          "invalid_parameter",
          "`--degree` applies only with --plus (SecAgg+); the complete graph of Bonawitz et al. has degree clients - 1.",
          "--degree",
        );
      }
      const modulusBits = parseNumberOption("bits", opts.bits) as number;
      let degree = parseIntegerOption("degree", opts.degree);
      let threshold = parseIntegerOption("threshold", opts.threshold);
      if (opts.plus && degree === undefined) {
        const p = secAggPlusParameters({ clients, dropoutRate: Math.min(dropout, 0.49) });
        degree = p.degree;
        threshold ??= p.threshold;
      }
      const rng = opts.seed !== undefined ? new SeededRng(parseIntegerOption("seed", opts.seed)) : undefined;
      const r = simulateSecAgg({
        clients,
        threshold,
        dimension,
        modulusBits,
        degree,
        dropoutRate: dropout,
        dropStage: opts.stage as SecAggDropStage,
        rng,
      });
      const dropped = r.dropped[opts.stage as SecAggDropStage].length;
      const summary = {
        protocol: opts.plus && r.degree < clients - 1 ? "secagg+" : "bonawitz2017",
        clients,
        threshold: r.threshold,
        degree: r.degree,
        dimension,
        modulusBits,
        dropStage: opts.stage,
        dropped,
        survivors: r.survivors.length,
        aborted: r.sum === null,
        abortReason: r.abortReason ?? null,
        exact: r.exact,
        serverMs: r.serverMs,
        serverCpuMs: r.serverCpuMs,
        clientMsMean: r.clientMsMean,
        clientCpuMsMean: r.clientCpuMsMean,
        clientMsMax: r.clientMsMax,
        clientUploadBytes: r.clientUploadBytes,
        clientDownloadBytes: r.clientDownloadBytes,
        seeded: rng !== undefined,
      };
      if (r.sum !== null && !r.exact) process.exitCode = 1;
      if (opts.json) return printJson(summary);
      process.stdout.write(
        `Secure aggregation (${summary.protocol === "secagg+" ? "SecAgg+, Bell et al. 2020" : "Bonawitz et al. 2017"}): ${clients} clients, threshold ${r.threshold}, degree ${r.degree}, ${dimension} entries mod 2^${modulusBits}${rng ? " (seeded: NOT secure)" : ""}\n\n`,
      );
      process.stdout.write(
        renderTable(
          [
            "dropped",
            "at stage",
            "survivors",
            "released",
            "exact",
            "server CPU ms",
            "client CPU ms (mean)",
            "upload B/client",
            "download B/client",
          ],
          [
            [
              dropped,
              opts.stage,
              r.survivors.length,
              r.sum ? "sum" : "nothing",
              r.sum ? r.exact : "-",
              r.serverCpuMs,
              r.clientCpuMsMean,
              Math.round(r.clientUploadBytes),
              Math.round(r.clientDownloadBytes),
            ],
          ],
        ),
      );
      if (r.abortReason) process.stdout.write(`\naborted: ${r.abortReason}\n`);
    });
}
