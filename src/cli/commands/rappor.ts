/**
 * `dpkit rappor`: the RAPPOR pipeline of the reference implementation (google/rappor) on the
 * command line — encode, sum-bits, hash-candidates, decode — plus `privacy` and `simulate`.
 * @module
 */
import type { Command } from "commander";
import { DpError, requireInteger } from "../../errors.js";
import { SeededRng, type Rng } from "../../random/index.js";
import {
  DEFAULT_RAPPOR_PARAMS,
  MAX_RAPPOR_CANDIDATES,
  createRapporEncoder,
  decodeRappor,
  effectiveProbPrr,
  formatRapporCountsCsv,
  formatRapporMapCsv,
  formatRapporReportsCsv,
  hashRapporCandidates,
  memoryRapporStore,
  openRapporSqliteStore,
  parseRapporCountsCsv,
  parseRapporCsvRows,
  parseRapporMapCsv,
  parseRapporParamsCsv,
  parseRapporReportsCsv,
  rapporBitProbabilities,
  rapporPermanentEpsilon,
  rapporReportEpsilon,
  rapporSimulationCounts,
  simulateRapporCounts,
  simulateRapporReports,
  sumRapporBits,
  validateRapporParams,
  type RapporClientStore,
  type RapporCorrection,
  type RapporDecodeResult,
  type RapporParams,
  type RapporReportRow,
  type RapporSimulationDistribution,
} from "../../ldp/index.js";
import { checkOutputFile, readInputText } from "../files.js";
import { parseIntegerOption, parseNumberOption, printJson, renderTable } from "../output.js";

function readInput(file: string | undefined, what: string): string {
  return readInputText(`--${what}`, file);
}

/** Largest population `rappor simulate --full` encodes one report at a time. */
const MAX_FULL_SIMULATION_REPORTS = 10_000_000;

interface ParamOptions {
  params?: string;
  numBits?: string;
  numHashes?: string;
  numCohorts?: string;
  probPrr?: string;
  probIrr0?: string;
  probIrr1?: string;
}

function addParamOptions(cmd: Command, required: boolean): Command {
  cmd.option("--params <file>", `params CSV (header k,h,m,p,q,f)${required ? "" : "; default: the reference's 16,2,64,0.5,0.75,0.5"}`);
  if (!required) {
    cmd
      .option("--num-bits <k>", "Bloom filter bits k (overrides --params)")
      .option("--num-hashes <h>", "hash functions h")
      .option("--num-cohorts <m>", "cohorts m")
      .option("--prob-prr <f>", "PRR probability f")
      .option("--prob-irr0 <p>", "IRR probability p = P(1 | PRR bit 0)")
      .option("--prob-irr1 <q>", "IRR probability q = P(1 | PRR bit 1)");
  }
  return cmd;
}

function loadParams(o: ParamOptions, required: boolean): RapporParams {
  if (required && !o.params) throw new DpError("invalid_parameter", "`--params` is required.", "params");
  const base = o.params ? parseRapporParamsCsv(readInput(o.params, "params")) : { ...DEFAULT_RAPPOR_PARAMS };
  const num = (name: string, raw: string | undefined, fallback: number): number => parseNumberOption(name, raw) ?? fallback;
  return validateRapporParams({
    numBits: num("num-bits", o.numBits, base.numBits),
    numHashes: num("num-hashes", o.numHashes, base.numHashes),
    numCohorts: num("num-cohorts", o.numCohorts, base.numCohorts),
    probPrr: num("prob-prr", o.probPrr, base.probPrr),
    probIrr0: num("prob-irr0", o.probIrr0, base.probIrr0),
    probIrr1: num("prob-irr1", o.probIrr1, base.probIrr1),
  });
}

function privacySummary(params: RapporParams): Record<string, number> {
  const { trueOne, trueZero } = rapporBitProbabilities(params);
  return {
    permanentEpsilon: rapporPermanentEpsilon(params),
    reportEpsilon: Math.min(rapporPermanentEpsilon(params), rapporReportEpsilon(params)),
    effectiveProbPrr: effectiveProbPrr(params.probPrr),
    "q*": trueOne,
    "p*": trueZero,
  };
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function printDecode(res: RapporDecodeResult, json: boolean | undefined, truth?: Map<string, number>): void {
  if (json) return printJson({ ...res, ...(truth ? { truth: Object.fromEntries(truth) } : {}) });
  const header = ["candidate", ...(truth ? ["true"] : []), "estimate", "std error", "proportion", "prop 95% low", "prop 95% high"];
  const rows = res.detected.map((d) => [
    d.candidate,
    ...(truth ? [truth.get(d.candidate) ?? 0] : []),
    Math.round(d.estimate),
    Math.round(d.standardError),
    d.proportion,
    d.proportionLow95,
    d.proportionHigh95,
  ]);
  process.stdout.write(renderTable(header, rows));
  process.stdout.write(
    `\n${res.detected.length} of ${res.numCandidates} candidates detected in ${res.numReports} reports ` +
      `(${res.correction}, alpha ${res.alpha}; LASSO kept ${res.selectedByLasso}). ` +
      `Allocated ${(100 * res.allocatedProportion).toFixed(1)}%, unexplained ${(100 * res.unexplainedProportion).toFixed(1)}%. ` +
      `Detection floor about ${(100 * res.detectionFrequency).toFixed(2)}% of reports.\n` +
      `Privacy: epsilon ${res.privacy.permanentEpsilon.toFixed(4)} for all reports of a value (PRR), ${res.privacy.reportEpsilon.toFixed(4)} for one report.\n`,
  );
}

/** Registers `dpkit rappor` and its subcommands. */
export function register(program: Command): void {
  const rappor = program
    .command("rappor")
    .description("RAPPOR local DP: encode, sum-bits, hash-candidates, decode, simulate (reference-compatible)");

  addParamOptions(
    rappor
      .command("encode")
      .description(
        "encode values as RAPPOR reports (CSV client,cohort,bloom,prr,irr on stdout; bloom/prr left empty unless --include-private)",
      )
      .argument("[values...]", "values to encode for one client (default: --input)")
      .option(
        "--input <file>",
        "values, one per line, or a CSV with header client,value or client,cohort,value (one client per distinct name); '-' for stdin",
      )
      .option("--store <file>", "SQLite file holding this client's secret, cohort and memoised PRRs (one client)")
      .option("--client <name>", "client name for positional values", "client")
      .option("--secret <text>", "client secret (default: random, kept in the store)")
      .option("--client-name-secret", "use each client's name as its secret, as the reference simulator does (simulation only: INSECURE)")
      .option("--cohort <c>", "client cohort (default: random, kept in the store)")
      .option("--one-time", "one-time RAPPOR: report the PRR, no instantaneous randomized response")
      .option("--include-private", "also write the Bloom filter and PRR (simulation only: never send them)")
      .option("--seed <n>", "seeded, INSECURE randomness for reproducible simulations"),
    false,
  ).action(
    async (
      values: string[],
      o: ParamOptions & {
        input?: string;
        store?: string;
        client: string;
        secret?: string;
        clientNameSecret?: boolean;
        cohort?: string;
        oneTime?: boolean;
        includePrivate?: boolean;
        seed?: string;
      },
    ) => {
      const params = loadParams(o, false);
      const rng: Rng | undefined = o.seed === undefined ? undefined : new SeededRng(parseIntegerOption("seed", o.seed));
      // A seeded client's secret is predictable: it must never land in a store that a later,
      // secure run would reuse.
      if (rng && o.store)
        throw new DpError(
          "invalid_parameter",
          "`--seed` cannot be combined with `--store`: a seeded (predictable) secret must never be saved as this client's secret.",
          "--seed",
        );
      const insecure = rng !== undefined || Boolean(o.clientNameSecret);
      let items: { client: string; value: string; cohort?: number }[];
      if (values.length > 0) items = values.map((value) => ({ client: o.client, value }));
      else {
        const text = readInput(o.input, "input");
        const rows = parseRapporCsvRows(text);
        const head = rows.length > 0 ? rows[0].map((c) => c.trim()).join(",") : "";
        if (head === "client,value") items = rows.slice(1).map((r) => ({ client: r[0], value: r[1] ?? "" }));
        else if (head === "client,cohort,value") {
          // The reference simulator's input (gen_sim_input.py): the cohort is given per client.
          items = rows
            .slice(1)
            .map((r, i) => ({ client: r[0], cohort: parseNumberOption(`input row ${i + 2} cohort`, r[1]), value: r[2] ?? "" }));
        } else items = lines(text).map((value) => ({ client: o.client, value }));
      }
      const clients = new Set(items.map((i) => i.client));
      if (o.store && clients.size > 1)
        throw new DpError("invalid_parameter", "`--store` holds one client; the input names several.", "--store");
      if (o.store) {
        checkOutputFile("--store", o.store);
        // Let the library check the secret and cohort before the store file is created.
        createRapporEncoder({
          params,
          rng,
          secret: o.secret,
          cohort: parseNumberOption("cohort", o.cohort),
          instantaneous: !o.oneTime,
          allowInsecureRng: insecure,
        });
      }
      const stores = new Map<string, RapporClientStore>();
      let sqlite: Awaited<ReturnType<typeof openRapporSqliteStore>> | undefined;
      if (o.store) sqlite = await openRapporSqliteStore({ file: o.store });
      try {
        const encoders = new Map<string, ReturnType<typeof createRapporEncoder>>();
        const out: RapporReportRow[] = [];
        for (const { client, value, cohort } of items) {
          let enc = encoders.get(client);
          if (!enc) {
            const store = sqlite ?? stores.get(client) ?? memoryRapporStore();
            stores.set(client, store);
            enc = createRapporEncoder({
              params,
              store,
              rng,
              secret: o.clientNameSecret ? client : o.secret,
              cohort: cohort ?? parseNumberOption("cohort", o.cohort),
              instantaneous: !o.oneTime,
              allowInsecureRng: insecure,
            });
            encoders.set(client, enc);
          }
          const r = enc.encodeDetailed(value);
          out.push(o.includePrivate ? { client, ...r } : { client, cohort: r.cohort, irr: r.irr });
        }
        if (insecure) {
          process.stderr.write(
            `dpkit: WARNING: ${rng ? "--seed makes the randomness predictable" : "--client-name-secret makes the secret guessable"}: these reports are NOT private (simulation only).\n`,
          );
        }
        process.stdout.write(formatRapporReportsCsv(out, params.numBits));
      } finally {
        sqlite?.close();
      }
    },
  );

  addParamOptions(
    rappor
      .command("sum-bits")
      .description("sum reports into per-cohort bit counts (counts CSV: reports, then k bit sums, bit 0 first)")
      .option("--reports <file>", "reports CSV (default stdin)"),
    true,
  ).action((o: ParamOptions & { reports?: string }) => {
    const params = loadParams(o, true);
    const reports = parseRapporReportsCsv(readInput(o.reports, "reports"), params);
    process.stdout.write(formatRapporCountsCsv(sumRapporBits(reports, params)));
  });

  addParamOptions(
    rappor
      .command("hash-candidates")
      .description("hash candidate strings into the map CSV (candidate, then cohort*k + bit + 1 per cohort and hash)")
      .option("--candidates <file>", "candidates, one per line (default stdin)"),
    true,
  ).action((o: ParamOptions & { candidates?: string }) => {
    const params = loadParams(o, true);
    const candidates = [...new Set(lines(readInput(o.candidates, "candidates")))];
    process.stdout.write(formatRapporMapCsv(hashRapporCandidates(candidates, params)));
  });

  addParamOptions(
    rappor
      .command("decode")
      .description("estimate candidate frequencies from counts and a map")
      .requiredOption("--counts <file>", "counts CSV")
      .requiredOption("--map <file>", "map CSV")
      .option("--alpha <a>", "significance level", "0.05")
      .option("--correction <c>", "bonferroni | benjamini-hochberg | none", "bonferroni")
      .option("--json", "print one JSON object"),
    true,
  ).action((o: ParamOptions & { counts: string; map: string; alpha: string; correction: string; json?: boolean }) => {
    const params = loadParams(o, true);
    const counts = parseRapporCountsCsv(readInput(o.counts, "counts"), params);
    const map = parseRapporMapCsv(readInput(o.map, "map"), params);
    const res = decodeRappor({
      params,
      counts,
      map,
      alpha: parseNumberOption("alpha", o.alpha),
      correction: o.correction as RapporCorrection,
    });
    printDecode(res, o.json);
  });

  addParamOptions(
    rappor.command("privacy").description("show the epsilons of a parameter set").option("--json", "print one JSON object"),
    false,
  ).action((o: ParamOptions & { json?: boolean }) => {
    const params = loadParams(o, false);
    const summary = privacySummary(params);
    if (o.json) return printJson({ params, ...summary, delta: 0, neighboringRelation: "replaceOne (local: one client's value)" });
    process.stdout.write(
      renderTable(
        ["quantity", "value"],
        [
          ["k, h, m", `${params.numBits}, ${params.numHashes}, ${params.numCohorts}`],
          ["p, q, f", `${params.probIrr0}, ${params.probIrr1}, ${params.probPrr}`],
          ["epsilon of the PRR (all reports of a value)", summary.permanentEpsilon],
          ["epsilon of one report", summary.reportEpsilon],
          ["delta", 0],
          ["neighbouring relation", "one client's value replaced by any other (local DP)"],
          ["effective f of the reference client", summary.effectiveProbPrr],
          ["q* = P(report 1 | bit 1)", summary["q*"]],
          ["p* = P(report 1 | bit 0)", summary["p*"]],
        ],
        6,
      ),
    );
  });

  addParamOptions(
    rappor
      .command("simulate")
      .description("simulate a population, encode, decode, and print true versus estimated frequencies")
      .option("--candidates <n>", "number of true values", "100")
      .option("--decoys <n>", "extra candidates nobody holds", "20")
      .option("--reports <n>", "number of reports (one per client)", "1000000")
      .option("--distribution <d>", "exponential | zipf | uniform", "exponential")
      .option("--full", "encode every report with the real encoder (slow) instead of simulating the bit counts")
      .option("--alpha <a>", "significance level", "0.05")
      .option("--correction <c>", "bonferroni | benjamini-hochberg | none", "bonferroni")
      .option("--seed <n>", "seed (simulation randomness is seeded and INSECURE)", "1")
      .option("--json", "print one JSON object"),
    false,
  ).action(
    (
      o: ParamOptions & {
        candidates: string;
        decoys: string;
        reports: string;
        distribution: string;
        full?: boolean;
        alpha: string;
        correction: string;
        seed: string;
        json?: boolean;
      },
    ) => {
      const params = loadParams(o, false);
      const S = parseIntegerOption("candidates", o.candidates);
      // Bounded before anything is allocated: the decoder holds one column per candidate.
      const decoys = requireInteger("--decoys", parseNumberOption("decoys", o.decoys), { min: 0, max: MAX_RAPPOR_CANDIDATES });
      const N = parseIntegerOption("reports", o.reports);
      if (o.full) requireInteger("--reports", N, { min: 0, max: MAX_FULL_SIMULATION_REPORTS });
      const rng = new SeededRng(parseIntegerOption("seed", o.seed));
      const truthCounts = rapporSimulationCounts({
        numCandidates: S,
        numReports: N,
        distribution: o.distribution as RapporSimulationDistribution,
      });
      if (S + decoys > MAX_RAPPOR_CANDIDATES) {
        throw new DpError(
          "invalid_parameter",
          `\`--candidates\` + \`--decoys\` must be at most ${MAX_RAPPOR_CANDIDATES}. Found ${S} + ${decoys}.`,
          "--decoys",
        );
      }
      const names = [...truthCounts.map((_, j) => `v${j + 1}`), ...Array.from({ length: decoys }, (_, j) => `decoy${j + 1}`)];
      const all = [...truthCounts, ...new Array(decoys).fill(0)];
      const map = hashRapporCandidates(names, params);
      let counts;
      if (o.full) {
        const values = truthCounts.flatMap((c, j) => new Array<string>(c).fill(names[j]));
        counts = sumRapporBits(simulateRapporReports({ params, values, rng }), params);
      } else counts = simulateRapporCounts({ params, map, trueCounts: all, rng });
      const res = decodeRappor({
        params,
        counts,
        map,
        alpha: parseNumberOption("alpha", o.alpha),
        correction: o.correction as RapporCorrection,
      });
      printDecode(res, o.json, new Map(names.map((n, j) => [n, all[j]])));
    },
  );

  for (const c of rappor.commands) c.exitOverride();
  rappor.exitOverride();
}
