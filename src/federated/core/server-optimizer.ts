/**
 * Server optimisers: how the aggregated delta moves the global model (Reddi et al. 2021,
 * "Adaptive Federated Optimization"). Plain FedAvg is SGD with server learning rate 1.
 * @module
 */
import { DpError, requireInRange, requireNonNegative, requireOneOf, requirePositive } from "../../errors.js";

/** Applies an aggregated pseudo-gradient (the mean delta) to the global weights, in place. */
export interface ServerOptimizer {
  /** Short name for logs. */
  readonly name: string;
  /** Updates `weights` in place with the round's aggregated `delta`. */
  apply(weights: Float32Array, delta: Float32Array): void;
}

/** Options for {@link createServerOptimizer}. */
export interface ServerOptimizerOptions {
  /** "sgd" (FedAvg: w += η Δ), "momentum" (FedAvgM) or "adam" (FedAdam). Default "sgd". */
  kind?: "sgd" | "momentum" | "adam";
  /** Server learning rate η. Default 1 for sgd/momentum, 0.01 for adam. */
  learningRate?: number;
  /** Momentum β (FedAvgM) or β1 (FedAdam). Default 0.9. */
  momentum?: number;
  /** β2 (FedAdam). Default 0.99. */
  beta2?: number;
  /** τ, adaptivity (FedAdam). Default 1e-3. */
  tau?: number;
}

/**
 * A server optimiser. "sgd": w ← w + ηΔ (η = 1 is FedAvg). "momentum": m ← βm + Δ, w ← w + ηm.
 * "adam": m ← β1 m + (1−β1)Δ, v ← β2 v + (1−β2)Δ², w ← w + η m / (√v + τ).
 *
 * @remarks
 * Post-processing of the (private) aggregated delta: no effect on privacy.
 *
 * @param options - see {@link ServerOptimizerOptions}
 * @returns the optimiser (stateful for momentum and adam)
 * @example
 * ```ts
 * import { createServerOptimizer } from "dpkit/federated";
 * const opt = createServerOptimizer({ kind: "momentum", momentum: 0.9 });
 * const w = new Float32Array([0]);
 * opt.apply(w, new Float32Array([1])); // w = [1]
 * ```
 * @see Reddi et al., "Adaptive Federated Optimization", ICLR 2021.
 */
export function createServerOptimizer(options: ServerOptimizerOptions = {}): ServerOptimizer {
  const kind = requireOneOf("kind", options.kind ?? "sgd", ["sgd", "momentum", "adam"] as const);
  const lr = requirePositive("learningRate", options.learningRate ?? (kind === "adam" ? 0.01 : 1));
  const beta1 = requireInRange("momentum", options.momentum ?? 0.9, 0, 1);
  const beta2 = requireInRange("beta2", options.beta2 ?? 0.99, 0, 1);
  const tau = requireNonNegative("tau", options.tau ?? 1e-3);
  let m: Float64Array | undefined;
  let v: Float64Array | undefined;
  const check = (w: Float32Array, d: Float32Array): void => {
    if (w.length !== d.length)
      throw new DpError("invalid_parameter", `\`delta\` must have length ${w.length}. Found ${d.length}.`, "delta");
  };
  if (kind === "sgd") {
    return {
      name: lr === 1 ? "fedavg" : `sgd(${lr})`,
      apply(w, d) {
        check(w, d);
        for (let i = 0; i < w.length; i++) w[i] += lr * d[i];
      },
    };
  }
  if (kind === "momentum") {
    return {
      name: `momentum(${beta1})`,
      apply(w, d) {
        check(w, d);
        m ??= new Float64Array(w.length);
        for (let i = 0; i < w.length; i++) {
          m[i] = beta1 * m[i] + d[i];
          w[i] += lr * m[i];
        }
      },
    };
  }
  return {
    name: `adam(${lr})`,
    apply(w, d) {
      check(w, d);
      m ??= new Float64Array(w.length);
      v ??= new Float64Array(w.length);
      for (let i = 0; i < w.length; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * d[i];
        v[i] = beta2 * v[i] + (1 - beta2) * d[i] * d[i];
        w[i] += (lr * m[i]) / (Math.sqrt(v[i]) + tau);
      }
    },
  };
}
