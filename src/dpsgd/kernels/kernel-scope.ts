/**
 * Composing wasm kernels from the backend's existing kernels: calls them directly (as
 * tfjs-backend-wasm's own composite kernels do) and frees every intermediate buffer.
 * @module
 */
import * as tf from "@tensorflow/tfjs";

/** Runs registered kernels of one backend and tracks the buffers they allocate. @internal */
export class KernelScope {
  private readonly temps: tf.TensorInfo[] = [];

  /**
   * @param backend - the backend passed to the kernel function
   * @param backendName - the registry name of that backend
   */
  constructor(
    private readonly backend: tf.KernelBackend,
    private readonly backendName: string,
  ) {}

  /**
   * Calls kernel `name` (or `func`, e.g. the kernel a replacement displaced) and records its output
   * as an intermediate.
   */
  run(
    name: string,
    inputs: tf.NamedTensorInfoMap | tf.TensorInfo[],
    attrs: Record<string, unknown> = {},
    func?: tf.KernelFunc,
  ): tf.TensorInfo {
    const kernelFunc = func ?? tf.getKernel(name, this.backendName)?.kernelFunc;
    if (!kernelFunc) throw new Error(`dpkit: kernel ${name} is not registered for backend ${this.backendName}`);
    const out = kernelFunc({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.backend,
      attrs: attrs as tf.NamedAttrMap,
    }) as tf.TensorInfo;
    this.temps.push(out);
    return out;
  }

  /** Frees every intermediate except `result` and returns `result`. */
  finish(result: tf.TensorInfo): tf.TensorInfo {
    for (const t of this.temps) if (t !== result) this.backend.disposeData(t.dataId);
    return result;
  }

  /** Frees every intermediate (on error). */
  abandon(): void {
    for (const t of this.temps) this.backend.disposeData(t.dataId);
  }
}

/** Runs `body` in a scope, freeing intermediates whether it returns or throws. @internal */
export function withKernelScope(backend: tf.KernelBackend, backendName: string, body: (s: KernelScope) => tf.TensorInfo): tf.TensorInfo {
  const scope = new KernelScope(backend, backendName);
  let result: tf.TensorInfo;
  try {
    result = body(scope);
  } catch (e) {
    scope.abandon();
    throw e;
  }
  return scope.finish(result);
}

/** Zero-pads dimensions 1 and 2 (height and width of NHWC) by the given amounts; `x` itself when all are 0. @internal */
export function padSpatial(s: KernelScope, x: tf.TensorInfo, top: number, bottom: number, left: number, right: number): tf.TensorInfo {
  if (top + bottom + left + right === 0) return x;
  const paddings = [
    [0, 0],
    [top, bottom],
    [left, right],
    [0, 0],
  ];
  return s.run("PadV2", { x }, { paddings, constantValue: 0 });
}
