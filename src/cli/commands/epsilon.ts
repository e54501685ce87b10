/**
 * `dpkit epsilon` — the privacy spent by DP-SGD with Poisson sampling (the question TF Privacy's
 * `compute_dp_sgd_privacy` answers), with the RDP or the PLD accountant.
 * @module
 */
import type { Command } from "commander";
import { DpError } from "../../errors.js";
import { RdpAccountant } from "../../accounting/rdp/accountant.js";
import { eventFromJson } from "../../accounting/events.js";
import { PldAccountant } from "../../accounting/pld/accountant.js";
import { ACCOUNTANT_KINDS, type AccountantKind } from "../../accounting/accountant.js";
import { dpSgdEvent } from "../../accounting/compute.js";
import { requireInteger, requireOneOf, requireOpenProbability, requirePositive, requireProbability } from "../../errors.js";
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

function num(name: string, raw: string | undefined): number | undefined {
  const v = parseNumberOption(name, raw);
  return v;
}

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
export function parseAccountant(raw: string | undefined): AccountantKind {
  return raw === undefined ? "rdp" : requireOneOf("--accountant", raw, ACCOUNTANT_KINDS);
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

function epsilonOf(
  kind: AccountantKind,
  q: number,
  sigma: number,
  steps: number,
  delta: number,
  d?: number,
  conversion: Conversion = "improved",
): { epsilon: number; order?: number; atEdge?: boolean } {
  const event = dpSgdEvent(q, sigma);
  if (kind === "rdp") {
    const acc = new RdpAccountant().compose(event, steps);
    if (conversion === "classic") {
      const c = rdpToEpsilonClassic(acc.orders, acc.rdp, delta);
      return { epsilon: c.value, order: c.order, atEdge: c.order === acc.orders[0] || c.order === acc.orders[acc.orders.length - 1] };
    }
    const r = acc.getEpsilonAndOrder(delta);
    return { epsilon: r.epsilon, order: r.order, atEdge: r.atEdge };
  }
  return { epsilon: new PldAccountant({ valueDiscretizationInterval: d }).compose(event, steps).getEpsilon(delta) };
}

async function writePlot(file: string, q: number, sigma: number, steps: number, delta: number): Promise<void> {
  const { linePlot, savePlot } = await import("../../plot/index.js");
  const xs: number[] = [];
  const points = 12;
  for (let i = 0; i < points; i++) {
    const t = Math.max(1, Math.round(Math.exp((Math.log(steps) * i) / (points - 1))));
    if (xs.length === 0 || t > xs[xs.length - 1]) xs.push(t);
  }
  const rdp = xs.map((t) => epsilonOf("rdp", q, sigma, t, delta).epsilon);
  const pld = xs.map((t) => epsilonOf("pld", q, sigma, t, delta, 1e-3).epsilon);
  const svg = linePlot({
    series: [
      { name: "RDP (improved conversion)", x: xs, y: rdp, style: "both" },
      { name: "PLD (grid 1e-3)", x: xs, y: pld, style: "both", dashed: true },
    ],
    title: `DP-SGD privacy: q = ${Number(q.toPrecision(4))}, sigma = ${sigma}, delta = ${delta}`,
    xLabel: "steps",
    yLabel: "epsilon",
    logX: true,
  });
  await savePlot(file, svg);
}

function parseConversion(kind: AccountantKind, raw: string | undefined): Conversion {
  if (raw === undefined) return "improved";
  const c = requireOneOf("--conversion", raw, CONVERSIONS);
  if (kind !== "rdp")
    throw new DpError(
      "invalid_parameter",
      `\`--conversion\` applies only to --accountant rdp. Found ${JSON.stringify(raw)} with --accountant ${kind}.`,
      "--conversion",
    );
  return c;
}

/** `dpkit epsilon --event ...`: ε of an arbitrary event (e.g. a RAPPOR report, a FedAvg run). */
async function accountEvent(
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
): Promise<void> {
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
  const delta = requireOpenProbability("--delta", parseNumberOption("delta", o.delta));
  const kind = parseAccountant(o.accountant);
  const relation =
    o.neighboringRelation === undefined
      ? "addOrRemoveOne"
      : requireOneOf("--neighboring-relation", o.neighboringRelation, ["addOrRemoveOne", "replaceOne"] as const);
  const d =
    o.discretization === undefined ? undefined : requirePositive("--discretization", parseNumberOption("discretization", o.discretization));
  const conversion = parseConversion(kind, o.conversion);
  const acc =
    kind === "rdp"
      ? new RdpAccountant({ neighboringRelation: relation })
      : new PldAccountant({ neighboringRelation: relation, valueDiscretizationInterval: d });
  acc.compose(event);
  let r: { epsilon: number; order?: number; atEdge?: boolean };
  if (acc instanceof RdpAccountant && conversion === "classic") {
    const c = rdpToEpsilonClassic(acc.orders, acc.rdp, delta);
    r = { epsilon: c.value, order: c.order };
  } else r = acc.getEpsilonAndOrder(delta);
  if (o.json) {
    printJson({
      epsilon: r.epsilon,
      delta,
      accountant: kind,
      ...(kind === "rdp" ? { conversion, order: r.order, orderAtEdgeOfGrid: r.atEdge } : { valueDiscretizationInterval: d ?? 1e-4 }),
      neighboringRelation: relation,
      event,
    });
    return;
  }
  const rows: (string | number)[][] = [
    ["epsilon", r.epsilon],
    ["delta", delta],
    ["accountant", kind === "rdp" ? `rdp (${conversion} conversion)` : kind],
    ["neighbouring relation", RELATION_TEXT[relation]],
  ];
  if (kind === "rdp") rows.push(["optimal order", r.order as number]);
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
          await accountEvent(o);
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
        const sigma = requirePositive("--noise-multiplier", parseNumberOption("noise-multiplier", o.noiseMultiplier));
        const delta = requireOpenProbability("--delta", parseNumberOption("delta", o.delta));
        const kind = parseAccountant(o.accountant);
        const conversion = parseConversion(kind, o.conversion);
        const d =
          o.discretization === undefined
            ? undefined
            : requirePositive("--discretization", parseNumberOption("discretization", o.discretization));
        if (o.plot !== undefined) checkOutputFile("--plot", o.plot, [".svg", ".png"]);
        const r = epsilonOf(kind, training.samplingRate, sigma, training.steps, delta, d, conversion);
        if (o.plot !== undefined) await writePlot(o.plot, training.samplingRate, sigma, training.steps, delta);
        if (o.json) {
          printJson({
            epsilon: r.epsilon,
            delta,
            accountant: kind,
            ...(kind === "rdp" ? { conversion, order: r.order, orderAtEdgeOfGrid: r.atEdge } : { valueDiscretizationInterval: d ?? 1e-4 }),
            neighboringRelation: "addOrRemoveOne",
            samplingRate: training.samplingRate,
            noiseMultiplier: sigma,
            steps: training.steps,
            ...(training.datasetSize !== undefined
              ? { datasetSize: training.datasetSize, batchSize: training.batchSize, epochs: training.epochs }
              : {}),
            sampling: "poisson",
            ...(o.plot !== undefined ? { plot: o.plot } : {}),
          });
          return;
        }
        const rows: (string | number)[][] = [
          ["epsilon", r.epsilon],
          ["delta", delta],
          ["accountant", kind === "rdp" ? `rdp (${conversion} conversion)` : `pld (grid ${d ?? 1e-4})`],
          ["neighbouring relation", RELATION_TEXT.addOrRemoveOne],
        ];
        if (kind === "rdp") rows.push(["optimal order", r.order as number]);
        rows.push(["sampling rate", training.samplingRate], ["noise multiplier", sigma], ["steps", training.steps]);
        if (training.epochs !== undefined) rows.push(["epochs", training.epochs]);
        process.stdout.write(renderTable(["", "value"], rows, 6));
        process.stdout.write("Assumes Poisson sampling (each example joins each batch independently with probability q).\n");
        if (r.atEdge) process.stdout.write("Warning: the optimal order is at the edge of the order grid; epsilon may be loose.\n");
        if (o.plot !== undefined) process.stdout.write(`Plot written to ${o.plot}\n`);
      },
    );
}
