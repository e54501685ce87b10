/**
 * Flower's message conventions on top of the generated protobuf types: `Scalar` maps (configs,
 * metrics, properties) and `Parameters` (a list of `.npy` tensors with tensor type
 * `"numpy.ndarray"`), following Flower's `serde.py` and `parameter.py`.
 * @module
 */
import { create } from "@bufbuild/protobuf";
import { DpError } from "../../errors.js";
import { ParametersSchema, ScalarSchema, type Parameters, type Scalar } from "./gen/flwr/proto/transport_pb.js";
import { decodeNpy, encodeNpy, type NpyArray } from "./npy.js";

/** A Flower `Scalar`: double, sint64/uint64 (bigint), bool, string or bytes. */
export type FlowerScalar = number | bigint | boolean | string | Uint8Array;

/** A Flower config, metrics or properties map. */
export type FlowerScalars = Record<string, FlowerScalar>;

/** The gRPC method path of Flower's bidirectional stream. */
export const FLOWER_JOIN_METHOD = "/flwr.proto.FlowerService/Join";

/** Flower's `GRPC_MAX_MESSAGE_LENGTH` (512 MiB), the default message limit here too. */
export const FLOWER_MAX_MESSAGE_LENGTH = 536_870_912;

/** The config key Flower's client-side clipping wrappers send (Flower's `KEY_CLIPPING_NORM`). */
export const FLOWER_CLIPPING_NORM_KEY = "clipping_norm";
/** The metric Flower's adaptive client-side clipping reads (Flower's `KEY_NORM_BIT`). */
export const FLOWER_NORM_BIT_KEY = "norm_bit";

/** The tensor type Flower writes for `.npy` tensors (`ndarrays_to_parameters`). */
export const NUMPY_TENSOR_TYPE = "numpy.ndarray";

/**
 * Converts a JavaScript value to a Flower `Scalar` as Flower's `scalar_to_proto` does:
 * booleans → bool, bytes → bytes, non-integer or non-safe numbers → double, bigints → sint64,
 * strings → string. A JavaScript number is sent as `double` (as a Python float) unless you pass
 * a bigint for an integer.
 * @internal
 */
export function scalarToProto(value: FlowerScalar, key: string): Scalar {
  if (typeof value === "boolean") return create(ScalarSchema, { scalar: { case: "bool", value } });
  if (value instanceof Uint8Array) return create(ScalarSchema, { scalar: { case: "bytes", value } });
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new DpError("non_finite", `Scalar \`${key}\` must be finite. Found ${value}.`, key);
    return create(ScalarSchema, { scalar: { case: "double", value } });
  }
  if (typeof value === "bigint") {
    if (value < -(2n ** 63n) || value >= 2n ** 63n)
      throw new DpError("invalid_parameter", `Scalar \`${key}\` must fit in sint64. Found ${value}.`, key);
    return create(ScalarSchema, { scalar: { case: "sint64", value } });
  }
  if (typeof value === "string") return create(ScalarSchema, { scalar: { case: "string", value } });
  throw new DpError(
    "invalid_parameter",
    `Scalar \`${key}\` must be a number, bigint, boolean, string or Uint8Array. Found ${typeof value}.`,
    key,
  );
}

/**
 * Reads a Flower `Scalar` as Flower's `scalar_from_proto` (which fails on an unset scalar, so
 * this refuses one too).
 * @internal
 */
export function scalarFromProto(s: Scalar, key: string): FlowerScalar {
  const c = s.scalar;
  if (c.case === undefined) throw new DpError("protocol_error", `Scalar \`${key}\` has no value set (Flower's serde cannot read it).`, key);
  return c.value;
}

/** Converts a map of Scalars. @internal */
export function scalarsFromProto(map: { [key: string]: Scalar }, what: string): FlowerScalars {
  const out: FlowerScalars = {};
  const keys = Object.keys(map);
  if (keys.length > 10_000) throw new DpError("protocol_error", `The ${what} holds ${keys.length} entries (limit 10000).`, what);
  for (const k of keys) out[k] = scalarFromProto(map[k], k);
  return out;
}

/** Converts a record of JavaScript scalars to a map of Flower Scalars. @internal */
export function scalarsToProto(values: FlowerScalars): { [key: string]: Scalar } {
  const out: { [key: string]: Scalar } = {};
  for (const [k, v] of Object.entries(values)) out[k] = scalarToProto(v, k);
  return out;
}

/**
 * Encodes arrays as Flower `Parameters` (each an `.npy` file, tensor type `"numpy.ndarray"`),
 * as Flower's `ndarrays_to_parameters`.
 * @param arrays - the arrays, in order
 * @returns the protobuf `Parameters`
 * @example
 * ```ts
 * import { arraysToParameters } from "dpkit/flower";
 * const p = arraysToParameters([{ dtype: "float32", shape: [2], data: new Float32Array([1, 2]) }]);
 * p.tensorType; // "numpy.ndarray"
 * ```
 * @internal
 */
export function arraysToParameters(arrays: readonly NpyArray[]): Parameters {
  return create(ParametersSchema, { tensors: arrays.map((a) => encodeNpy(a)), tensorType: NUMPY_TENSOR_TYPE });
}

/**
 * Decodes Flower `Parameters` into arrays, as Flower's `parameters_to_ndarrays`
 * (`np.load(allow_pickle=False)` on each tensor), refusing any tensor type other than
 * `"numpy.ndarray"`.
 * @param parameters - the protobuf `Parameters`
 * @returns one array per tensor
 * @throws {@link DpError} `protocol_error` for another tensor type or a malformed tensor (naming its index)
 * @example
 * ```ts
 * import { arraysToParameters, parametersToArrays } from "dpkit/flower";
 * parametersToArrays(arraysToParameters([{ dtype: "float32", shape: [], data: new Float32Array([1]) }]))[0].shape; // []
 * ```
 * @internal
 */
export function parametersToArrays(parameters: Parameters | undefined): NpyArray[] {
  if (!parameters) throw new DpError("protocol_error", "The server sent no `parameters`.", "parameters");
  if (parameters.tensorType !== NUMPY_TENSOR_TYPE) {
    throw new DpError(
      "protocol_error",
      `\`parameters.tensor_type\` must be "${NUMPY_TENSOR_TYPE}". Found ${JSON.stringify(parameters.tensorType)}.`,
      "parameters.tensor_type",
    );
  }
  return parameters.tensors.map((t, i) => {
    try {
      const a = decodeNpy(t);
      return { dtype: a.dtype, shape: a.shape, data: a.data };
    } catch (e) {
      if (e instanceof DpError)
        throw new DpError("protocol_error", `Tensor ${i} of the server's parameters is malformed: ${e.message}`, "parameters.tensors");
      throw e;
    }
  });
}
