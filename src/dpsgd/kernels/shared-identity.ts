/**
 * `Identity` for tfjs-backend-wasm that shares its input's buffer while the DP engine's step runs.
 *
 * On the gradient tape tfjs clones every tensor a kernel saves for its backward pass
 * (`keep(clone(t))`), and tfjs-backend-wasm 4.22's `Identity` (what `clone` runs) copies the whole
 * tensor into new heap memory. tfjs tensors are immutable and no kernel writes into its inputs, so
 * the copy is never needed: tfjs-backend-cpu's `Identity` shares the buffer (a reference count),
 * as the wasm backend's own `Reshape` does. This kernel does the same, but only inside
 * {@link withSharedIdentity} (the engine's step); elsewhere it runs the backend's own kernel, so
 * code outside the engine sees tfjs's behaviour unchanged. Same values, same bits; strings and
 * complex numbers always go to the backend's kernel.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** The part of tfjs-backend-wasm's backend this kernel uses. */
interface WasmBackendLike {
  incRef(dataId: object): void;
}

const SHARED_DTYPES = new Set(["float32", "int32", "bool"]);

const state = { depth: 0, enabled: true };

/**
 * Switches the shared Identity on or off (on by default); off, {@link withSharedIdentity} runs its
 * function with tfjs's copying Identity. Returns the previous setting. For benches and tests. @internal
 */
export function setSharedIdentity(options: { enabled?: boolean }): { enabled: boolean } {
  const previous = { enabled: state.enabled };
  if (options.enabled !== undefined) state.enabled = options.enabled;
  return previous;
}

/** Whether an `Identity` run now shares its input's buffer. @internal */
export function identityIsShared(): boolean {
  return state.depth > 0 && state.enabled;
}

/**
 * Runs `fn` (synchronous) with the wasm `Identity` sharing buffers instead of copying them. Nests;
 * the previous behaviour returns when `fn` returns or throws. @internal
 */
export function withSharedIdentity<T>(fn: () => T): T {
  state.depth++;
  try {
    return fn();
  } finally {
    state.depth--;
  }
}

/**
 * The replacement kernel: inside {@link withSharedIdentity} a float32, int32 or bool input's
 * buffer is shared (its reference count raised); otherwise the backend's own kernel `own` runs.
 */
export function sharedIdentityKernel(own: tf.KernelConfig | undefined): tf.KernelFunc {
  const fallback = own?.kernelFunc;
  return (args) => {
    const x = (args.inputs as { x: tf.TensorInfo }).x;
    if (identityIsShared() && SHARED_DTYPES.has(x.dtype)) {
      (args.backend as unknown as WasmBackendLike).incRef(x.dataId);
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
    }
    if (fallback === undefined) throw new Error("tfjs-backend-wasm has no Identity kernel to fall back to.");
    return fallback(args);
  };
}
