/**
 * The `dpkit` command: one file per subcommand in ./commands.
 * @module
 */
import { Command, CommanderError } from "commander";
import { createRequire } from "node:module";
import { DpError } from "../errors.js";
import { COMMANDS } from "./commands/index.js";

const require = createRequire(import.meta.url);

function packageVersion(): string {
  for (const p of ["../../package.json", "../package.json"]) {
    try {
      return (require(p) as { version: string }).version;
    } catch {
      // try the next layout (src/ when run with tsx, dist/ when built)
    }
  }
  return "0.0.0";
}

/**
 * The exit codes of every `dpkit` command (documented in docs/cli.md):
 * 0 success; 1 an internal error (a bug: please report it) or a failed self-check
 * (`secagg simulate` whose sum is not exact); 2 a usage error, a bad option value, an unreadable
 * input or an unwritable output, reported as one line on stderr naming the option.
 */
export const EXIT_CODES = { ok: 0, internal: 1, usage: 2 } as const;

/** Builds the commander program with every subcommand registered. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name("dpkit")
    .description("Differential privacy toolkit: noise, accounting, DP-SGD, local DP, federated learning.")
    .version(packageVersion(), "-V, --version", "print the dpkit version")
    .addHelpText(
      "after",
      "\nExit codes: 0 success; 2 bad usage, a bad option value, an unreadable input or an unwritable output\n" +
        "(one line on stderr naming the option); 1 an internal error or a failed self-check.",
    )
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
      // main() prints commander's errors itself, as one line.
      outputError: () => undefined,
    });
  for (const register of COMMANDS) register(program);
  const override = (cmd: Command): void => {
    cmd.exitOverride();
    cmd.configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => undefined });
    for (const sub of cmd.commands) override(sub);
  };
  override(program);
  return program;
}

/** One line for stderr: the first line of the message, without commander's "error: " prefix. */
function oneLine(message: string): string {
  return message.split("\n")[0].replace(/^error: /, "");
}

/** A system error code (EPIPE, ENOSPC, ...) carried by `e`, if any. */
function systemCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^E[A-Z]+$/.test(code) ? code : undefined;
}

/**
 * The library names arguments (`noiseMultiplier`); when one is an option of the command that ran
 * (`--noise-multiplier`), the CLI's message starts with the option, so every refusal names it.
 */
const OPTION_ALIASES: Record<string, string> = {
  valueDiscretizationInterval: "--discretization",
  samplingProbability: "--sampling-rate",
  numCandidates: "--candidates",
  numReports: "--reports",
  targetDelta: "--delta",
  l2NormClip: "--clip",
  trainExamples: "--train-size",
  testExamples: "--test-size",
  dropoutProbability: "--dropout",
  dropoutRate: "--dropout",
  dropStage: "--stage",
  modulusBits: "--bits",
};

function optionPrefix(cmd: Command, e: DpError): string {
  const arg = e.argument;
  if (arg === undefined || arg.startsWith("-") || e.message.includes("--")) return "";
  const kebab = `--${arg.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  const flag = [OPTION_ALIASES[arg], kebab].find((f) => f !== undefined && cmd.options.some((o) => o.long === f));
  // `users` already names --users; `noiseMultiplier` gets its flag in front.
  return flag !== undefined && flag !== `--${arg}` ? `${flag}: ` : "";
}

let stdoutGuarded = false;

/**
 * Broken or full stdout: EPIPE (the reader went away, e.g. `| head -1`) ends the process quietly
 * with code 0; any other write error (ENOSPC on /dev/full) prints one line and exits with 2.
 */
function guardStdout(): void {
  if (stdoutGuarded) return;
  stdoutGuarded = true;
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(0);
    process.stderr.write(
      `dpkit: cannot write to stdout: ${e.code === "ENOSPC" ? "no space left on the device (ENOSPC)" : oneLine(e.message)}\n`,
    );
    process.exit(EXIT_CODES.usage);
  });
}

/**
 * Runs the CLI on `argv` (as `process.argv`) and resolves to the exit code (see
 * {@link EXIT_CODES}). Errors become one line on stderr, never a stack trace (set
 * `DPKIT_DEBUG=1` for one).
 */
export async function main(argv: string[]): Promise<number> {
  guardStdout();
  const program = buildProgram();
  let active: Command = program;
  program.hook("preAction", (_root, cmd) => {
    active = cmd;
  });
  const before = process.exitCode;
  try {
    await program.parseAsync(argv);
    const code = typeof process.exitCode === "number" ? process.exitCode : 0;
    process.exitCode = before;
    return code;
  } catch (e) {
    process.exitCode = before;
    if (e instanceof CommanderError) {
      if (e.code === "commander.helpDisplayed" || e.code === "commander.version") return EXIT_CODES.ok;
      if (e.code === "commander.help") return EXIT_CODES.usage; // no command given: help was shown
      process.stderr.write(`dpkit: ${oneLine(e.message)} (run with --help for usage)\n`);
      return EXIT_CODES.usage;
    }
    if (process.env.DPKIT_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    if (e instanceof DpError) {
      process.stderr.write(`dpkit: ${optionPrefix(active, e)}${oneLine(e.message)}\n`);
      return EXIT_CODES.usage;
    }
    const sys = systemCode(e);
    if (sys === "EPIPE") return EXIT_CODES.ok;
    if (sys !== undefined) {
      // An I/O failure not already turned into a DpError (e.g. ENOSPC while writing a file).
      process.stderr.write(`dpkit: ${sys === "ENOSPC" ? "no space left on the device (ENOSPC)" : oneLine((e as Error).message)}\n`);
      return EXIT_CODES.usage;
    }
    const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    process.stderr.write(`dpkit: internal error (please report it; DPKIT_DEBUG=1 shows the stack): ${oneLine(msg)}\n`);
    return EXIT_CODES.internal;
  }
}
