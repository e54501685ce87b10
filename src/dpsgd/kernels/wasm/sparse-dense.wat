;; Sparse-input Dense products for the DP-SGD engine (source of sparse-dense-wasm.ts; rebuild with
;; `npm run gen:sparse-dense-wasm`). The module owns its memory; the caller (sparse-dense.ts)
;; lays out the arrays, copies inputs in and results out. All pointers are byte offsets, every
;; array is 4-byte aligned; f32 arrays are row-major.
;;
;; csr       : dense x [n, d] -> CSR (rowPtr [n+1] i32, col [nnz] i32, val [nnz] f32); returns nnz,
;;             or -1 as soon as more than maxNnz entries are nonzero (the caller then goes dense).
;;             "nonzero" is f32.ne 0: NaN and ±Inf are kept, ±0 dropped.
;; csc       : the CSR's transpose (colPtr [d+1], rowIdx [nnz], valT [nnz]; next [d] is scratch),
;;             rows in increasing order within each column.
;; forward   : out[i, :] = bias (or 0) + sum over row i's nonzeros x_ik * w[k, :]     (w is [d, u])
;; clipped   : out[k, :] = sum over column k's nonzeros (x_ik * c_i) * g[i, :]       (from the CSC)
;; biasSum   : bsum = sum_i c_i * g[i, :]
;; The inner loops add up to four scaled source rows of u floats to a destination row at once:
;; f32x4 for the first 4*floor(u/4) floats, scalars after.
(module
  (memory (export "memory") 1)

  ;; dst[0..u) += a0*s0 + a1*s1 + a2*s2 + a3*s3   (rowBytes = 4u, vecBytes = rowBytes & -16)
  (func $axpy4
    (param $dst i32) (param $s0 i32) (param $s1 i32) (param $s2 i32) (param $s3 i32)
    (param $a0 f32) (param $a1 f32) (param $a2 f32) (param $a3 f32) (param $rowBytes i32) (param $vecBytes i32)
    (local $j i32) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local.set $v0 (f32x4.splat (local.get $a0)))
    (local.set $v1 (f32x4.splat (local.get $a1)))
    (local.set $v2 (f32x4.splat (local.get $a2)))
    (local.set $v3 (f32x4.splat (local.get $a3)))
    (block $vDone
      (loop $v
        (br_if $vDone (i32.ge_u (local.get $j) (local.get $vecBytes)))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j)))
            (f32x4.add
              (f32x4.add (f32x4.mul (local.get $v0) (v128.load (i32.add (local.get $s0) (local.get $j))))
                         (f32x4.mul (local.get $v1) (v128.load (i32.add (local.get $s1) (local.get $j)))))
              (f32x4.add (f32x4.mul (local.get $v2) (v128.load (i32.add (local.get $s2) (local.get $j))))
                         (f32x4.mul (local.get $v3) (v128.load (i32.add (local.get $s3) (local.get $j))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $v)))
    (block $tDone
      (loop $t
        (br_if $tDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (f32.store (i32.add (local.get $dst) (local.get $j))
          (f32.add (f32.load (i32.add (local.get $dst) (local.get $j)))
            (f32.add
              (f32.add (f32.mul (local.get $a0) (f32.load (i32.add (local.get $s0) (local.get $j))))
                       (f32.mul (local.get $a1) (f32.load (i32.add (local.get $s1) (local.get $j)))))
              (f32.add (f32.mul (local.get $a2) (f32.load (i32.add (local.get $s2) (local.get $j))))
                       (f32.mul (local.get $a3) (f32.load (i32.add (local.get $s3) (local.get $j))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $t))))

  ;; dst[0..u) += a * s
  (func $axpy1 (param $dst i32) (param $s i32) (param $a f32) (param $rowBytes i32) (param $vecBytes i32)
    (local $j i32) (local $v v128)
    (local.set $v (f32x4.splat (local.get $a)))
    (block $vDone
      (loop $l
        (br_if $vDone (i32.ge_u (local.get $j) (local.get $vecBytes)))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j)))
            (f32x4.mul (local.get $v) (v128.load (i32.add (local.get $s) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l)))
    (block $tDone
      (loop $t
        (br_if $tDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (f32.store (i32.add (local.get $dst) (local.get $j))
          (f32.add (f32.load (i32.add (local.get $dst) (local.get $j)))
            (f32.mul (local.get $a) (f32.load (i32.add (local.get $s) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $t))))

  ;; dst[0..n) = src[0..n) if copy, else 0 (n floats)
  (func $initRow (param $dst i32) (param $src i32) (param $copy i32) (param $rowBytes i32)
    (local $j i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $j) (local.get $rowBytes)))
        (f32.store (i32.add (local.get $dst) (local.get $j))
          (select (f32.load (i32.add (local.get $src) (local.get $j))) (f32.const 0) (local.get $copy)))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $l))))

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

  (func (export "csc")
    (param $n i32) (param $d i32) (param $rowPtr i32) (param $col i32) (param $val i32)
    (param $colPtr i32) (param $next i32) (param $rowIdx i32) (param $valT i32)
    (local $i i32) (local $k i32) (local $p i32) (local $end i32) (local $q i32) (local $at i32) (local $sum i32) (local $c i32)
    (local.set $end (i32.load (i32.add (local.get $rowPtr) (i32.shl (local.get $n) (i32.const 2)))))
    ;; counts per column in next[k]
    (local.set $k (i32.const 0))
    (block $z0 (loop $z
      (br_if $z0 (i32.ge_u (local.get $k) (local.get $d)))
      (i32.store (i32.add (local.get $next) (i32.shl (local.get $k) (i32.const 2))) (i32.const 0))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $z)))
    (local.set $p (i32.const 0))
    (block $c0 (loop $cnt
      (br_if $c0 (i32.ge_u (local.get $p) (local.get $end)))
      (local.set $at (i32.add (local.get $next) (i32.shl (i32.load (i32.add (local.get $col) (i32.shl (local.get $p) (i32.const 2)))) (i32.const 2))))
      (i32.store (local.get $at) (i32.add (i32.load (local.get $at)) (i32.const 1)))
      (local.set $p (i32.add (local.get $p) (i32.const 1)))
      (br $cnt)))
    ;; colPtr = exclusive prefix sums; next[k] = colPtr[k] (the write cursor)
    (local.set $k (i32.const 0))
    (block $s0 (loop $s
      (br_if $s0 (i32.ge_u (local.get $k) (local.get $d)))
      (local.set $at (i32.add (local.get $next) (i32.shl (local.get $k) (i32.const 2))))
      (local.set $c (i32.load (local.get $at)))
      (i32.store (i32.add (local.get $colPtr) (i32.shl (local.get $k) (i32.const 2))) (local.get $sum))
      (i32.store (local.get $at) (local.get $sum))
      (local.set $sum (i32.add (local.get $sum) (local.get $c)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $s)))
    (i32.store (i32.add (local.get $colPtr) (i32.shl (local.get $d) (i32.const 2))) (local.get $sum))
    ;; scatter, row by row
    (local.set $p (i32.const 0))
    (block $r0 (loop $r
      (br_if $r0 (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $end (i32.load (i32.add (local.get $rowPtr) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)))))
      (block $e0 (loop $e
        (br_if $e0 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $at (i32.add (local.get $next) (i32.shl (i32.load (i32.add (local.get $col) (i32.shl (local.get $p) (i32.const 2)))) (i32.const 2))))
        (local.set $q (i32.load (local.get $at)))
        (i32.store (local.get $at) (i32.add (local.get $q) (i32.const 1)))
        (i32.store (i32.add (local.get $rowIdx) (i32.shl (local.get $q) (i32.const 2))) (local.get $i))
        (f32.store (i32.add (local.get $valT) (i32.shl (local.get $q) (i32.const 2)))
          (f32.load (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2)))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $e)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $r))))

  ;; for each of `rows` destination rows r: dst_r = init_r + sum over ptr[r]..ptr[r+1] of (val[p] * scale[idx[p]]) * src[idx[p], :]
  ;; forward: rows = n, ptr/idx/val = CSR, src = w, scale none (hasScale 0), init = bias (hasInit) or 0
  ;; clipped: rows = d, ptr/idx/val = CSC, src = g, scale = c, init 0
  (func $gather
    (param $rows i32) (param $u i32) (param $ptr i32) (param $idx i32) (param $val i32)
    (param $src i32) (param $scale i32) (param $hasScale i32) (param $init i32) (param $hasInit i32) (param $out i32)
    (local $r i32) (local $p i32) (local $end i32) (local $o i32) (local $rowBytes i32) (local $vecBytes i32)
    (local $i0 i32) (local $i1 i32) (local $i2 i32) (local $i3 i32)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (local.set $p (i32.load (local.get $ptr)))
    (block $done
      (loop $rowsLoop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $rowBytes))))
        (call $initRow (local.get $o) (local.get $init) (local.get $hasInit) (local.get $rowBytes))
        (local.set $end (i32.load (i32.add (local.get $ptr) (i32.shl (i32.add (local.get $r) (i32.const 1)) (i32.const 2)))))
        (block $q4Done
          (loop $q4
            (br_if $q4Done (i32.gt_s (i32.add (local.get $p) (i32.const 4)) (local.get $end)))
            (local.set $i0 (i32.load (i32.add (local.get $idx) (i32.shl (local.get $p) (i32.const 2)))))
            (local.set $i1 (i32.load offset=4 (i32.add (local.get $idx) (i32.shl (local.get $p) (i32.const 2)))))
            (local.set $i2 (i32.load offset=8 (i32.add (local.get $idx) (i32.shl (local.get $p) (i32.const 2)))))
            (local.set $i3 (i32.load offset=12 (i32.add (local.get $idx) (i32.shl (local.get $p) (i32.const 2)))))
            (call $axpy4 (local.get $o)
              (i32.add (local.get $src) (i32.mul (local.get $i0) (local.get $rowBytes)))
              (i32.add (local.get $src) (i32.mul (local.get $i1) (local.get $rowBytes)))
              (i32.add (local.get $src) (i32.mul (local.get $i2) (local.get $rowBytes)))
              (i32.add (local.get $src) (i32.mul (local.get $i3) (local.get $rowBytes)))
              (f32.mul (f32.load (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2))))
                (select (f32.load (i32.add (local.get $scale) (i32.shl (local.get $i0) (i32.const 2)))) (f32.const 1) (local.get $hasScale)))
              (f32.mul (f32.load offset=4 (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2))))
                (select (f32.load (i32.add (local.get $scale) (i32.shl (local.get $i1) (i32.const 2)))) (f32.const 1) (local.get $hasScale)))
              (f32.mul (f32.load offset=8 (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2))))
                (select (f32.load (i32.add (local.get $scale) (i32.shl (local.get $i2) (i32.const 2)))) (f32.const 1) (local.get $hasScale)))
              (f32.mul (f32.load offset=12 (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2))))
                (select (f32.load (i32.add (local.get $scale) (i32.shl (local.get $i3) (i32.const 2)))) (f32.const 1) (local.get $hasScale)))
              (local.get $rowBytes) (local.get $vecBytes))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $q4)))
        (block $q1Done
          (loop $q1
            (br_if $q1Done (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $i0 (i32.load (i32.add (local.get $idx) (i32.shl (local.get $p) (i32.const 2)))))
            (call $axpy1 (local.get $o)
              (i32.add (local.get $src) (i32.mul (local.get $i0) (local.get $rowBytes)))
              (f32.mul (f32.load (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2))))
                (select (f32.load (i32.add (local.get $scale) (i32.shl (local.get $i0) (i32.const 2)))) (f32.const 1) (local.get $hasScale)))
              (local.get $rowBytes) (local.get $vecBytes))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $q1)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowsLoop))))

  (func (export "forward")
    (param $n i32) (param $u i32) (param $rowPtr i32) (param $col i32) (param $val i32)
    (param $w i32) (param $bias i32) (param $hasBias i32) (param $out i32)
    (call $gather (local.get $n) (local.get $u) (local.get $rowPtr) (local.get $col) (local.get $val)
      (local.get $w) (i32.const 0) (i32.const 0) (local.get $bias) (local.get $hasBias) (local.get $out)))

  (func (export "clipped")
    (param $d i32) (param $u i32) (param $colPtr i32) (param $rowIdx i32) (param $valT i32)
    (param $g i32) (param $c i32) (param $out i32)
    (call $gather (local.get $d) (local.get $u) (local.get $colPtr) (local.get $rowIdx) (local.get $valT)
      (local.get $g) (local.get $c) (i32.const 1) (i32.const 0) (i32.const 0) (local.get $out)))

  ;; bsum = sum_i c_i * g[i, :]
  (func (export "biasSum") (param $n i32) (param $u i32) (param $g i32) (param $c i32) (param $bsum i32)
    (local $i i32) (local $rowBytes i32) (local $vecBytes i32)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (call $initRow (local.get $bsum) (i32.const 0) (i32.const 0) (local.get $rowBytes))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $axpy1 (local.get $bsum) (i32.add (local.get $g) (i32.mul (local.get $i) (local.get $rowBytes)))
          (f32.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2)))) (local.get $rowBytes) (local.get $vecBytes))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))))
