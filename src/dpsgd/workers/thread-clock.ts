/**
 * The calling thread's own CPU time, for the worker pool's step profile (benchmarks only).
 *
 * Node 20 has no per-thread CPU clock (`process.cpuUsage()` counts every thread of the process;
 * `process.threadCpuUsage()` arrives in Node 23.9). On Linux, `/proc/thread-self/schedstat` gives
 * the thread's time on a CPU and its time waiting for one, in nanoseconds; elsewhere the clock
 * reads `undefined`. Nothing here affects a step's result.
 * @module
 */

type ReadFileSync = (path: string, encoding: "utf8") => string;

let read: ReadFileSync | null | undefined;

function reader(): ReadFileSync | null {
  if (read !== undefined) return read;
  read = null;
  try {
    const getBuiltin = typeof process !== "undefined" ? process.getBuiltinModule : undefined;
    if (typeof getBuiltin === "function" && process.platform === "linux") {
      const fs = getBuiltin("node:fs") as typeof import("node:fs");
      fs.readFileSync("/proc/thread-self/schedstat", "utf8");
      read = fs.readFileSync as ReadFileSync;
    }
  } catch {
    read = null;
  }
  return read;
}

/** A thread's clock: milliseconds on a CPU and milliseconds runnable but waiting for one. @internal */
export interface ThreadClock {
  cpuMs: number;
  waitMs: number;
}

/** The calling thread's clock, or `undefined` where the platform does not expose it. @internal */
export function threadClock(): ThreadClock | undefined {
  const r = reader();
  if (!r) return undefined;
  try {
    const [run, wait] = r("/proc/thread-self/schedstat", "utf8").split(" ").map(Number);
    return { cpuMs: run / 1e6, waitMs: wait / 1e6 };
  } catch {
    return undefined;
  }
}

/** CPU milliseconds of every thread of this process (Linux), or `undefined`. @internal */
export function processThreadsCpuMs(): number | undefined {
  const r = reader();
  if (!r) return undefined;
  try {
    const fs = process.getBuiltinModule("node:fs") as typeof import("node:fs");
    let total = 0;
    for (const tid of fs.readdirSync("/proc/self/task")) {
      try {
        total += Number(r(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return total;
  } catch {
    return undefined;
  }
}

/**
 * The calling thread's Linux thread id (from the `/proc/thread-self` link), or `undefined`. With
 * it another thread can read this thread's clock while it sleeps ({@link threadCpuMs}): a thread's
 * own reading while it runs lags by up to one scheduler tick (the kernel brings a running thread's
 * total up to date only at ticks and switches), one between two sleeps does not. @internal
 */
export function currentThreadId(): number | undefined {
  if (reader() === null) return undefined;
  try {
    const fs = process.getBuiltinModule("node:fs") as typeof import("node:fs");
    const tid = Number(fs.readlinkSync("/proc/thread-self").split("/").pop());
    return Number.isInteger(tid) && tid > 0 ? tid : undefined;
  } catch {
    return undefined;
  }
}

/** CPU milliseconds of thread `tid` of this process (Linux), or `undefined`. @internal */
export function threadCpuMs(tid: number): number | undefined {
  const r = reader();
  if (!r) return undefined;
  try {
    return Number(r(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ")[0]) / 1e6;
  } catch {
    return undefined;
  }
}
