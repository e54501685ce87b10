/**
 * An optional observer of the fast route's phases, for profiling (bench/dpsgd-profile.bench.ts):
 * the engine calls {@link markEnginePhase} at the end of each phase; nothing happens unless a
 * hook is set. Not part of the public API.
 * @module
 */

/** The phases of one `fastClippedGradients` call, in order (each mark is the end of its phase). */
export type EnginePhase = "forward" | "backward" | "norms" | "clipFactors" | "clippedSum";

let hook: ((phase: EnginePhase) => void) | null = null;

/**
 * Sets (or, with null, clears) the phase observer; returns the previous one.
 * @internal
 */
export function setEnginePhaseHook(next: ((phase: EnginePhase) => void) | null): ((phase: EnginePhase) => void) | null {
  const previous = hook;
  hook = next;
  return previous;
}

/** Called by the engine at the end of a phase. @internal */
export function markEnginePhase(phase: EnginePhase): void {
  if (hook !== null) hook(phase);
}
