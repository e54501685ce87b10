/**
 * `dpkit epsilon` — the privacy spent by DP-SGD with Poisson sampling (the question TF Privacy's
 * `compute_dp_sgd_privacy` answers), with the RDP or the PLD accountant.
 * @module
 */
import type { Command } from "commander";
import { DpError, requireInteger, requireOneOf, requirePositive, requireProbability } from "../../errors.js";
import { RdpAccountant } from "../../accounting/rdp/accountant.js";
import { eventFromJson, type DpEvent } from "../../accounting/events.js";
import type { PldAccountant } from "../../accounting/pld/accountant.js";
import { ACCOUNTANT_KINDS, makeAccountant, type AccountantKind } from "../../accounting/accountant.js";
import type { NeighboringRelation } from "../../accounting/neighboring.js";
import { dpSgdEvent } from "../../accounting/compute.js";
import { rdpToEpsilonClassic } from "../../accounting/rdp/conversion.js";
import { checkOutputFile, readInputText } from "../files.js";
import { parseNumberOption, printJson, renderTable } from "../output.js";

/** The neighbouring relation every epsilon of `dpkit epsilon` and `dpkit calibrate` is stated for. @internal */
export const RELATION_TEXT: Record<"addOrRemoveOne" | "replaceOne", string> = {
  addOrRemoveOne: "add or remove one example (addOrRemoveOne)",
  replaceOne: "replace one example (replaceOne)",
};

const CONVERSIONS = ["improved", "classic"] as const;
type Conversion = (typeof CONVERSIONS)[number];

/** The training described on the command line, resolved to (q, steps). @internal */
export interface TrainingShape {
  samplingRate: number;
  steps: number;
  datasetSize?: number;
  batchSize?: number;
  epochs?: number;
}

/** Raw options shared by `epsilon` and `calibrate`. @internal */
export interface TrainingOptionsRaw {
  samplingRate?: string;
  steps?: string;
  datasetSize?: string;
  batchSize?: string;
  epochs?: string;
}

const num = parseNumberOption;

/**
 * Resolves `--sampling-rate/--steps` or `--dataset-size/--batch-size/--epochs`
 * (q = B/N, steps = ceil(E·N/B)); exactly one form must be given.
 * @internal
 */
export function resolveTraining(o: TrainingOptionsRaw): TrainingShape {
  const direct = o.samplingRate !== undefined || o.steps !== undefined;
  const epochsForm = o.datasetSize !== undefined || o.batchSize !== undefined || o.epochs !== undefined;
  if (direct && epochsForm) {
    throw new DpError(
      "invalid_parameter",
      "Give either --sampling-rate and --steps, or --dataset-size, --batch-size and --epochs, not both.",
      "--sampling-rate",
    );
  }
  if (epochsForm) {
    const n = requireInteger("--dataset-size", num("dataset-size", o.datasetSize), { min: 1 });
    const b = requireInteger("--batch-size", num("batch-size", o.batchSize), { min: 1, max: n });
    const e = requirePositive("--epochs", num("epochs", o.epochs));
    const steps = Math.max(1, Math.ceil((e * n) / b - 1e-9));
    if (!Number.isSafeInteger(steps)) {
      throw new DpError(
        "invalid_parameter",
        `\`--epochs\` gives ${steps} steps (epochs × dataset size / batch size), more than 2^53. Found ${e}.`,
        "--epochs",
      );
    }
    return { samplingRate: b / n, steps, datasetSize: n, batchSize: b, epochs: e };
  }
  if (o.samplingRate === undefined && o.steps === undefined) {
    throw new DpError(
      "invalid_parameter",
      "Describe the training with --sampling-rate Q --steps T, or --dataset-size N --batch-size B --epochs E.",
      "--sampling-rate",
    );
  }
  const q = requireProbability("--sampling-rate", num("sampling-rate", o.samplingRate));
  const steps = requireInteger("--steps", num("steps", o.steps), { min: 1 });
  return { samplingRate: q, steps };
}

/** @internal */
export function addTrainingOptions(cmd: Command): Command {
  return cmd
    .option("--sampling-rate <q>", "Poisson sampling rate q (batch size / dataset size), in [0, 1]")
    .option("--steps <t>", "number of training steps (positive integer)")
    .option("--dataset-size <n>", "dataset size N (with --batch-size and --epochs)")
    .option("--batch-size <b>", "expected batch size B: q = B/N")
    .option("--epochs <e>", "epochs E: steps = ceil(E*N/B)")
    .option("--accountant <kind>", "rdp (default) or pld")
    .option("--discretization <d>", "PLD grid width (default 1e-4)")
    .option(
      "--conversion <c>",
      "rdp only: improved (default, Canonne-Kamath-Steinke 2020) or classic (Mironov 2017) RDP-to-(epsilon, delta) conversion",
    )
    .option("--json", "print one JSON object");
}

/** The accountant chosen on the command line: kind, PLD grid width, RDP-to-(ε, δ) conversion. @internal */
export interface AccountingChoice {
  kind: AccountantKind;
  discretization?: number;
  conversion: Conversion;
}

/**
 * Parses `--accountant`, `--discretization` (PLD only) and `--conversion` (RDP only); the
 * library checks the values.
 * @internal
 */
export function parseAccounting(o: { accountant?: string; discretization?: string; conversion?: string }): AccountingChoice {
  const kind = o.accountant === undefined ? "rdp" : requireOneOf("--accountant", o.accountant, ACCOUNTANT_KINDS);
  const onlyWith = (flag: string, raw: string | undefined, needed: AccountantKind): void => {
    if (raw !== undefined && kind !== needed)
      throw new DpError(
        "invalid_parameter",
        `\`${flag}\` applies only to --accountant ${needed}. Found ${JSON.stringify(raw)} with --accountant ${kind}.`,
        flag,
      );
  };
  onlyWith("--conversion", o.conversion, "rdp");
  onlyWith("--discretization", o.discretization, "pld");
  const conversion = o.conversion === undefined ? "improved" : requireOneOf("--conversion", o.conversion, CONVERSIONS);
  return { kind, discretization: parseNumberOption("discretization", o.discretization), conversion };
}

/** ε of `event` composed `count` times, with the chosen accountant (the library validates every value). */
function account(
  a: AccountingChoice,
  event: DpEvent,
  count: number,
  delta: number | undefined,
  neighboringRelation: NeighboringRelation = "addOrRemoveOne",
): { epsilon: number; order: number; atEdge: boolean } {
  const acc = makeAccountant(a.kind, { neighboringRelation, valueDiscretizationInterval: a.discretization }).compose(event, count) as
    RdpAccountant | PldAccountant;
  const r = acc.getEpsilonAndOrder(delta as number);
  if (!(acc instanceof RdpAccountant) || a.conversion !== "classic") return r;
  const c = rdpToEpsilonClassic(acc.orders, acc.rdp, delta as number);
  return { epsilon: c.value, order: c.order, atEdge: c.order === acc.orders[0] || c.order === acc.orders[acc.orders.length - 1] };
}

/** The accountant's fields of the JSON output and its rows of the table. */
function accountingOutput(a: AccountingChoice, r: { order: number; atEdge: boolean }): { json: object; rows: (string | number)[][] } {
  const rdp = a.kind === "rdp";
  return {
    json: {
      accountant: a.kind,
      ...(rdp
        ? { conversion: a.conversion, order: r.order, orderAtEdgeOfGrid: r.atEdge }
        : { valueDiscretizationInterval: a.discretization ?? 1e-4 }),
    },
    rows: [["accountant", rdp ? `rdp (${a.conversion} conversion)` : `pld (grid ${a.discretization ?? 1e-4})`]],
  };
}

async function writePlot(file: string, event: DpEvent, steps: number, delta: number, title: string): Promise<void> {
  const { linePlot, savePlot } = await import("../../plot/index.js");
  const xs: number[] = [];
  const points = 12;
  for (let i = 0; i < points; i++) {
    const t = Math.max(1, Math.round(Math.exp((Math.log(steps) * i) / (points - 1))));
    if (xs.length === 0 || t > xs[xs.length - 1]) xs.push(t);
  }
  const curve = (a: AccountingChoice): number[] => xs.map((t) => account(a, event, t, delta).epsilon);
  const svg = linePlot({
    series: [
      { name: "RDP (improved conversion)", x: xs, y: curve({ kind: "rdp", conversion: "improved" }), style: "both" },
      {
        name: "PLD (grid 1e-3)",
        x: xs,
        y: curve({ kind: "pld", discretization: 1e-3, conversion: "improved" }),
        style: "both",
        dashed: true,
      },
    ],
    title,
    xLabel: "steps",
    yLabel: "epsilon",
    logX: true,
  });
  await savePlot(file, svg);
}

/** `dpkit epsilon --event ...`: ε of an arbitrary event (e.g. a RAPPOR report, a FedAvg run). */
function accountEvent(
  o: TrainingOptionsRaw & {
    event?: string;
    delta?: string;
    accountant?: string;
    discretization?: string;
    json?: boolean;
    neighboringRelation?: string;
    conversion?: string;
    noiseMultiplier?: string;
    plot?: string;
  },
): void {
  const ignored = (["samplingRate", "steps", "datasetSize", "batchSize", "epochs", "noiseMultiplier", "plot"] as const).find(
    (k) => o[k] !== undefined,
  );
  if (ignored) {
    const flag = `--${ignored.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new DpError(
      "invalid_parameter",
      `\`${flag}\` describes DP-SGD and cannot be combined with --event (the event says what was spent).`,
      flag,
    );
  }
  const raw = o.event as string;
  const text = raw.startsWith("@") ? readInputText("--event", raw.slice(1)) : raw;
  let event;
  try {
    event = eventFromJson(text);
  } catch (e) {
    throw new DpError("invalid_parameter", `--event: ${(e as Error).message}`, "--event");
  }
  const delta = parseNumberOption("delta", o.delta);
  const a = parseAccounting(o);
  const relation =
    o.neighboringRelation === undefined
      ? "addOrRemoveOne"
      : requireOneOf("--neighboring-relation", o.neighboringRelation, ["addOrRemoveOne", "replaceOne"] as const);
  const r = account(a, event, 1, delta, relation);
  const out = accountingOutput(a, r);
  if (o.json) return printJson({ epsilon: r.epsilon, delta, ...out.json, neighboringRelation: relation, event });
  const rows: (string | number)[][] = [
    ["epsilon", r.epsilon],
    ["delta", delta as number],
    ...out.rows,
    ["neighbouring relation", RELATION_TEXT[relation]],
  ];
  if (a.kind === "rdp") rows.push(["optimal order", r.order]);
  process.stdout.write(renderTable(["", "value"], rows, 6));
}

/** Registers `dpkit epsilon` on the program. */
export function register(program: Command): void {
  const cmd = program
    .command("epsilon")
    .description("epsilon spent by DP-SGD with Poisson sampling, or by any DpEvent (RDP or PLD accountant)")
    .option("--noise-multiplier <s>", "noise standard deviation / clipping norm (> 0)")
    .option("--delta <d>", "target delta in (0, 1)");
  addTrainingOptions(cmd)
    .option("--plot <file>", "draw epsilon against steps (RDP and PLD) to an .svg or .png file")
    .option("--event <json>", "account any DpEvent instead of DP-SGD: JSON text, or @file.json")
    .option("--neighboring-relation <r>", "with --event: addOrRemoveOne (default) or replaceOne")
    .action(
      async (
        o: TrainingOptionsRaw & {
          noiseMultiplier?: string;
          delta?: string;
          accountant?: string;
          discretization?: string;
          json?: boolean;
          plot?: string;
          event?: string;
          neighboringRelation?: string;
          conversion?: string;
        },
      ) => {
        if (o.event !== undefined) {
          accountEvent(o);
          return;
        }
        if (o.neighboringRelation !== undefined) {
          throw new DpError(
            "invalid_parameter",
            "`--neighboring-relation` applies only with --event: DP-SGD with Poisson sampling is accounted under add or remove one example.",
            "--neighboring-relation",
          );
        }
        const training = resolveTraining(o);
        const a = parseAccounting(o);
        const sigma = parseNumberOption("noise-multiplier", o.noiseMultiplier) as number;
        const delta = parseNumberOption("delta", o.delta);
        if (o.plot !== undefined) checkOutputFile("--plot", o.plot, [".svg", ".png"]);
        const event = dpSgdEvent(training.samplingRate, sigma);
        const r = account(a, event, training.steps, delta);
        const q = training.samplingRate;
        if (o.plot !== undefined)
          await writePlot(
            o.plot,
            event,
            training.steps,
            delta as number,
            `DP-SGD privacy: q = ${Number(q.toPrecision(4))}, sigma = ${sigma}, delta = ${delta}`,
          );
        const out = accountingOutput(a, r);
        if (o.json)
          return printJson({
            epsilon: r.epsilon,
            delta,
            ...out.json,
            neighboringRelation: "addOrRemoveOne",
            samplingRate: q,
            noiseMultiplier: sigma,
            steps: training.steps,
            ...(training.datasetSize !== undefined
              ? { datasetSize: training.datasetSize, batchSize: training.batchSize, epochs: training.epochs }
              : {}),
            sampling: "poisson",
            ...(o.plot !== undefined ? { plot: o.plot } : {}),
          });
        const rows: (string | number)[][] = [
          ["epsilon", r.epsilon],
          ["delta", delta as number],
          ...out.rows,
          ["neighbouring relation", RELATION_TEXT.addOrRemoveOne],
        ];
        if (a.kind === "rdp") rows.push(["optimal order", r.order]);
        rows.push(["sampling rate", q], ["noise multiplier", sigma], ["steps", training.steps]);
        if (training.epochs !== undefined) rows.push(["epochs", training.epochs]);
        process.stdout.write(renderTable(["", "value"], rows, 6));
        process.stdout.write("Assumes Poisson sampling (each example joins each batch independently with probability q).\n");
        if (r.atEdge) process.stdout.write("Warning: the optimal order is at the edge of the order grid; epsilon may be loose.\n");
        if (o.plot !== undefined) process.stdout.write(`Plot written to ${o.plot}\n`);
      },
    );
}
