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

/** Builds the commander program with every subcommand registered. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name("dpkit")
    .description("Differential privacy toolkit: noise, accounting, DP-SGD, local DP, federated learning.")
    .version(packageVersion(), "-V, --version", "print the dpkit version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({
      writeErr: (s) => process.stderr.write(s),
    });
  for (const register of COMMANDS) register(program);
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`) and resolves to the exit code. Errors become one
 * line on stderr, never a stack trace (set `DPKIT_DEBUG=1` for one).
 */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  for (const cmd of program.commands) cmd.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander already printed its message (help and version exit with code 0).
      return e.exitCode;
    }
    if (process.env.DPKIT_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
    if (e instanceof DpError) {
      process.stderr.write(`dpkit: ${e.message}\n`);
      return 2;
    }
    const msg = e instanceof Error ? e.message : String(e);
    process.stderr.write(`dpkit: ${msg.split("\n")[0]}\n`);
    return 1;
  }
}
