import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCliInProcess, type CliResult } from "../helpers/cli.js";

// The CLI contract (issue 12, defect 3), for every command: a usage error or a bad value is one
// line on stderr naming the option, exit code 2, no stack trace, and no output file left behind.
// Runs in process (each refusal happens before any work), so the whole table takes seconds.

const dir = mkdtempSync(path.join(tmpdir(), "dpkit-contract-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** For integer options: 1e308 is not a safe integer. */
const ALL = ["NaN", "abc", "", "-1", "0", "1e308", "Infinity"];
/**
 * For real-valued options where a huge value is mathematically valid (a noise multiplier of
 * 1e308): "~1e308" must either work (exit 0) or be refused by the contract, never crash.
 */
const REAL = ["NaN", "abc", "", "-1", "0", "~1e308", "Infinity"];
/** Real-valued options of the training commands: 1e308 is covered by epsilon/calibrate (the same library checks); here it would train. */
const REAL_NO_HUGE = ["NaN", "abc", "", "-1", "0", "Infinity"];
/** For options where 0 is a legitimate value. */
const NOT_ZERO = ["NaN", "abc", "", "-1", "1e308", "Infinity"];
/** Values no numeric option accepts. */
const GARBAGE = ["NaN", "abc", "", "Infinity", "0x10", "1.5.2", "12abc"];

interface Case {
  /** The command words, e.g. ["rappor", "simulate"]. */
  command: string[];
  /** Valid, cheap options for the rest. */
  base: Record<string, string>;
  /** Option → values that must be refused. */
  bad: Record<string, string[]>;
  /** A required option (or argument) to leave out. */
  required?: string;
}

const params = path.join(dir, "params.csv");
const counts = path.join(dir, "counts.csv");
const map = path.join(dir, "map.csv");
writeFileSync(params, "k,h,m,p,q,f\n8,2,2,0.5,0.75,0.5\n");
writeFileSync(counts, "100,50,50,50,50,50,50,50,50\n100,50,50,50,50,50,50,50,50\n");
writeFileSync(map, "a,1,2,9,10\nb,3,4,11,12\n");

const CASES: Case[] = [
  {
    command: ["demo"],
    base: { "--users": "300", "--targets": "5" },
    bad: { "--users": [...ALL, "100000000"], "--targets": ALL, "--seed": NOT_ZERO },
  },
  {
    command: ["epsilon"],
    base: { "--noise-multiplier": "1.1", "--delta": "1e-5", "--sampling-rate": "0.01", "--steps": "100" },
    bad: { "--noise-multiplier": REAL, "--delta": ALL, "--sampling-rate": NOT_ZERO, "--steps": ALL },
    required: "--delta",
  },
  {
    command: ["epsilon"],
    base: { "--noise-multiplier": "1.1", "--delta": "1e-5", "--sampling-rate": "0.01", "--steps": "100", "--accountant": "pld" },
    bad: { "--discretization": ALL },
  },
  {
    command: ["epsilon"],
    base: { "--noise-multiplier": "1.1", "--delta": "1e-5", "--dataset-size": "1000", "--batch-size": "10", "--epochs": "1" },
    bad: { "--dataset-size": ALL, "--batch-size": ALL, "--epochs": REAL },
  },
  {
    command: ["calibrate"],
    base: { "--target-epsilon": "3", "--delta": "1e-5", "--sampling-rate": "0.01", "--steps": "100" },
    bad: { "--target-epsilon": REAL, "--delta": ALL, "--steps": ALL, "--tolerance": [...ALL, "1e-17", "10"] },
    required: "--target-epsilon",
  },
  {
    command: ["noise"],
    base: { "--mechanism": "laplace", "--epsilon": "1" },
    bad: { "--epsilon": REAL, "--sensitivity": REAL, "--level": ALL, "--value": GARBAGE, "--seed": NOT_ZERO },
    required: "--epsilon",
  },
  {
    command: ["noise"],
    base: { "--mechanism": "gaussian", "--epsilon": "1", "--delta": "1e-5" },
    bad: { "--delta": ALL, "--epsilon": REAL },
  },
  {
    command: ["noise"],
    base: { "--mechanism": "geometric", "--epsilon": "1" },
    bad: { "--sensitivity": [...ALL, "1.5"], "--value": [...GARBAGE, "1.5"] },
  },
  {
    command: ["rappor", "encode", "hello"],
    base: { "--secret": "0123456789abcdef0123" },
    bad: {
      "--cohort": [...NOT_ZERO, "64"],
      "--num-bits": ALL,
      "--num-hashes": ALL,
      "--num-cohorts": ALL,
      "--prob-irr1": ALL,
      "--seed": NOT_ZERO,
    },
  },
  {
    command: ["rappor", "privacy"],
    base: {},
    bad: { "--num-bits": ALL, "--num-hashes": ALL, "--num-cohorts": ALL, "--prob-prr": NOT_ZERO },
  },
  {
    command: ["rappor", "simulate"],
    base: { "--candidates": "5", "--decoys": "2", "--reports": "1000" },
    bad: { "--candidates": [...ALL, "1e9"], "--decoys": [...NOT_ZERO, "1e9"], "--reports": NOT_ZERO, "--alpha": ALL, "--seed": NOT_ZERO },
  },
  {
    command: ["rappor", "decode"],
    base: { "--params": params, "--counts": counts, "--map": map },
    bad: { "--alpha": ALL },
    required: "--map",
  },
  {
    command: ["secagg", "simulate"],
    base: { "--clients": "5", "--dimension": "10" },
    // sizes whose work would take hours are refused up front (issue 12, defect 2)
    bad: {
      "--clients": [...ALL, "1000000", "5000"],
      "--dimension": [...ALL, "1000000000"],
      "--dropout": NOT_ZERO,
      "--bits": ALL,
      "--threshold": ALL,
      "--seed": NOT_ZERO,
    },
  },
  {
    command: ["train", "mnist"],
    base: { "--train-size": "100", "--test-size": "100", "--epochs": "1", "--batch-size": "10" },
    bad: {
      "--epochs": ALL,
      "--batch-size": ALL,
      "--noise-multiplier": REAL_NO_HUGE,
      "--target-epsilon": REAL_NO_HUGE,
      "--target-delta": ALL,
      "--l2-norm-clip": REAL_NO_HUGE,
      "--learning-rate": REAL_NO_HUGE,
      "--momentum": NOT_ZERO,
      "--train-size": ALL,
      "--test-size": ALL,
      "--workers": [...ALL, "2.5"],
    },
  },
  {
    command: ["federated"],
    base: {
      "--clients": "10",
      "--clients-per-round": "2",
      "--rounds": "1",
      "--train-size": "100",
      "--test-size": "100",
      "--local-epochs": "1",
      "--dp": "server",
    },
    bad: {
      "--clients": ALL,
      "--clients-per-round": ALL,
      "--local-epochs": ALL,
      "--learning-rate": REAL_NO_HUGE,
      "--rounds": ALL,
      "--noise-multiplier": REAL_NO_HUGE,
      "--clip": REAL_NO_HUGE,
      "--target-epsilon": REAL_NO_HUGE,
      "--target-delta": ALL,
      "--train-size": ALL,
      "--test-size": ALL,
      "--dropout": NOT_ZERO,
      "--seed": NOT_ZERO,
    },
  },
  {
    command: ["linkage"],
    base: { "--users": "300", "--targets": "5", "--known": "2" },
    bad: {
      "--users": [...ALL, "100000000"],
      "--known": ALL,
      "--wrong": NOT_ZERO,
      "--rating-error": NOT_ZERO,
      "--targets": ALL,
      "--seed": NOT_ZERO,
      "--outside-top": NOT_ZERO,
    },
  },
  {
    command: ["linkage"],
    base: { "--users": "300", "--targets": "5", "--known": "2", "--defence": "ldp" },
    bad: { "--epsilon": REAL_NO_HUGE },
  },
  {
    command: ["audit", "dpsgd"],
    base: { "--trials": "1000" },
    bad: {
      "--epsilon": REAL_NO_HUGE,
      "--delta": ALL,
      "--trials": ALL,
      "--sampling-probability": NOT_ZERO,
      "--alpha": ALL,
      "--seed": NOT_ZERO,
    },
  },
  {
    command: ["audit", "dpsgd"],
    base: { "--mode": "one-run", "--canaries": "10", "--train-size": "100", "--epochs": "1" },
    bad: { "--canaries": ALL, "--train-size": ALL, "--epochs": ALL, "--batch-size": ALL, "--learning-rate": REAL_NO_HUGE },
  },
  {
    command: ["flower", "client"],
    base: {
      "--server": "127.0.0.1:9",
      "--partition": "0/2",
      "--train-size": "100",
      "--test-size": "100",
      "--connect-timeout": "1",
      "--dp": "local",
    },
    bad: {
      "--clip": REAL_NO_HUGE,
      "--noise-multiplier": REAL_NO_HUGE,
      "--delta": ALL,
      "--train-size": ALL,
      "--test-size": NOT_ZERO,
      "--epochs": ALL,
      "--batch-size": ALL,
      "--lr": REAL_NO_HUGE,
      "--connect-timeout": ALL,
      "--timeout": ALL,
      "--partition": ["abc", "", "3/2", "-1/2", "0/0", "1e308/2"],
    },
    required: "--server",
  },
];

function argv(c: Case, option?: string, value?: string): string[] {
  const out = [...c.command];
  for (const [k, v] of Object.entries(c.base)) if (k !== option) out.push(k, v);
  if (option !== undefined) out.push(`${option}=${value}`);
  return out;
}

/** The option's name as the message may spell it: --noise-multiplier, noise-multiplier or noiseMultiplier. */
function namesOption(stderr: string, option: string): boolean {
  const bare = option.replace(/^--/, "");
  const camel = bare.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
  return stderr.includes(bare) || stderr.includes(camel);
}

/** What breaks the contract in one run (empty when it holds). */
function problems(r: CliResult, what: string, option?: string): string[] {
  const out: string[] = [];
  const lines = r.stderr.trim().split("\n");
  if (r.code !== 2) out.push(`exit ${r.code}`);
  if (lines.length !== 1) out.push(`${lines.length} lines on stderr`);
  if (!/^dpkit: /.test(lines[0])) out.push("no `dpkit: ` prefix");
  if (/\n\s+at |\bat .*\.(ts|js):\d+/.test(r.stderr)) out.push("a stack trace");
  if (option && !namesOption(r.stderr, option)) out.push(`does not name ${option}`);
  return out.length === 0 ? [] : [`${what}: ${out.join(", ")}: ${JSON.stringify(r.stderr.slice(0, 300))}`];
}

function expectRefusal(r: CliResult, what: string, option?: string): void {
  expect(problems(r, what, option)).toEqual([]);
}

describe("CLI contract: bad values", () => {
  for (const c of CASES) {
    it(`${c.command.join(" ")} ${Object.keys(c.base).includes("--accountant") ? "(pld) " : ""}refuses bad values of ${Object.keys(c.bad).join(", ")}`, async () => {
      const found: string[] = [];
      for (const [option, values] of Object.entries(c.bad)) {
        for (const v of values) {
          const soft = v.startsWith("~");
          const value = soft ? v.slice(1) : v;
          const args = argv(c, option, value);
          const r = await runCliInProcess(args);
          if (soft && r.code === 0) continue;
          found.push(...problems(r, `${option}=${JSON.stringify(value)}`, option));
        }
      }
      expect(found).toEqual([]);
    }, 120_000);
  }
});

describe("CLI contract: usage errors", () => {
  const commands = [...new Map(CASES.map((c) => [c.command.join(" "), c])).values()];
  for (const c of commands) {
    it(`${c.command.join(" ")}: an unknown option`, async () => {
      const args = [...argv(c), "--frobnicate", "1"];
      expectRefusal(await runCliInProcess(args), args.join(" "), "--frobnicate");
    });
  }
  for (const c of CASES.filter((x) => x.required)) {
    it(`${c.command.join(" ")}: a missing required option (${c.required})`, async () => {
      const args = argv(c).filter((a, i, all) => a !== c.required && all[i - 1] !== c.required);
      expectRefusal(await runCliInProcess(args), args.join(" "), c.required);
    });
  }
  it("an unknown command, and a missing argument", async () => {
    expectRefusal(await runCliInProcess(["frobnicate"]), "frobnicate", "frobnicate");
    expectRefusal(await runCliInProcess(["train"]), "train", "dataset");
  });
  it("options that would be ignored are refused", async () => {
    expectRefusal(
      await runCliInProcess(["noise", "--mechanism", "laplace", "--epsilon", "1", "--delta", "1e-5"]),
      "laplace --delta",
      "--delta",
    );
    expectRefusal(await runCliInProcess(["secagg", "simulate", "--degree", "4"]), "--degree without --plus", "--degree");
    expectRefusal(
      await runCliInProcess(["epsilon", "--event", '{"kind":"gaussian","noiseMultiplier":1}', "--delta", "1e-5", "--steps", "10"]),
      "--event with --steps",
      "--steps",
    );
    expectRefusal(
      await runCliInProcess([
        "epsilon",
        "--event",
        '{"kind":"selfComposed","event":{"kind":"gaussian","noiseMultiplier":1},"count":10,"extra":1}',
        "--delta",
        "1e-5",
      ]),
      "an unknown event field",
      "--event",
    );
    expectRefusal(
      await runCliInProcess([
        "epsilon",
        "--event",
        '{"kind":"composed","events":[{"kind":"gaussian","noiseMultiplier":1}],"count":1000000000}',
        "--delta",
        "1e-5",
      ]),
      "count on a composed event",
      "--event",
    );
  });
});

describe("CLI contract: unreadable inputs and unwritable outputs", () => {
  const missing = path.join(dir, "no-such-folder", "x");
  const inputs: [string[], string][] = [
    [["epsilon", "--event", `@${missing}.json`, "--delta", "1e-5"], "--event"],
    [["rappor", "sum-bits", "--params", params, "--reports", missing], "--reports"],
    [["rappor", "hash-candidates", "--params", params, "--candidates", missing], "--candidates"],
    [["rappor", "decode", "--params", params, "--counts", missing, "--map", map], "--counts"],
    [["rappor", "decode", "--params", missing, "--counts", counts, "--map", map], "--params"],
    [["rappor", "encode", "--input", missing], "--input"],
  ];
  for (const [args, option] of inputs) {
    it(`${args.slice(0, 2).join(" ")}: unreadable ${option}`, async () => {
      expectRefusal(await runCliInProcess(args), args.join(" "), option);
    });
  }

  const existingFile = path.join(dir, "a-file");
  writeFileSync(existingFile, "x");
  const outputs: [string[], string][] = [
    [
      ["epsilon", "--noise-multiplier", "1", "--delta", "1e-5", "--sampling-rate", "0.01", "--steps", "10", "--plot", `${missing}.svg`],
      "--plot",
    ],
    [
      [
        "epsilon",
        "--noise-multiplier",
        "1",
        "--delta",
        "1e-5",
        "--sampling-rate",
        "0.01",
        "--steps",
        "10",
        "--plot",
        path.join(dir, "p.txt"),
      ],
      "--plot",
    ],
    [
      ["train", "mnist", "--train-size", "100", "--test-size", "100", "--epochs", "1", "--batch-size", "10", "--plot", `${missing}.svg`],
      "--plot",
    ],
    [
      ["train", "mnist", "--train-size", "100", "--test-size", "100", "--epochs", "1", "--batch-size", "10", "--save", existingFile],
      "--save",
    ],
    [
      [
        "train",
        "mnist",
        "--train-size",
        "100",
        "--test-size",
        "100",
        "--epochs",
        "1",
        "--batch-size",
        "10",
        "--save",
        path.join(missing, "model"),
      ],
      "--save",
    ],
    [["federated", "--clients", "10", "--rounds", "1", "--train-size", "100", "--test-size", "100", "--plot", `${missing}.png`], "--plot"],
    [["linkage", "--users", "300", "--targets", "5", "--known", "2", "--plot", `${missing}.svg`], "--plot"],
    [["linkage", "--demo", "--users", "300", "--targets", "5", "--plot", path.join(dir, "chart.pdf")], "--plot"],
    [["rappor", "encode", "hello", "--store", path.join(missing, "s.db")], "--store"],
    [["rappor", "encode", "hello", "--store", path.join(dir, "s.db"), "--secret", "short"], "--secret"],
  ];
  for (const [args, option] of outputs) {
    it(`${args[0]}: unwritable ${option} is refused before any work, leaving no file`, async () => {
      const before = readdirSync(dir).sort();
      const t = Date.now();
      expectRefusal(await runCliInProcess(args), args.join(" "), option);
      expect(Date.now() - t, "refused before the work").toBeLessThan(15_000);
      expect(readdirSync(dir).sort()).toEqual(before);
      expect(existsSync(missing)).toBe(false);
    }, 30_000);
  }
});
