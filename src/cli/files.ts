/**
 * Output files of the CLI: every output path is checked before any work starts, and written
 * through a temporary file renamed into place, so a failure never leaves a half-written file.
 * @module
 */
import { accessSync, constants, existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { DpError } from "../errors.js";

function ioError(option: string, file: string, why: string): never {
  throw new DpError("io_error", `\`${option}\` cannot be written: ${JSON.stringify(file)} ${why}.`, option);
}

function requireWritableDirectory(option: string, file: string, dir: string): void {
  let st;
  try {
    st = statSync(dir);
  } catch {
    ioError(option, file, `is in a folder that does not exist (${JSON.stringify(dir)})`);
  }
  if (!st.isDirectory()) ioError(option, file, `is in ${JSON.stringify(dir)}, which is not a folder`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    ioError(option, file, `is in a folder that is not writable (${JSON.stringify(dir)})`);
  }
}

/**
 * Checks, before any work, that `file` can be written: its folder exists and is writable, it is
 * not a folder, an existing file is writable, and its extension is one of `extensions`.
 * @throws {@link DpError} `io_error` or `invalid_parameter`, naming `option`
 */
export function checkOutputFile(option: string, file: string, extensions?: readonly string[]): void {
  if (typeof file !== "string" || file.trim() === "")
    throw new DpError("invalid_parameter", `\`${option}\` must be a file path. Found ${JSON.stringify(file)}.`, option);
  if (extensions && !extensions.some((x) => file.toLowerCase().endsWith(x))) {
    throw new DpError("invalid_parameter", `\`${option}\` must end in ${extensions.join(" or ")}. Found ${JSON.stringify(file)}.`, option);
  }
  if (existsSync(file)) {
    if (statSync(file).isDirectory()) ioError(option, file, "is a folder");
    try {
      accessSync(file, constants.W_OK);
    } catch {
      ioError(option, file, "exists and is not writable");
    }
  }
  requireWritableDirectory(option, file, path.dirname(path.resolve(file)));
}

/**
 * Checks, before any work, that `dir` can receive output files: an existing path must be a
 * writable folder; otherwise its parent folder must exist and be writable.
 * @throws {@link DpError} `io_error` naming `option`
 */
export function checkOutputFolder(option: string, dir: string): void {
  if (typeof dir !== "string" || dir.trim() === "")
    throw new DpError("invalid_parameter", `\`${option}\` must be a folder path. Found ${JSON.stringify(dir)}.`, option);
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) ioError(option, dir, "exists and is not a folder");
    try {
      accessSync(dir, constants.W_OK);
    } catch {
      ioError(option, dir, "is not writable");
    }
    return;
  }
  requireWritableDirectory(option, dir, path.dirname(path.resolve(dir)));
}

/** Reads a text input named by `option` (`-` or undefined: stdin). @throws {@link DpError} `io_error` */
export function readInputText(option: string, file: string | undefined): string {
  try {
    return readFileSync(file === undefined || file === "-" ? 0 : file, "utf8");
  } catch (e) {
    throw new DpError(
      "io_error",
      `\`${option}\` cannot be read: ${file === undefined || file === "-" ? "stdin" : JSON.stringify(file)}: ${(e as Error).message}`,
      option,
    );
  }
}
