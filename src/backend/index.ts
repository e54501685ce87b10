/**
 * `dpkit/backend`: choose and prepare a TensorFlow.js backend.
 *
 * Order of preference: `tensorflow` (the optional `@tensorflow/tfjs-node` package, native
 * libtensorflow) when it loads, else `wasm` (`@tensorflow/tfjs-backend-wasm`, with dpkit's
 * extra kernels), else `cpu`. The environment variable `DPKIT_BACKEND=tensorflow|wasm|cpu`
 * forces one.
 *
 * `tf` is the `@tensorflow/tfjs` namespace itself, re-exported so that your model and dpkit share
 * one tfjs instance (one backend, one set of registered kernels). It is tfjs's API, not dpkit's,
 * and is documented by TensorFlow.js: https://js.tensorflow.org/api/4.22.0/
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { DpError, requireOneOf } from "../errors.js";

export { DpError };

/** The backends dpkit knows how to prepare. */
export type BackendName = "tensorflow" | "wasm" | "cpu";

/** Every backend name, in order of preference. */
export const BACKEND_NAMES: readonly BackendName[] = ["tensorflow", "wasm", "cpu"];

/** Options for {@link prepareBackend}. */
export interface PrepareBackendOptions {
  /** Force this backend (overrides `DPKIT_BACKEND`). */
  backend?: BackendName;
  /** Print the chosen backend to stderr the first time one is chosen. Default: true. */
  announce?: boolean;
}

/** What {@link prepareBackend} chose and why. */
export interface BackendInfo {
  /** The active tfjs backend. */
  name: BackendName;
  /** Whether the choice was forced by an option or `DPKIT_BACKEND`. */
  forced: boolean;
  /** Backends tried before this one, with the reason each was skipped. */
  skipped: { name: BackendName; reason: string }[];
}

type Preparer = () => Promise<void>;

/** Hooks run after a backend is activated (e.g. registering extra wasm kernels). */
const afterActivate: ((name: BackendName) => void | Promise<void>)[] = [];

/** The backend whose activation hooks have run (set before they run, so late hooks see it). */
let activated: BackendName | undefined;

/**
 * Registers a function run once a backend is activated (used by dpkit/dpsgd to add the wasm
 * kernels tfjs lacks). Runs immediately if a backend is already active — so importing
 * `dpkit/dpsgd` after `prepareBackend()` still registers its kernels — and again after every
 * later activation.
 *
 * @param hook - called with the name of the active backend
 * @returns what the immediate call returned (a promise for an async hook), else undefined
 * @internal
 */
export function onBackendActivated(hook: (name: BackendName) => void | Promise<void>): void | Promise<void> {
  afterActivate.push(hook);
  if (activated !== undefined) return hook(activated);
}

const preparers: Record<BackendName, Preparer> = {
  async tensorflow() {
    // Optional dependency: its install downloads libtensorflow and may have failed.
    const moduleName = "@tensorflow/tfjs-node";
    await import(/* @vite-ignore */ moduleName);
  },
  async wasm() {
    await import("@tensorflow/tfjs-backend-wasm");
  },
  async cpu() {
    // Always registered by @tensorflow/tfjs.
  },
};

let active: BackendInfo | undefined;
let pending: Promise<BackendInfo> | undefined;

function envBackend(): BackendName | undefined {
  const v = typeof process !== "undefined" ? process.env?.DPKIT_BACKEND : undefined;
  if (v === undefined || v === "") return undefined;
  return requireOneOf("DPKIT_BACKEND", v, BACKEND_NAMES);
}

type ProcessEvent = "uncaughtException" | "unhandledRejection";
type Listener = (...args: any[]) => void;
const PROCESS_EVENTS: readonly ProcessEvent[] = ["uncaughtException", "unhandledRejection"];

/** The glue's two handlers, without whitespace and semicolons. */
const EMSCRIPTEN_RETHROWERS = ["function(ex){if(!(exinstanceofExitStatus)){throwex}}", "function(reason){throwreason}"];

function listenersOf(event: ProcessEvent): Listener[] {
  return process.listeners(event as "uncaughtException") as Listener[];
}

function processListeners(): Map<ProcessEvent, Listener[]> | undefined {
  if (typeof process === "undefined" || typeof process.listeners !== "function") return undefined;
  return new Map(PROCESS_EVENTS.map((e) => [e, listenersOf(e)]));
}

/**
 * Removes the process-wide handlers that tfjs-backend-wasm's emscripten glue installs when it
 * starts in Node: `process.on("uncaughtException", ex => { throw ex })` and
 * `process.on("unhandledRejection", reason => { throw reason })`. Throwing inside those handlers
 * makes node print the handler's source line — ~38 KB of minified glue — before the user's error
 * and exit with code 7 instead of 1, for every uncaught error in the process, the user's own
 * included. Only listeners added during the backend's start whose source is the glue's re-throw
 * are removed; the module keeps working (they only report errors).
 */
function removeEmscriptenRethrowers(before: Map<ProcessEvent, Listener[]> | undefined): number {
  if (!before) return 0;
  let removed = 0;
  for (const event of PROCESS_EVENTS) {
    const old = before.get(event) ?? [];
    for (const listener of listenersOf(event)) {
      if (old.includes(listener)) continue;
      // Compared without whitespace and semicolons (a loader such as tsx may reformat it).
      const source = Function.prototype.toString.call(listener).replace(/[\s;]/g, "");
      if (EMSCRIPTEN_RETHROWERS.includes(source)) {
        process.removeListener(event, listener);
        removed++;
      }
    }
  }
  return removed;
}

/**
 * The glue also wraps the module's `_dispose` to remove "the listeners it added" — but its filter
 * is always true, so it removes every `uncaughtException`/`unhandledRejection` listener that
 * existed when the module started, the user's own included (on `tf.removeBackend("wasm")` or an
 * engine reset). Wrapped once more: listeners other than the glue's are put back after it runs.
 */
function keepListenersOnDispose(): void {
  type Disposer = { dispose?: () => void; _dispose?: () => void };
  const backend = tf.findBackend("wasm") as unknown as { wasm?: Disposer & { tfjs?: Disposer; dpkitKeepsListeners?: boolean } } | null;
  const mod = backend?.wasm;
  if (!mod || mod.dpkitKeepsListeners) return;
  const wrap = (dispose: () => void) =>
    function (this: unknown): void {
      const before = new Map(PROCESS_EVENTS.map((e) => [e, listenersOf(e)]));
      try {
        dispose.call(this);
      } finally {
        for (const event of PROCESS_EVENTS) {
          const now = listenersOf(event);
          for (const listener of before.get(event) ?? []) if (!now.includes(listener)) process.on(event, listener);
        }
      }
    };
  // The backend calls `tfjs.dispose` (a cwrap bound to the wrapped `_dispose` at start-up).
  if (typeof mod._dispose === "function") mod._dispose = wrap(mod._dispose);
  if (mod.tfjs && typeof mod.tfjs.dispose === "function") mod.tfjs.dispose = wrap(mod.tfjs.dispose);
  mod.dpkitKeepsListeners = true;
}

async function activate(name: BackendName): Promise<void> {
  const listenersBefore = processListeners();
  await preparers[name]();
  const ok = await tf.setBackend(name);
  if (!ok) throw new Error(`tf.setBackend("${name}") returned false`);
  await tf.ready();
  if (name === "wasm" && listenersBefore) {
    removeEmscriptenRethrowers(listenersBefore);
    keepListenersOnDispose();
  }
  activated = name;
  // A snapshot: a hook registered while these run is run at registration instead (see above).
  for (const hook of [...afterActivate]) await hook(name);
}

/**
 * Prepares tfjs for dpkit and returns which backend is active. Idempotent: later calls return
 * the first answer (unless a different backend is forced).
 *
 * @remarks
 * Announces the choice once on stderr, e.g. `dpkit: tfjs backend wasm (tensorflow unavailable)`.
 *
 * @param options - force a backend or silence the announcement
 * @returns the active backend and the ones skipped
 * @throws {@link DpError} `unsupported_backend` if a forced backend cannot be loaded
 * @example
 * ```ts
 * import { prepareBackend } from "dpkit/backend";
 * const info = await prepareBackend({ announce: false });
 * console.log(info.name); // "tensorflow", "wasm" or "cpu"
 * ```
 */
export async function prepareBackend(options: PrepareBackendOptions = {}): Promise<BackendInfo> {
  const forcedName = options.backend !== undefined ? requireOneOf("backend", options.backend, BACKEND_NAMES) : envBackend();
  if (active && (forcedName === undefined || forcedName === active.name)) return active;
  if (pending && forcedName === undefined) return pending;
  const run = async (): Promise<BackendInfo> => {
    const skipped: BackendInfo["skipped"] = [];
    const candidates = forcedName ? [forcedName] : BACKEND_NAMES;
    for (const name of candidates) {
      try {
        await activate(name);
        const info: BackendInfo = { name, forced: forcedName !== undefined, skipped };
        const first = active === undefined;
        active = info;
        if (first && options.announce !== false) {
          const why = skipped.length ? ` (${skipped.map((s) => `${s.name} unavailable`).join(", ")})` : "";
          process.stderr.write(`dpkit: tfjs backend ${name}${forcedName ? " (forced)" : ""}${why}\n`);
        }
        return info;
      } catch (e) {
        skipped.push({ name, reason: (e as Error).message.split("\n")[0] });
      }
    }
    throw new DpError(
      "unsupported_backend",
      `No tfjs backend could be loaded: ${skipped.map((s) => `${s.name}: ${s.reason}`).join("; ")}.`,
      "backend",
    );
  };
  pending = run();
  try {
    return await pending;
  } finally {
    pending = undefined;
  }
}

/** The backend chosen by {@link prepareBackend}, or undefined if none has been prepared yet. */
export function activeBackend(): BackendInfo | undefined {
  return active;
}

export { tf };
