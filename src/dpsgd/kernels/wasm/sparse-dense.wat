;; Sparse-input Dense products for the DP-SGD engine (source of sparse-dense-wasm.ts; rebuild with
;; `npx tsx scripts/build-wasm.ts`). The module owns its memory; the caller (sparse-dense.ts)
;; lays out the arrays, copies inputs in and results out. All pointers are byte offsets, every
;; array is 4-byte aligned; f32 arrays are row-major.
;;
;; csr     : dense x [n, d] -> CSR (rowPtr [n+1] i32, col [nnz] i32, val [nnz] f32); returns nnz,
;;           or -1 as soon as more than maxNnz entries are nonzero (the caller then goes dense).
;;           "nonzero" is f32.ne 0: NaN and ±Inf are kept, ±0 dropped.
;; forward : out[i, :] = bias (or 0) + sum over row i's nonzeros x_ik * w[k, :]     (w is [d, u])
;; clipped : out[k, :] += sum over i of (x_ik * c_i) * g[i, :];  bsum += sum_i c_i * g[i, :]
;;           (out [d, u] and bsum [u] are zeroed by the caller)
;; The inner loops are axpy's over a u-float row: f32x4 for the first 4*floor(u/4), scalars after.
(module
  (memory (export "memory") 1)

  (func (export "csr")
    (param $x i32) (param $n i32) (param $d i32) (param $rowPtr i32) (param $col i32) (param $val i32) (param $maxNnz i32)
    (result i32)
    (local $i i32) (local $k i32) (local $nnz i32) (local $v f32) (local $p i32)
    (local.set $p (local.get $x))
    (i32.store (local.get $rowPtr) (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $k (i32.const 0))
        (block $rowDone
          (loop $cols
            (br_if $rowDone (i32.ge_u (local.get $k) (local.get $d)))
            (local.set $v (f32.load (local.get $p)))
            (if (f32.ne (local.get $v) (f32.const 0))
              (then
                (if (i32.ge_u (local.get $nnz) (local.get $maxNnz)) (then (return (i32.const -1))))
                (i32.store (i32.add (local.get $col) (i32.shl (local.get $nnz) (i32.const 2))) (local.get $k))
                (f32.store (i32.add (local.get $val) (i32.shl (local.get $nnz) (i32.const 2))) (local.get $v))
                (local.set $nnz (i32.add (local.get $nnz) (i32.const 1)))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $cols)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (i32.store (i32.add (local.get $rowPtr) (i32.shl (local.get $i) (i32.const 2))) (local.get $nnz))
        (br $rows)))
    (local.get $nnz))

  (func (export "forward")
    (param $n i32) (param $u i32) (param $rowPtr i32) (param $col i32) (param $val i32)
    (param $w i32) (param $bias i32) (param $hasBias i32) (param $out i32)
    (local $i i32) (local $p i32) (local $end i32) (local $o i32) (local $s i32) (local $j i32)
    (local $rowBytes i32) (local $vecBytes i32) (local $a v128) (local $af f32)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $rowBytes))))
        ;; out row = bias or 0
        (local.set $j (i32.const 0))
        (block $initDone
          (loop $init
            (br_if $initDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (f32.store (i32.add (local.get $o) (local.get $j))
              (select (f32.load (i32.add (local.get $bias) (local.get $j))) (f32.const 0) (local.get $hasBias)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $init)))
        (local.set $p (i32.load (i32.add (local.get $rowPtr) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $end (i32.load (i32.add (local.get $rowPtr) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)))))
        (block $nzDone
          (loop $nz
            (br_if $nzDone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $af (f32.load (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2)))))
            (local.set $a (f32x4.splat (local.get $af)))
            (local.set $s (i32.add (local.get $w)
              (i32.mul (i32.load (i32.add (local.get $col) (i32.shl (local.get $p) (i32.const 2)))) (local.get $rowBytes))))
            ;; axpy: o += a * s
            (local.set $j (i32.const 0))
            (block $vDone
              (loop $v
                (br_if $vDone (i32.ge_u (local.get $j) (local.get $vecBytes)))
                (v128.store (i32.add (local.get $o) (local.get $j))
                  (f32x4.add (v128.load (i32.add (local.get $o) (local.get $j)))
                    (f32x4.mul (local.get $a) (v128.load (i32.add (local.get $s) (local.get $j))))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $v)))
            (block $tDone
              (loop $t
                (br_if $tDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                (f32.store (i32.add (local.get $o) (local.get $j))
                  (f32.add (f32.load (i32.add (local.get $o) (local.get $j)))
                    (f32.mul (local.get $af) (f32.load (i32.add (local.get $s) (local.get $j))))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $t)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $nz)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

  (func (export "clipped")
    (param $n i32) (param $u i32) (param $rowPtr i32) (param $col i32) (param $val i32)
    (param $g i32) (param $c i32) (param $out i32) (param $bsum i32) (param $hasBias i32)
    (local $i i32) (local $p i32) (local $end i32) (local $o i32) (local $s i32) (local $j i32)
    (local $rowBytes i32) (local $vecBytes i32) (local $a v128) (local $af f32) (local $ci f32)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $ci (f32.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $s (i32.add (local.get $g) (i32.mul (local.get $i) (local.get $rowBytes))))
        (if (local.get $hasBias)
          (then
            (local.set $j (i32.const 0))
            (block $bDone
              (loop $b
                (br_if $bDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                (f32.store (i32.add (local.get $bsum) (local.get $j))
                  (f32.add (f32.load (i32.add (local.get $bsum) (local.get $j)))
                    (f32.mul (local.get $ci) (f32.load (i32.add (local.get $s) (local.get $j))))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $b)))))
        (local.set $p (i32.load (i32.add (local.get $rowPtr) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $end (i32.load (i32.add (local.get $rowPtr) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)))))
        (block $nzDone
          (loop $nz
            (br_if $nzDone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $af (f32.mul (f32.load (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2)))) (local.get $ci)))
            (local.set $a (f32x4.splat (local.get $af)))
            (local.set $o (i32.add (local.get $out)
              (i32.mul (i32.load (i32.add (local.get $col) (i32.shl (local.get $p) (i32.const 2)))) (local.get $rowBytes))))
            ;; axpy: o += a * s
            (local.set $j (i32.const 0))
            (block $vDone
              (loop $v
                (br_if $vDone (i32.ge_u (local.get $j) (local.get $vecBytes)))
                (v128.store (i32.add (local.get $o) (local.get $j))
                  (f32x4.add (v128.load (i32.add (local.get $o) (local.get $j)))
                    (f32x4.mul (local.get $a) (v128.load (i32.add (local.get $s) (local.get $j))))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $v)))
            (block $tDone
              (loop $t
                (br_if $tDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
                (f32.store (i32.add (local.get $o) (local.get $j))
                  (f32.add (f32.load (i32.add (local.get $o) (local.get $j)))
                    (f32.mul (local.get $af) (f32.load (i32.add (local.get $s) (local.get $j))))))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $t)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $nz)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows)))))
