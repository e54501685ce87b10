/**
 * A correct `MaxPoolGrad` for tfjs-backend-wasm 4.22, whose own kernel drops part of the
 * gradient for even pool sizes (e.g. pool 2, stride 1 or 2: some inputs that are a window's
 * maximum get no gradient; checked against the cpu backend and finite differences). Built from
 * the backend's own kernels, one step per pooling tap: the positions of the (padded) input
 * equal to the window's maximum that no earlier tap claimed (the first maximum in row-major
 * order wins, as on the cpu backend) receive the output gradient, spread by the stride and
 * shifted by the tap.
 * @module
 */
import * as tf from "@tensorflow/tfjs";
import { withKernelScope } from "./kernel-scope.js";

interface MaxPoolGradAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: "same" | "valid" | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** Kernel function of `MaxPoolGrad`. @internal */
export function maxPoolGradKernel(backendName: string): tf.KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const { dy, input, output } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo; output: tf.TensorInfo };
    const a = attrs as unknown as MaxPoolGradAttrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    const [n, h, w, c] = input.shape;
    const { filterHeight: ph, filterWidth: pw, strideHeight: sh, strideWidth: sw, outHeight: ho, outWidth: wo } = info;
    const { top, left } = info.padInfo;
    const hc = Math.max(h + top, (ho - 1) * sh + ph);
    const wc = Math.max(w + left, (wo - 1) * sw + pw);
    return withKernelScope(backend as tf.KernelBackend, backendName, (s) => {
      const xp = s.run(
        "PadV2",
        { x: input },
        {
          paddings: [
            [0, 0],
            [top, hc - h - top],
            [left, wc - w - left],
            [0, 0],
          ],
          constantValue: -Infinity,
        },
      );
      const zeros = s.run("ZerosLike", { x: dy });
      let taken: tf.TensorInfo | undefined;
      let acc: tf.TensorInfo | undefined;
      for (let i = 0; i < ph; i++) {
        for (let j = 0; j < pw; j++) {
          const xt = s.run(
            "StridedSlice",
            { x: xp },
            {
              begin: [0, i, j, 0],
              end: [n, i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1, c],
              strides: [1, sh, sw, 1],
              beginMask: 0,
              endMask: 0,
              ellipsisMask: 0,
              newAxisMask: 0,
              shrinkAxisMask: 0,
            },
          );
          let hit = s.run("Equal", { a: xt, b: output });
          if (taken) {
            hit = s.run("LogicalAnd", { a: hit, b: s.run("LogicalNot", { x: taken }) });
            taken = s.run("LogicalOr", { a: taken, b: hit });
          } else {
            taken = hit;
          }
          let spread = s.run("Select", { condition: hit, t: dy, e: zeros });
          if (sh > 1 || sw > 1) {
            const six = s.run("Reshape", { x: spread }, { shape: [n, ho, 1, wo, 1, c] });
            const padded = s.run(
              "PadV2",
              { x: six },
              {
                paddings: [
                  [0, 0],
                  [0, 0],
                  [0, sh - 1],
                  [0, 0],
                  [0, sw - 1],
                  [0, 0],
                ],
                constantValue: 0,
              },
            );
            const big = s.run("Reshape", { x: padded }, { shape: [n, ho * sh, wo * sw, c] });
            spread = s.run("Slice", { x: big }, { begin: [0, 0, 0, 0], size: [n, (ho - 1) * sh + 1, (wo - 1) * sw + 1, c] });
          }
          const rows = (ho - 1) * sh + 1;
          const cols = (wo - 1) * sw + 1;
          const placed = s.run(
            "PadV2",
            { x: spread },
            {
              paddings: [
                [0, 0],
                [i, hc - i - rows],
                [j, wc - j - cols],
                [0, 0],
              ],
              constantValue: 0,
            },
          );
          acc = acc ? s.run("Add", { a: acc, b: placed }) : placed;
        }
      }
      return s.run("Slice", { x: acc! }, { begin: [0, top, left, 0], size: [n, h, w, c] });
    });
  };
}
