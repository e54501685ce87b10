/** Process helpers for the service tests: spawn with bounded waits, kill only what we started. */
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const here = path.dirname(fileURLToPath(import.meta.url));

export interface Proc {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<number | null>;
}

const started: ChildProcess[] = [];

export function startProc(script: string, args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(here, script), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  const p: Proc = { child, stdout: [], stderr: [], exited: new Promise((resolve) => child.once("exit", (code) => resolve(code))) };
  let buf = "";
  child.stdout!.on("data", (c: Buffer) => {
    buf += c.toString();
    const lines = buf.split("\n");
    buf = lines.pop()!;
    p.stdout.push(...lines);
  });
  child.stderr!.on("data", (c: Buffer) => p.stderr.push(c.toString()));
  return p;
}

export async function waitFor<T>(
  what: string,
  f: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 60_000,
  everyMs = 50,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== null && (v as unknown) !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export async function serverUrl(p: Proc, timeoutMs = 60_000): Promise<string> {
  return waitFor(
    "the server's URL",
    () => {
      if (p.child.exitCode !== null) throw new Error(`server exited ${p.child.exitCode}: ${p.stderr.join("")}`);
      return p.stdout.find((l) => l.startsWith("URL "))?.slice(4);
    },
    timeoutMs,
  );
}

export function lineWith(p: Proc, prefix: string): string | undefined {
  return p.stdout.find((l) => l.startsWith(prefix))?.slice(prefix.length);
}

/** Kills every process this module started that is still running (by its own handle). */
export function killStarted(): void {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
}

export async function getStatus(url: string): Promise<Record<string, unknown> | undefined> {
  try {
    const r = await fetch(`${url}/status`, { signal: AbortSignal.timeout(5000) });
    return (await r.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
