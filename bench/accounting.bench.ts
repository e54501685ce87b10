/**
 * Accountant speed and accuracy. Usage: npm run bench -- accounting   (env: REPS=5)
 *
 * - RDP ε of 100,000 DP-SGD steps (q = 256/60000, σ = 1.1, δ = 1e-5): a fresh accountant, compose,
 *   convert. "cold" changes σ by 1e-12 each repetition so the per-event curve cache never hits;
 *   "warm" repeats the same event (the cache hit a calibration loop sees).
 * - PLD ε of the MNIST tutorial setting (14,063 steps) at discretisation 1e-4 and 1e-3.
 * - Each ε is printed beside the reference value of test/fixtures/accounting_vectors.json.
 *
 * Baseline: Google's dp_accounting (Python) takes about 0.7 s for the PLD case at 1e-4 and 0.1 s at
 * 1e-3 on this kind of machine (docs/performance.md; dp_accounting is not installed
 * here, so it cannot be run side by side). Times are wall-clock medians over REPS alternating
 * repetitions; CPU time is reported too because the 2-core machine is shared.
 *
 * Prints a table and, as the last line, one JSON object (docs/performance.md).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  PldAccountant,
  RdpAccountant,
  calibrateNoiseMultiplier,
  gaussianEvent,
  poissonSampledEvent,
  rdpToEpsilonClassic,
} from "../src/accounting/index.js";
import { type BenchRow as Row, median } from "./report.js";

const REPS = Number(process.env.REPS ?? 5);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ref = JSON.parse(readFileSync(path.resolve(root, "test/fixtures/accounting_vectors.json"), "utf8")).sections;
const Q = 256 / 60000;

function timed<T>(f: () => T): { wall: number; cpu: number; value: T } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = f();
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1e6, value };
}

function main(): void {
  const rows: Row[] = [];
  const cases: Record<string, (rep: number) => number> = {
    "rdp 100k steps (cold)": (rep) =>
      new RdpAccountant().compose(poissonSampledEvent(Q, gaussianEvent(1.1 + rep * 1e-12)), 100_000).getEpsilon(1e-5),
    "rdp 100k steps (warm)": () => new RdpAccountant().compose(poissonSampledEvent(Q, gaussianEvent(1.1)), 100_000).getEpsilon(1e-5),
    "rdp mnist 14063 steps": (rep) =>
      new RdpAccountant().compose(poissonSampledEvent(Q, gaussianEvent(1.1 + rep * 1e-12)), 14063).getEpsilon(1e-5),
    "pld mnist d=1e-3": () =>
      new PldAccountant({ valueDiscretizationInterval: 1e-3 }).compose(poissonSampledEvent(Q, gaussianEvent(1.1)), 14063).getEpsilon(1e-5),
    "pld mnist d=1e-4": () =>
      new PldAccountant({ valueDiscretizationInterval: 1e-4 }).compose(poissonSampledEvent(Q, gaussianEvent(1.1)), 14063).getEpsilon(1e-5),
  };
  const walls: Record<string, number[]> = {};
  const cpus: Record<string, number[]> = {};
  const values: Record<string, number> = {};
  // warm-up (JIT) once each
  for (const [k, f] of Object.entries(cases)) values[k] = f(1000);
  for (let rep = 0; rep < REPS; rep++) {
    for (const [k, f] of Object.entries(cases)) {
      const r = timed(() => f(rep + 1));
      (walls[k] ??= []).push(r.wall);
      (cpus[k] ??= []).push(r.cpu);
      values[k] = r.value;
    }
  }

  const mnistRdp = (ref.f_cross_checks as any[]).find((e) => e.id === "mnist_dpaccounting_rdp").output;
  const pld4 = (ref.b_pld_dpsgd_grid as any[]).find((e) => e.id === "pld_sgm1.1_q0.00426667_T14063_d1e-05").output;
  const pld3 = (ref.b_pld_mnist_discretization as any[]).find((e) => e.id === "pld_mnist_vdi0.001").output;
  const refs: Record<string, number | undefined> = {
    "rdp mnist 14063 steps": mnistRdp.epsilon,
    "pld mnist d=1e-4": pld4.epsilon,
    "pld mnist d=1e-3": pld3.epsilon_pessimistic,
  };
  const baselines: Record<string, number | undefined> = { "pld mnist d=1e-4": 0.7, "pld mnist d=1e-3": 0.1 };
  const acc = new RdpAccountant().compose(poissonSampledEvent(Q, gaussianEvent(1.1)), 14063);
  const classic = rdpToEpsilonClassic(acc.orders, acc.rdp, 1e-5).value;

  const line = (cells: (string | number)[], widths: number[]): string => cells.map((c, i) => String(c).padStart(widths[i])).join("  ");
  const widths = [24, 11, 11, 12, 14, 16];
  console.log(line(["case", "wall (ms)", "cpu (ms)", "epsilon", "reference", "dp_accounting (s)"], widths));
  for (const k of Object.keys(cases)) {
    const wall = median(walls[k]);
    const cpu = median(cpus[k]);
    console.log(
      line(
        [
          k,
          (wall * 1000).toFixed(2),
          (cpu * 1000).toFixed(2),
          values[k].toFixed(6),
          refs[k] === undefined ? "-" : refs[k]!.toFixed(6),
          baselines[k] ?? "-",
        ],
        widths,
      ),
    );
    const b = baselines[k];
    rows.push({ case: k, metric: "wall_time", value: wall, unit: "s", ...(b ? { baseline: b, ratio: wall / b } : {}) });
    rows.push({ case: k, metric: "cpu_time", value: cpu, unit: "s" });
    rows.push({
      case: k,
      metric: "epsilon",
      value: values[k],
      unit: "nats",
      ...(refs[k] !== undefined ? { baseline: refs[k], ratio: values[k] / refs[k]! } : {}),
    });
  }
  console.log(
    `classic (Mironov 2017) conversion, MNIST: ${classic.toFixed(6)} (reference ${mnistRdp.derived_classic_mironov2017_epsilon.toFixed(6)})`,
  );
  console.log("Baseline times are dp_accounting's documented figures (not run here).");

  // Calibration against dp_accounting's calibrate_dp_mechanism (one run each; PLD is the slow one).
  for (const c of ref.a_rdp_calibration as any[]) {
    if (!c.accountant.startsWith("dp_accounting.calibrate_dp_mechanism")) continue;
    const kind = c.accountant.includes("PLD") ? "pld" : "rdp";
    if (kind === "pld" && c.inputs.target_epsilon > 4) continue; // small sigma: slow, skipped
    const r = timed(() =>
      calibrateNoiseMultiplier({
        targetEpsilon: c.inputs.target_epsilon,
        targetDelta: c.inputs.delta,
        samplingProbability: c.inputs.sampling_rate_q,
        steps: c.inputs.steps,
        accountant: kind,
        tolerance: kind === "pld" ? 1e-5 : 1e-7,
      }),
    );
    console.log(
      `calibrate ${kind} eps=${c.inputs.target_epsilon}: noise ${r.value.toFixed(7)} (dp_accounting ${c.output.noise_multiplier.toFixed(7)}) in ${(r.wall * 1000).toFixed(0)} ms wall, ${(r.cpu * 1000).toFixed(0)} ms cpu`,
    );
    rows.push({
      case: `calibrate ${kind} eps=${c.inputs.target_epsilon}`,
      metric: "noise_multiplier",
      value: r.value,
      unit: "",
      baseline: c.output.noise_multiplier,
      ratio: r.value / c.output.noise_multiplier,
    });
    rows.push({ case: `calibrate ${kind} eps=${c.inputs.target_epsilon}`, metric: "cpu_time", value: r.cpu, unit: "s" });
  }
  rows.push({
    case: "rdp mnist classic conversion",
    metric: "epsilon",
    value: classic,
    unit: "nats",
    baseline: mnistRdp.derived_classic_mironov2017_epsilon,
    ratio: classic / mnistRdp.derived_classic_mironov2017_epsilon,
  });
  console.log(JSON.stringify({ bench: "accounting", results: rows }));
}

main();
