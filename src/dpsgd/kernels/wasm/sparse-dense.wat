;; Sparse-input Dense products for the DP-SGD engine (source of sparse-dense-wasm.ts; rebuild with
;; `npm run gen:kernel-wasm`). The module owns its memory; the caller (sparse-dense.ts)
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
;; Register-tiled variants (the default; the ones above are kept for side-by-side comparison):
;; csr4      : as csr, the same output, reading x four floats at a time (all-zero quads skipped, the
;;             lanes of a nonzero quad written without a branch each while four more entries fit)
;; csrRowSq  : out[i] = sum over row i's entries of val^2 (f32, in entry order): the squared row norms of x
;; rowOffsets: off[p] = idx[p] * rowBytes (the tiled gathers read their entries' source rows by byte offset)
;; forwardT  : as forward (its entries' columns given as byte offsets into w, rowOffsets), then relu
;;             (x < 0 ? 0 : x) when asked; each output row formed in tiles of 24 floats held in six
;;             f32x4 registers, then the row's edge (the 0-5 f32x4 left and the last u % 4 floats) in
;;             one more pass; one pass over the row's entries per tile, each tile stored once
;; scaleEntries : valS[q] = valT[q] * c[rowIdx[q]] (the clipped sum's per-entry factor, as clipped forms it)
;;             and offT[q] = rowIdx[q] * rowBytes
;; cscScaled : csc and scaleEntries in one pass (the fused step's clipped sum)
;; clippedT  : out[k, :] = sum over column k's entries valS[q] * g[rowIdx[q], :] (the rows by offT), tiled as forwardT
;; gemmT     : as gemm, then relu when asked, tiled as forwardT (the fused step's dense products)
;;
;; Dense-stack kernels (the fused MLP step, ../dense-stack.ts), on dense row-major f32 arrays:
;; gemm      : out[r, :] = init (or 0) + sum_k A(r, k) * b[k, :]   (A(r, k) at a + r*aRow + k*aCol bytes,
;;             so A may be read transposed; b is [inner, u]); four k at a time through $axpy4
;; rowSq     : out[i] = sum_j src[i, j]^2 (f32, four lanes then the tail)
;; scaleRows : g[i, :] *= c[i]
;; actGrad   : g *= f'(a) elementwise, from the activation's output a: kind 1 relu (a > 0), 2 tanh
;;             (1 - a*a), 3 sigmoid (a * (1 - a)), as tfjs's gradients compute them in float32
;; tanh, sigmoid : dst = f(src) elementwise, evaluated in f64 (two lanes) and rounded to f32 once:
;;             tanh(x) = x * P(x^2) (Taylor, |x| < 0.25) or 1 - 2 / (exp(2|x|) + 1) with the sign of x;
;;             sigmoid(x) = 1 / (1 + exp(-x)); exp by 2^k * exp(r), |r| <= ln2/2, Taylor degree 8
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

  ;; cscScaled: csc and scaleEntries in one: the CSR's transpose with each entry written as clippedT
  ;; reads it, offT[q] = i * rowBytes (its row of g) and valS[q] = val * c[i] (the same f32 product)
  (func (export "cscScaled")
    (param $n i32) (param $d i32) (param $rowPtr i32) (param $col i32) (param $val i32)
    (param $c i32) (param $rowBytes i32) (param $colPtr i32) (param $next i32) (param $offT i32) (param $valS i32)
    (local $i i32) (local $k i32) (local $p i32) (local $end i32) (local $q i32) (local $at i32) (local $sum i32) (local $cnt i32) (local $ci f32) (local $oi i32)
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
      (local.set $cnt (i32.load (local.get $at)))
      (i32.store (i32.add (local.get $colPtr) (i32.shl (local.get $k) (i32.const 2))) (local.get $sum))
      (i32.store (local.get $at) (local.get $sum))
      (local.set $sum (i32.add (local.get $sum) (local.get $cnt)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br $s)))
    (i32.store (i32.add (local.get $colPtr) (i32.shl (local.get $d) (i32.const 2))) (local.get $sum))
    ;; scatter, row by row
    (local.set $p (i32.const 0))
    (block $r0 (loop $r
      (br_if $r0 (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $end (i32.load (i32.add (local.get $rowPtr) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)))))
      (local.set $ci (f32.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2)))))
      (local.set $oi (i32.mul (local.get $i) (local.get $rowBytes)))
      (block $e0 (loop $e
        (br_if $e0 (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $at (i32.add (local.get $next) (i32.shl (i32.load (i32.add (local.get $col) (i32.shl (local.get $p) (i32.const 2)))) (i32.const 2))))
        (local.set $q (i32.load (local.get $at)))
        (i32.store (local.get $at) (i32.add (local.get $q) (i32.const 1)))
        (i32.store (i32.add (local.get $offT) (i32.shl (local.get $q) (i32.const 2))) (local.get $oi))
        (f32.store (i32.add (local.get $valS) (i32.shl (local.get $q) (i32.const 2)))
          (f32.mul (f32.load (i32.add (local.get $val) (i32.shl (local.get $p) (i32.const 2)))) (local.get $ci)))
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

  ;; ---- register-tiled gathers (forwardT, clippedT; the default: see sparse-dense.ts) ----
  ;; dst_r = init_r (or 0) + sum over ptr[r]..ptr[r+1] of val[p] * (the source row at byte src + off[p]),
  ;; then relu when on (off[p]: the entry's source row index times the row's bytes, see rowOffsets):
  ;; each destination row is formed in column blocks held in registers — whole tiles of 24 floats (six
  ;; f32x4 accumulators: with the entry's scale and the loaded source vectors, within the 15 xmm
  ;; registers V8 allocates on x64), then the row's edge in one more pass: the 0-5 f32x4 left and the
  ;; last u % 4 floats (three scalar accumulators, their columns clamped to the row: a repeated column
  ;; computes the same value twice). Per block one pass over the row's entries, the source row read
  ;; with constant offsets, the block stored once. The terms are added in entry order.
  ;; relu: x < 0 ? 0 : x (NaN and -0 are kept, as the JS loop it replaces).
  ;; The entries carry no scale: the clipped sum's val * c[idx] is formed first by scaleEntries.
  ;; The tile and the twelve edge blocks (0-5 f32x4, with or without single floats) are written out
  ;; one by one, in $gatherT and in gemmT alike: a change to one block is a change to all of them
  ;; (test/dpsgd/kernels/sparse-dense-tiled.test.ts runs widths that reach every one of them).
  (func $gatherT
    (param $rows i32) (param $u i32) (param $ptr i32) (param $off i32) (param $val i32)
    (param $src i32) (param $init i32) (param $hasInit i32) (param $relu i32) (param $out i32)
    (local $r i32) (local $o i32) (local $rowBytes i32) (local $fullBytes i32) (local $edge i32) (local $q1 i32) (local $q2 i32)
    (local $j i32) (local $p0 i32) (local $p1 i32) (local $p i32) (local $s i32) (local $x f32) (local $sp v128)
    (local $f0 f32) (local $f1 f32) (local $f2 f32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $c4 v128) (local $c5 v128)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    ;; bytes in whole tiles of 6 f32x4; the edge: 2 * (the f32x4 left) + (any single floats left)
    (local.set $fullBytes (i32.mul (i32.div_u (i32.shr_u (local.get $u) (i32.const 2)) (i32.const 6)) (i32.const 96)))
    (local.set $edge (i32.add (i32.shl (i32.rem_u (i32.shr_u (local.get $u) (i32.const 2)) (i32.const 6)) (i32.const 1))
      (i32.ne (i32.and (local.get $u) (i32.const 3)) (i32.const 0))))
    ;; the single floats' byte offsets after the first, clamped to the last: u % 4 = 1: 0 0; 2: 4 4; 3: 4 8
    (local.set $q1 (select (i32.const 4) (i32.const 0) (i32.ge_u (i32.and (local.get $u) (i32.const 3)) (i32.const 2))))
    (local.set $q2 (i32.shl (i32.sub (i32.and (local.get $u) (i32.const 3)) (i32.const 1)) (i32.const 2)))
    (local.set $q2 (select (local.get $q2) (i32.const 0) (i32.gt_s (local.get $q2) (i32.const 0))))
    (block $done
      (loop $rowsLoop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $rowBytes))))
        ;; this row's entries: byte offsets p0 .. p1 into idx and val
        (local.set $p0 (i32.shl (i32.load (i32.add (local.get $ptr) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2)))
        (local.set $p1 (i32.shl (i32.load offset=4 (i32.add (local.get $ptr) (i32.shl (local.get $r) (i32.const 2)))) (i32.const 2)))
        (local.set $j (i32.const 0))
        ;; whole tiles of 24 floats
        (block $bwDone
          (loop $bw
            (br_if $bwDone (i32.ge_u (local.get $j) (local.get $fullBytes)))
            (if (local.get $hasInit)
              (then
                (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
                (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
                (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j))))
                (local.set $c4 (v128.load offset=64 (i32.add (local.get $init) (local.get $j))))
                (local.set $c5 (v128.load offset=80 (i32.add (local.get $init) (local.get $j)))))
              (else
                (local.set $c0 (v128.const i32x4 0 0 0 0))
                (local.set $c1 (v128.const i32x4 0 0 0 0))
                (local.set $c2 (v128.const i32x4 0 0 0 0))
                (local.set $c3 (v128.const i32x4 0 0 0 0))
                (local.set $c4 (v128.const i32x4 0 0 0 0))
                (local.set $c5 (v128.const i32x4 0 0 0 0))))
            (local.set $p (local.get $p0))
            (block $q6Done
              (loop $q6
                (br_if $q6Done (i32.ge_u (local.get $p) (local.get $p1)))
                (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
                (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
                (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
                (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
                (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $sp) (v128.load offset=64 (local.get $s)))))
                (local.set $c5 (f32x4.add (local.get $c5) (f32x4.mul (local.get $sp) (v128.load offset=80 (local.get $s)))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $q6)))
            (local.set $s (i32.add (local.get $o) (local.get $j)))
            (if (local.get $relu)
              (then
                (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=64 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c4) (f32x4.lt (local.get $c4) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=80 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c5) (f32x4.lt (local.get $c5) (v128.const i32x4 0 0 0 0)))))
              (else
                (v128.store (local.get $s) (local.get $c0))
                (v128.store offset=16 (local.get $s) (local.get $c1))
                (v128.store offset=32 (local.get $s) (local.get $c2))
                (v128.store offset=48 (local.get $s) (local.get $c3))
                (v128.store offset=64 (local.get $s) (local.get $c4))
                (v128.store offset=80 (local.get $s) (local.get $c5))))
            (local.set $j (i32.add (local.get $j) (i32.const 96)))
            (br $bw)))
        ;; the row's edge in one pass: the 0-5 f32x4 left after the whole tiles and the last u % 4 floats
        (block $edgeDone
        (block $e5t
         (block $e5
          (block $e4t
           (block $e4
            (block $e3t
             (block $e3
              (block $e2t
               (block $e2
                (block $e1t
                 (block $e1
                  (block $e0t
                   (block $e0
                    (br_table $e0 $e0t $e1 $e1t $e2 $e2t $e3 $e3t $e4 $e4t $e5 $e5t (local.get $edge)))
                   (br $edgeDone))
                  (local.set $f0 (select (f32.load offset=0 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
                  (local.set $f1 (select (f32.load offset=0 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
                  (local.set $f2 (select (f32.load offset=0 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
                  (local.set $p (local.get $p0))
                  (block $q0tDone
                    (loop $q0t
                      (br_if $q0tDone (i32.ge_u (local.get $p) (local.get $p1)))
                      (local.set $x (f32.load (i32.add (local.get $val) (local.get $p))))
                      (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
                      (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=0 (local.get $s)))))
                      (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=0 (i32.add (local.get $s) (local.get $q1))))))
                      (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=0 (i32.add (local.get $s) (local.get $q2))))))
                      (local.set $p (i32.add (local.get $p) (i32.const 4)))
                      (br $q0t)))
                  (local.set $s (i32.add (local.get $o) (local.get $j)))
                  (f32.store offset=0 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
                  (f32.store offset=0 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
                  (f32.store offset=0 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
                  (local.set $j (i32.add (local.get $j) (i32.const 0)))
                  (br $edgeDone))
                 (if (local.get $hasInit)
                   (then
                     (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j)))))
                   (else
                     (local.set $c0 (v128.const i32x4 0 0 0 0))))
                 (local.set $p (local.get $p0))
                 (block $q1Done
                   (loop $q1
                     (br_if $q1Done (i32.ge_u (local.get $p) (local.get $p1)))
                     (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
                     (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
                     (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                     (local.set $p (i32.add (local.get $p) (i32.const 4)))
                     (br $q1)))
                 (local.set $s (i32.add (local.get $o) (local.get $j)))
                 (if (local.get $relu)
                   (then
                     (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0)))))
                   (else
                     (v128.store (local.get $s) (local.get $c0))))
                 (local.set $j (i32.add (local.get $j) (i32.const 16)))
                 (br $edgeDone))
                (if (local.get $hasInit)
                  (then
                    (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j)))))
                  (else
                    (local.set $c0 (v128.const i32x4 0 0 0 0))))
                (local.set $f0 (select (f32.load offset=16 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
                (local.set $f1 (select (f32.load offset=16 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
                (local.set $f2 (select (f32.load offset=16 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
                (local.set $p (local.get $p0))
                (block $q1tDone
                  (loop $q1t
                    (br_if $q1tDone (i32.ge_u (local.get $p) (local.get $p1)))
                    (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
                    (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
                    (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                    (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=16 (local.get $s)))))
                    (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=16 (i32.add (local.get $s) (local.get $q1))))))
                    (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=16 (i32.add (local.get $s) (local.get $q2))))))
                    (local.set $p (i32.add (local.get $p) (i32.const 4)))
                    (br $q1t)))
                (local.set $s (i32.add (local.get $o) (local.get $j)))
                (if (local.get $relu)
                  (then
                    (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0)))))
                  (else
                    (v128.store (local.get $s) (local.get $c0))))
                (f32.store offset=16 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
                (f32.store offset=16 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
                (f32.store offset=16 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $edgeDone))
               (if (local.get $hasInit)
                 (then
                   (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                   (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j)))))
                 (else
                   (local.set $c0 (v128.const i32x4 0 0 0 0))
                   (local.set $c1 (v128.const i32x4 0 0 0 0))))
               (local.set $p (local.get $p0))
               (block $q2Done
                 (loop $q2
                   (br_if $q2Done (i32.ge_u (local.get $p) (local.get $p1)))
                   (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
                   (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
                   (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                   (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                   (local.set $p (i32.add (local.get $p) (i32.const 4)))
                   (br $q2)))
               (local.set $s (i32.add (local.get $o) (local.get $j)))
               (if (local.get $relu)
                 (then
                   (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                   (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0)))))
                 (else
                   (v128.store (local.get $s) (local.get $c0))
                   (v128.store offset=16 (local.get $s) (local.get $c1))))
               (local.set $j (i32.add (local.get $j) (i32.const 32)))
               (br $edgeDone))
              (if (local.get $hasInit)
                (then
                  (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                  (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j)))))
                (else
                  (local.set $c0 (v128.const i32x4 0 0 0 0))
                  (local.set $c1 (v128.const i32x4 0 0 0 0))))
              (local.set $f0 (select (f32.load offset=32 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
              (local.set $f1 (select (f32.load offset=32 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
              (local.set $f2 (select (f32.load offset=32 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
              (local.set $p (local.get $p0))
              (block $q2tDone
                (loop $q2t
                  (br_if $q2tDone (i32.ge_u (local.get $p) (local.get $p1)))
                  (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
                  (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
                  (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
                  (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                  (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                  (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=32 (local.get $s)))))
                  (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=32 (i32.add (local.get $s) (local.get $q1))))))
                  (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=32 (i32.add (local.get $s) (local.get $q2))))))
                  (local.set $p (i32.add (local.get $p) (i32.const 4)))
                  (br $q2t)))
              (local.set $s (i32.add (local.get $o) (local.get $j)))
              (if (local.get $relu)
                (then
                  (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                  (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0)))))
                (else
                  (v128.store (local.get $s) (local.get $c0))
                  (v128.store offset=16 (local.get $s) (local.get $c1))))
              (f32.store offset=32 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
              (f32.store offset=32 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
              (f32.store offset=32 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
              (local.set $j (i32.add (local.get $j) (i32.const 32)))
              (br $edgeDone))
             (if (local.get $hasInit)
               (then
                 (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                 (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
                 (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j)))))
               (else
                 (local.set $c0 (v128.const i32x4 0 0 0 0))
                 (local.set $c1 (v128.const i32x4 0 0 0 0))
                 (local.set $c2 (v128.const i32x4 0 0 0 0))))
             (local.set $p (local.get $p0))
             (block $q3Done
               (loop $q3
                 (br_if $q3Done (i32.ge_u (local.get $p) (local.get $p1)))
                 (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
                 (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
                 (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                 (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                 (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
                 (local.set $p (i32.add (local.get $p) (i32.const 4)))
                 (br $q3)))
             (local.set $s (i32.add (local.get $o) (local.get $j)))
             (if (local.get $relu)
               (then
                 (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                 (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
                 (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0)))))
               (else
                 (v128.store (local.get $s) (local.get $c0))
                 (v128.store offset=16 (local.get $s) (local.get $c1))
                 (v128.store offset=32 (local.get $s) (local.get $c2))))
             (local.set $j (i32.add (local.get $j) (i32.const 48)))
             (br $edgeDone))
            (if (local.get $hasInit)
              (then
                (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
                (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j)))))
              (else
                (local.set $c0 (v128.const i32x4 0 0 0 0))
                (local.set $c1 (v128.const i32x4 0 0 0 0))
                (local.set $c2 (v128.const i32x4 0 0 0 0))))
            (local.set $f0 (select (f32.load offset=48 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
            (local.set $f1 (select (f32.load offset=48 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
            (local.set $f2 (select (f32.load offset=48 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
            (local.set $p (local.get $p0))
            (block $q3tDone
              (loop $q3t
                (br_if $q3tDone (i32.ge_u (local.get $p) (local.get $p1)))
                (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
                (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
                (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
                (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
                (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=48 (local.get $s)))))
                (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=48 (i32.add (local.get $s) (local.get $q1))))))
                (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=48 (i32.add (local.get $s) (local.get $q2))))))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $q3t)))
            (local.set $s (i32.add (local.get $o) (local.get $j)))
            (if (local.get $relu)
              (then
                (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0)))))
              (else
                (v128.store (local.get $s) (local.get $c0))
                (v128.store offset=16 (local.get $s) (local.get $c1))
                (v128.store offset=32 (local.get $s) (local.get $c2))))
            (f32.store offset=48 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
            (f32.store offset=48 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
            (f32.store offset=48 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
            (local.set $j (i32.add (local.get $j) (i32.const 48)))
            (br $edgeDone))
           (if (local.get $hasInit)
             (then
               (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
               (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
               (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
               (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j)))))
             (else
               (local.set $c0 (v128.const i32x4 0 0 0 0))
               (local.set $c1 (v128.const i32x4 0 0 0 0))
               (local.set $c2 (v128.const i32x4 0 0 0 0))
               (local.set $c3 (v128.const i32x4 0 0 0 0))))
           (local.set $p (local.get $p0))
           (block $q4Done
             (loop $q4
               (br_if $q4Done (i32.ge_u (local.get $p) (local.get $p1)))
               (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
               (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
               (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
               (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
               (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
               (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
               (local.set $p (i32.add (local.get $p) (i32.const 4)))
               (br $q4)))
           (local.set $s (i32.add (local.get $o) (local.get $j)))
           (if (local.get $relu)
             (then
               (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
               (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
               (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
               (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0)))))
             (else
               (v128.store (local.get $s) (local.get $c0))
               (v128.store offset=16 (local.get $s) (local.get $c1))
               (v128.store offset=32 (local.get $s) (local.get $c2))
               (v128.store offset=48 (local.get $s) (local.get $c3))))
           (local.set $j (i32.add (local.get $j) (i32.const 64)))
           (br $edgeDone))
          (if (local.get $hasInit)
            (then
              (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
              (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
              (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
              (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j)))))
            (else
              (local.set $c0 (v128.const i32x4 0 0 0 0))
              (local.set $c1 (v128.const i32x4 0 0 0 0))
              (local.set $c2 (v128.const i32x4 0 0 0 0))
              (local.set $c3 (v128.const i32x4 0 0 0 0))))
          (local.set $f0 (select (f32.load offset=64 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
          (local.set $f1 (select (f32.load offset=64 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
          (local.set $f2 (select (f32.load offset=64 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
          (local.set $p (local.get $p0))
          (block $q4tDone
            (loop $q4t
              (br_if $q4tDone (i32.ge_u (local.get $p) (local.get $p1)))
              (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
              (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
              (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
              (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
              (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
              (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
              (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
              (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=64 (local.get $s)))))
              (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=64 (i32.add (local.get $s) (local.get $q1))))))
              (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=64 (i32.add (local.get $s) (local.get $q2))))))
              (local.set $p (i32.add (local.get $p) (i32.const 4)))
              (br $q4t)))
          (local.set $s (i32.add (local.get $o) (local.get $j)))
          (if (local.get $relu)
            (then
              (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
              (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
              (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
              (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0)))))
            (else
              (v128.store (local.get $s) (local.get $c0))
              (v128.store offset=16 (local.get $s) (local.get $c1))
              (v128.store offset=32 (local.get $s) (local.get $c2))
              (v128.store offset=48 (local.get $s) (local.get $c3))))
          (f32.store offset=64 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
          (f32.store offset=64 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
          (f32.store offset=64 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
          (local.set $j (i32.add (local.get $j) (i32.const 64)))
          (br $edgeDone))
         (if (local.get $hasInit)
           (then
             (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
             (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
             (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
             (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j))))
             (local.set $c4 (v128.load offset=64 (i32.add (local.get $init) (local.get $j)))))
           (else
             (local.set $c0 (v128.const i32x4 0 0 0 0))
             (local.set $c1 (v128.const i32x4 0 0 0 0))
             (local.set $c2 (v128.const i32x4 0 0 0 0))
             (local.set $c3 (v128.const i32x4 0 0 0 0))
             (local.set $c4 (v128.const i32x4 0 0 0 0))))
         (local.set $p (local.get $p0))
         (block $q5Done
           (loop $q5
             (br_if $q5Done (i32.ge_u (local.get $p) (local.get $p1)))
             (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
             (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
             (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
             (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
             (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
             (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
             (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $sp) (v128.load offset=64 (local.get $s)))))
             (local.set $p (i32.add (local.get $p) (i32.const 4)))
             (br $q5)))
         (local.set $s (i32.add (local.get $o) (local.get $j)))
         (if (local.get $relu)
           (then
             (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
             (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
             (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
             (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0))))
             (v128.store offset=64 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c4) (f32x4.lt (local.get $c4) (v128.const i32x4 0 0 0 0)))))
           (else
             (v128.store (local.get $s) (local.get $c0))
             (v128.store offset=16 (local.get $s) (local.get $c1))
             (v128.store offset=32 (local.get $s) (local.get $c2))
             (v128.store offset=48 (local.get $s) (local.get $c3))
             (v128.store offset=64 (local.get $s) (local.get $c4))))
         (local.set $j (i32.add (local.get $j) (i32.const 80)))
         (br $edgeDone))
        (if (local.get $hasInit)
          (then
            (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
            (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
            (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
            (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j))))
            (local.set $c4 (v128.load offset=64 (i32.add (local.get $init) (local.get $j)))))
          (else
            (local.set $c0 (v128.const i32x4 0 0 0 0))
            (local.set $c1 (v128.const i32x4 0 0 0 0))
            (local.set $c2 (v128.const i32x4 0 0 0 0))
            (local.set $c3 (v128.const i32x4 0 0 0 0))
            (local.set $c4 (v128.const i32x4 0 0 0 0))))
        (local.set $f0 (select (f32.load offset=80 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
        (local.set $f1 (select (f32.load offset=80 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
        (local.set $f2 (select (f32.load offset=80 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
        (local.set $p (local.get $p0))
        (block $q5tDone
          (loop $q5t
            (br_if $q5tDone (i32.ge_u (local.get $p) (local.get $p1)))
            (local.set $sp (v128.load32_splat (i32.add (local.get $val) (local.get $p))))
            (local.set $s (i32.add (i32.add (local.get $src) (i32.load (i32.add (local.get $off) (local.get $p)))) (local.get $j)))
            (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
            (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
            (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
            (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
            (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
            (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $sp) (v128.load offset=64 (local.get $s)))))
            (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=80 (local.get $s)))))
            (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=80 (i32.add (local.get $s) (local.get $q1))))))
            (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=80 (i32.add (local.get $s) (local.get $q2))))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $q5t)))
        (local.set $s (i32.add (local.get $o) (local.get $j)))
        (if (local.get $relu)
          (then
            (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
            (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
            (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
            (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0))))
            (v128.store offset=64 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c4) (f32x4.lt (local.get $c4) (v128.const i32x4 0 0 0 0)))))
          (else
            (v128.store (local.get $s) (local.get $c0))
            (v128.store offset=16 (local.get $s) (local.get $c1))
            (v128.store offset=32 (local.get $s) (local.get $c2))
            (v128.store offset=48 (local.get $s) (local.get $c3))
            (v128.store offset=64 (local.get $s) (local.get $c4))))
        (f32.store offset=80 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
        (f32.store offset=80 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
        (f32.store offset=80 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
        (local.set $j (i32.add (local.get $j) (i32.const 80)))
        (br $edgeDone))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowsLoop))))

  ;; forwardT: as forward, tiled, with an optional relu after the bias (relu 1); colOff[p] = col[p] * 4u
  ;; (rowOffsets), the entries' byte offsets into w
  (func (export "forwardT")
    (param $n i32) (param $u i32) (param $rowPtr i32) (param $colOff i32) (param $val i32)
    (param $w i32) (param $bias i32) (param $hasBias i32) (param $relu i32) (param $out i32)
    (call $gatherT (local.get $n) (local.get $u) (local.get $rowPtr) (local.get $colOff) (local.get $val)
      (local.get $w) (local.get $bias) (local.get $hasBias) (local.get $relu) (local.get $out)))

  ;; rowOffsets: off[p] = idx[p] * rowBytes for the nnz entries (the tiled gathers' source row offsets)
  (func (export "rowOffsets") (param $nnz i32) (param $idx i32) (param $rowBytes i32) (param $off i32)
    (local $q i32) (local $end i32)
    (local.set $end (i32.shl (local.get $nnz) (i32.const 2)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $q) (local.get $end)))
        (i32.store (i32.add (local.get $off) (local.get $q)) (i32.mul (i32.load (i32.add (local.get $idx) (local.get $q))) (local.get $rowBytes)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $l))))

  ;; scaleEntries: valS[q] = valT[q] * c[rowIdx[q]] for the nnz entries of the CSC (the clipped sum's
  ;; factors, as clipped forms them), and offT[q] = rowIdx[q] * rowBytes (the rows of g they read)
  (func (export "scaleEntries") (param $nnz i32) (param $rowIdx i32) (param $valT i32) (param $c i32) (param $valS i32)
    (param $rowBytes i32) (param $offT i32)
    (local $q i32) (local $end i32) (local $i i32)
    (local.set $end (i32.shl (local.get $nnz) (i32.const 2)))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $q) (local.get $end)))
        (local.set $i (i32.load (i32.add (local.get $rowIdx) (local.get $q))))
        (f32.store (i32.add (local.get $valS) (local.get $q))
          (f32.mul (f32.load (i32.add (local.get $valT) (local.get $q))) (f32.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2))))))
        (i32.store (i32.add (local.get $offT) (local.get $q)) (i32.mul (local.get $i) (local.get $rowBytes)))
        (local.set $q (i32.add (local.get $q) (i32.const 4)))
        (br $l))))

  ;; clippedT: as clipped, tiled, from the scaled entries valS and offsets offT (scaleEntries with rowBytes 4u)
  (func (export "clippedT")
    (param $d i32) (param $u i32) (param $colPtr i32) (param $offT i32) (param $valS i32)
    (param $g i32) (param $out i32)
    (call $gatherT (local.get $d) (local.get $u) (local.get $colPtr) (local.get $offT) (local.get $valS)
      (local.get $g) (i32.const 0) (i32.const 0) (i32.const 0) (local.get $out)))

  ;; csr4: as csr (the same output), reading x four floats at a time and skipping all-zero quads
  ;; (f32x4.ne against 0: NaN and ±Inf are nonzero, ±0 zero, as csr); the row's last d % 4 floats one by one
  (func (export "csr4")
    (param $x i32) (param $n i32) (param $d i32) (param $rowPtr i32) (param $col i32) (param $val i32) (param $maxNnz i32)
    (result i32)
    (local $i i32) (local $k i32) (local $nnz i32) (local $v f32) (local $p i32) (local $k4 i32) (local $t i32) (local $q v128)
    (local.set $p (local.get $x))
    (local.set $k4 (i32.and (local.get $d) (i32.const -4)))
    (i32.store (local.get $rowPtr) (i32.const 0))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $k (i32.const 0))
        (block $quadsDone
          (loop $quads
            (br_if $quadsDone (i32.ge_u (local.get $k) (local.get $k4)))
            (local.set $q (v128.load (local.get $p)))
            (if (v128.any_true (f32x4.ne (local.get $q) (v128.const i32x4 0 0 0 0)))
              (then
                (if (i32.le_u (i32.add (local.get $nnz) (i32.const 4)) (local.get $maxNnz))
                  (then
                    ;; room for four: each lane written at nnz, nnz advanced past the nonzero ones (no branch per lane)
                    (local.set $v (f32x4.extract_lane 0 (local.get $q)))
                    (i32.store (i32.add (local.get $col) (i32.shl (local.get $nnz) (i32.const 2))) (i32.add (local.get $k) (i32.const 0)))
                    (f32.store (i32.add (local.get $val) (i32.shl (local.get $nnz) (i32.const 2))) (local.get $v))
                    (local.set $nnz (i32.add (local.get $nnz) (f32.ne (local.get $v) (f32.const 0))))
                    (local.set $v (f32x4.extract_lane 1 (local.get $q)))
                    (i32.store (i32.add (local.get $col) (i32.shl (local.get $nnz) (i32.const 2))) (i32.add (local.get $k) (i32.const 1)))
                    (f32.store (i32.add (local.get $val) (i32.shl (local.get $nnz) (i32.const 2))) (local.get $v))
                    (local.set $nnz (i32.add (local.get $nnz) (f32.ne (local.get $v) (f32.const 0))))
                    (local.set $v (f32x4.extract_lane 2 (local.get $q)))
                    (i32.store (i32.add (local.get $col) (i32.shl (local.get $nnz) (i32.const 2))) (i32.add (local.get $k) (i32.const 2)))
                    (f32.store (i32.add (local.get $val) (i32.shl (local.get $nnz) (i32.const 2))) (local.get $v))
                    (local.set $nnz (i32.add (local.get $nnz) (f32.ne (local.get $v) (f32.const 0))))
                    (local.set $v (f32x4.extract_lane 3 (local.get $q)))
                    (i32.store (i32.add (local.get $col) (i32.shl (local.get $nnz) (i32.const 2))) (i32.add (local.get $k) (i32.const 3)))
                    (f32.store (i32.add (local.get $val) (i32.shl (local.get $nnz) (i32.const 2))) (local.get $v))
                    (local.set $nnz (i32.add (local.get $nnz) (f32.ne (local.get $v) (f32.const 0))))
                  )
                  (else
                    ;; near the limit: lane by lane, checked
                    (local.set $t (i32.const 0))
                    (block $lanesDone
                      (loop $lanes
                        (br_if $lanesDone (i32.ge_u (local.get $t) (i32.const 4)))
                        (local.set $v (f32.load (i32.add (local.get $p) (i32.shl (local.get $t) (i32.const 2)))))
                        (if (f32.ne (local.get $v) (f32.const 0))
                          (then
                            (if (i32.ge_u (local.get $nnz) (local.get $maxNnz)) (then (return (i32.const -1))))
                            (i32.store (i32.add (local.get $col) (i32.shl (local.get $nnz) (i32.const 2))) (i32.add (local.get $k) (local.get $t)))
                            (f32.store (i32.add (local.get $val) (i32.shl (local.get $nnz) (i32.const 2))) (local.get $v))
                            (local.set $nnz (i32.add (local.get $nnz) (i32.const 1)))))
                        (local.set $t (i32.add (local.get $t) (i32.const 1)))
                        (br $lanes)))))))
            (local.set $p (i32.add (local.get $p) (i32.const 16)))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $quads)))
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

  (func (export "csrRowSq") (param $n i32) (param $rowPtr i32) (param $val i32) (param $out i32)
    (local $i i32) (local $p i32) (local $end i32) (local $s f32) (local $v f32)
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $p (i32.add (local.get $val) (i32.shl (i32.load (i32.add (local.get $rowPtr) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
        (local.set $end (i32.add (local.get $val) (i32.shl (i32.load offset=4 (i32.add (local.get $rowPtr) (i32.shl (local.get $i) (i32.const 2)))) (i32.const 2))))
        (local.set $s (f32.const 0))
        (block $rowDone
          (loop $e
            (br_if $rowDone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $v (f32.load (local.get $p)))
            (local.set $s (f32.add (local.get $s) (f32.mul (local.get $v) (local.get $v))))
            (local.set $p (i32.add (local.get $p) (i32.const 4)))
            (br $e)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $s))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rows))))

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
        (br $l))))
  ;; ---- dense-stack kernels ----

  (func (export "gemm")
    (param $rows i32) (param $inner i32) (param $u i32) (param $a i32) (param $aRow i32) (param $aCol i32)
    (param $b i32) (param $init i32) (param $hasInit i32) (param $out i32)
    (local $r i32) (local $k i32) (local $o i32) (local $ar i32) (local $p i32) (local $rowBytes i32) (local $vecBytes i32)
    (local $bk i32)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $done
      (loop $rowsLoop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $rowBytes))))
        (call $initRow (local.get $o) (local.get $init) (local.get $hasInit) (local.get $rowBytes))
        (local.set $ar (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $aRow))))
        (local.set $k (i32.const 0))
        (block $k4Done
          (loop $k4
            (br_if $k4Done (i32.gt_u (i32.add (local.get $k) (i32.const 4)) (local.get $inner)))
            (local.set $p (i32.add (local.get $ar) (i32.mul (local.get $k) (local.get $aCol))))
            (local.set $bk (i32.add (local.get $b) (i32.mul (local.get $k) (local.get $rowBytes))))
            (call $axpy4 (local.get $o)
              (local.get $bk)
              (i32.add (local.get $bk) (local.get $rowBytes))
              (i32.add (local.get $bk) (i32.shl (local.get $rowBytes) (i32.const 1)))
              (i32.add (local.get $bk) (i32.mul (local.get $rowBytes) (i32.const 3)))
              (f32.load (local.get $p))
              (f32.load (i32.add (local.get $p) (local.get $aCol)))
              (f32.load (i32.add (local.get $p) (i32.shl (local.get $aCol) (i32.const 1))))
              (f32.load (i32.add (local.get $p) (i32.mul (local.get $aCol) (i32.const 3))))
              (local.get $rowBytes) (local.get $vecBytes))
            (local.set $k (i32.add (local.get $k) (i32.const 4)))
            (br $k4)))
        (block $k1Done
          (loop $k1
            (br_if $k1Done (i32.ge_u (local.get $k) (local.get $inner)))
            (call $axpy1 (local.get $o)
              (i32.add (local.get $b) (i32.mul (local.get $k) (local.get $rowBytes)))
              (f32.load (i32.add (local.get $ar) (i32.mul (local.get $k) (local.get $aCol))))
              (local.get $rowBytes) (local.get $vecBytes))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $k1)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowsLoop))))

  ;; gemmT: as gemm (out[r, :] = init (or 0) + sum_k A(r, k) * b[k, :], A(r, k) at a + r*aRow + k*aCol
  ;; bytes), then relu when asked; register-tiled as $gatherT (whole tiles of 24 floats, then the
  ;; row's edge in one pass), the k terms added in order
  (func (export "gemmT")
    (param $rows i32) (param $inner i32) (param $u i32) (param $a i32) (param $aRow i32) (param $aCol i32)
    (param $b i32) (param $init i32) (param $hasInit i32) (param $relu i32) (param $out i32)
    (local $r i32) (local $o i32) (local $rowBytes i32) (local $fullBytes i32) (local $edge i32) (local $q1 i32) (local $q2 i32)
    (local $j i32) (local $ar i32) (local $pa i32) (local $kk i32) (local $s i32) (local $x f32) (local $sp v128)
    (local $f0 f32) (local $f1 f32) (local $f2 f32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $c4 v128) (local $c5 v128)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    ;; bytes in whole tiles of 6 f32x4; the edge: 2 * (the f32x4 left) + (any single floats left)
    (local.set $fullBytes (i32.mul (i32.div_u (i32.shr_u (local.get $u) (i32.const 2)) (i32.const 6)) (i32.const 96)))
    (local.set $edge (i32.add (i32.shl (i32.rem_u (i32.shr_u (local.get $u) (i32.const 2)) (i32.const 6)) (i32.const 1))
      (i32.ne (i32.and (local.get $u) (i32.const 3)) (i32.const 0))))
    ;; the single floats' byte offsets after the first, clamped to the last: u % 4 = 1: 0 0; 2: 4 4; 3: 4 8
    (local.set $q1 (select (i32.const 4) (i32.const 0) (i32.ge_u (i32.and (local.get $u) (i32.const 3)) (i32.const 2))))
    (local.set $q2 (i32.shl (i32.sub (i32.and (local.get $u) (i32.const 3)) (i32.const 1)) (i32.const 2)))
    (local.set $q2 (select (local.get $q2) (i32.const 0) (i32.gt_s (local.get $q2) (i32.const 0))))
    (block $done
      (loop $rowsLoop
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $o (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $ar (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $aRow))))
        (local.set $j (i32.const 0))
        ;; whole tiles of 24 floats
        (block $bwDone
          (loop $bw
            (br_if $bwDone (i32.ge_u (local.get $j) (local.get $fullBytes)))
            (if (local.get $hasInit)
              (then
                (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
                (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
                (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j))))
                (local.set $c4 (v128.load offset=64 (i32.add (local.get $init) (local.get $j))))
                (local.set $c5 (v128.load offset=80 (i32.add (local.get $init) (local.get $j)))))
              (else
                (local.set $c0 (v128.const i32x4 0 0 0 0))
                (local.set $c1 (v128.const i32x4 0 0 0 0))
                (local.set $c2 (v128.const i32x4 0 0 0 0))
                (local.set $c3 (v128.const i32x4 0 0 0 0))
                (local.set $c4 (v128.const i32x4 0 0 0 0))
                (local.set $c5 (v128.const i32x4 0 0 0 0))))
            (local.set $pa (local.get $ar))
            (local.set $s (i32.add (local.get $b) (local.get $j)))
            (local.set $kk (i32.const 0))
            (block $k6Done
              (loop $k6
                (br_if $k6Done (i32.ge_u (local.get $kk) (local.get $inner)))
                (local.set $sp (v128.load32_splat (local.get $pa)))
                (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
                (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
                (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $sp) (v128.load offset=64 (local.get $s)))))
                (local.set $c5 (f32x4.add (local.get $c5) (f32x4.mul (local.get $sp) (v128.load offset=80 (local.get $s)))))
                (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
                (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                (br $k6)))
            (local.set $s (i32.add (local.get $o) (local.get $j)))
            (if (local.get $relu)
              (then
                (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=64 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c4) (f32x4.lt (local.get $c4) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=80 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c5) (f32x4.lt (local.get $c5) (v128.const i32x4 0 0 0 0)))))
              (else
                (v128.store (local.get $s) (local.get $c0))
                (v128.store offset=16 (local.get $s) (local.get $c1))
                (v128.store offset=32 (local.get $s) (local.get $c2))
                (v128.store offset=48 (local.get $s) (local.get $c3))
                (v128.store offset=64 (local.get $s) (local.get $c4))
                (v128.store offset=80 (local.get $s) (local.get $c5))))
            (local.set $j (i32.add (local.get $j) (i32.const 96)))
            (br $bw)))
        ;; the row's edge in one pass: the 0-5 f32x4 left after the whole tiles and the last u % 4 floats
        (block $edgeDone
        (block $e5t
         (block $e5
          (block $e4t
           (block $e4
            (block $e3t
             (block $e3
              (block $e2t
               (block $e2
                (block $e1t
                 (block $e1
                  (block $e0t
                   (block $e0
                    (br_table $e0 $e0t $e1 $e1t $e2 $e2t $e3 $e3t $e4 $e4t $e5 $e5t (local.get $edge)))
                   (br $edgeDone))
                  (local.set $f0 (select (f32.load offset=0 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
                  (local.set $f1 (select (f32.load offset=0 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
                  (local.set $f2 (select (f32.load offset=0 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
                  (local.set $pa (local.get $ar))
                  (local.set $s (i32.add (local.get $b) (local.get $j)))
                  (local.set $kk (i32.const 0))
                  (block $k0tDone
                    (loop $k0t
                      (br_if $k0tDone (i32.ge_u (local.get $kk) (local.get $inner)))
                      (local.set $x (f32.load (local.get $pa)))
                      (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=0 (local.get $s)))))
                      (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=0 (i32.add (local.get $s) (local.get $q1))))))
                      (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=0 (i32.add (local.get $s) (local.get $q2))))))
                      (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
                      (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                      (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                      (br $k0t)))
                  (local.set $s (i32.add (local.get $o) (local.get $j)))
                  (f32.store offset=0 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
                  (f32.store offset=0 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
                  (f32.store offset=0 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
                  (local.set $j (i32.add (local.get $j) (i32.const 0)))
                  (br $edgeDone))
                 (if (local.get $hasInit)
                   (then
                     (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j)))))
                   (else
                     (local.set $c0 (v128.const i32x4 0 0 0 0))))
                 (local.set $pa (local.get $ar))
                 (local.set $s (i32.add (local.get $b) (local.get $j)))
                 (local.set $kk (i32.const 0))
                 (block $k1Done
                   (loop $k1
                     (br_if $k1Done (i32.ge_u (local.get $kk) (local.get $inner)))
                     (local.set $sp (v128.load32_splat (local.get $pa)))
                     (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                     (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
                     (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                     (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                     (br $k1)))
                 (local.set $s (i32.add (local.get $o) (local.get $j)))
                 (if (local.get $relu)
                   (then
                     (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0)))))
                   (else
                     (v128.store (local.get $s) (local.get $c0))))
                 (local.set $j (i32.add (local.get $j) (i32.const 16)))
                 (br $edgeDone))
                (if (local.get $hasInit)
                  (then
                    (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j)))))
                  (else
                    (local.set $c0 (v128.const i32x4 0 0 0 0))))
                (local.set $f0 (select (f32.load offset=16 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
                (local.set $f1 (select (f32.load offset=16 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
                (local.set $f2 (select (f32.load offset=16 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
                (local.set $pa (local.get $ar))
                (local.set $s (i32.add (local.get $b) (local.get $j)))
                (local.set $kk (i32.const 0))
                (block $k1tDone
                  (loop $k1t
                    (br_if $k1tDone (i32.ge_u (local.get $kk) (local.get $inner)))
                    (local.set $sp (v128.load32_splat (local.get $pa)))
                    (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
                    (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                    (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=16 (local.get $s)))))
                    (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=16 (i32.add (local.get $s) (local.get $q1))))))
                    (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=16 (i32.add (local.get $s) (local.get $q2))))))
                    (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
                    (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                    (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                    (br $k1t)))
                (local.set $s (i32.add (local.get $o) (local.get $j)))
                (if (local.get $relu)
                  (then
                    (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0)))))
                  (else
                    (v128.store (local.get $s) (local.get $c0))))
                (f32.store offset=16 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
                (f32.store offset=16 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
                (f32.store offset=16 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $edgeDone))
               (if (local.get $hasInit)
                 (then
                   (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                   (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j)))))
                 (else
                   (local.set $c0 (v128.const i32x4 0 0 0 0))
                   (local.set $c1 (v128.const i32x4 0 0 0 0))))
               (local.set $pa (local.get $ar))
               (local.set $s (i32.add (local.get $b) (local.get $j)))
               (local.set $kk (i32.const 0))
               (block $k2Done
                 (loop $k2
                   (br_if $k2Done (i32.ge_u (local.get $kk) (local.get $inner)))
                   (local.set $sp (v128.load32_splat (local.get $pa)))
                   (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                   (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                   (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
                   (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                   (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                   (br $k2)))
               (local.set $s (i32.add (local.get $o) (local.get $j)))
               (if (local.get $relu)
                 (then
                   (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                   (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0)))))
                 (else
                   (v128.store (local.get $s) (local.get $c0))
                   (v128.store offset=16 (local.get $s) (local.get $c1))))
               (local.set $j (i32.add (local.get $j) (i32.const 32)))
               (br $edgeDone))
              (if (local.get $hasInit)
                (then
                  (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                  (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j)))))
                (else
                  (local.set $c0 (v128.const i32x4 0 0 0 0))
                  (local.set $c1 (v128.const i32x4 0 0 0 0))))
              (local.set $f0 (select (f32.load offset=32 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
              (local.set $f1 (select (f32.load offset=32 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
              (local.set $f2 (select (f32.load offset=32 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
              (local.set $pa (local.get $ar))
              (local.set $s (i32.add (local.get $b) (local.get $j)))
              (local.set $kk (i32.const 0))
              (block $k2tDone
                (loop $k2t
                  (br_if $k2tDone (i32.ge_u (local.get $kk) (local.get $inner)))
                  (local.set $sp (v128.load32_splat (local.get $pa)))
                  (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
                  (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                  (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                  (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=32 (local.get $s)))))
                  (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=32 (i32.add (local.get $s) (local.get $q1))))))
                  (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=32 (i32.add (local.get $s) (local.get $q2))))))
                  (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
                  (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                  (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                  (br $k2t)))
              (local.set $s (i32.add (local.get $o) (local.get $j)))
              (if (local.get $relu)
                (then
                  (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                  (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0)))))
                (else
                  (v128.store (local.get $s) (local.get $c0))
                  (v128.store offset=16 (local.get $s) (local.get $c1))))
              (f32.store offset=32 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
              (f32.store offset=32 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
              (f32.store offset=32 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
              (local.set $j (i32.add (local.get $j) (i32.const 32)))
              (br $edgeDone))
             (if (local.get $hasInit)
               (then
                 (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                 (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
                 (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j)))))
               (else
                 (local.set $c0 (v128.const i32x4 0 0 0 0))
                 (local.set $c1 (v128.const i32x4 0 0 0 0))
                 (local.set $c2 (v128.const i32x4 0 0 0 0))))
             (local.set $pa (local.get $ar))
             (local.set $s (i32.add (local.get $b) (local.get $j)))
             (local.set $kk (i32.const 0))
             (block $k3Done
               (loop $k3
                 (br_if $k3Done (i32.ge_u (local.get $kk) (local.get $inner)))
                 (local.set $sp (v128.load32_splat (local.get $pa)))
                 (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                 (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                 (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
                 (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
                 (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                 (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                 (br $k3)))
             (local.set $s (i32.add (local.get $o) (local.get $j)))
             (if (local.get $relu)
               (then
                 (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                 (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
                 (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0)))))
               (else
                 (v128.store (local.get $s) (local.get $c0))
                 (v128.store offset=16 (local.get $s) (local.get $c1))
                 (v128.store offset=32 (local.get $s) (local.get $c2))))
             (local.set $j (i32.add (local.get $j) (i32.const 48)))
             (br $edgeDone))
            (if (local.get $hasInit)
              (then
                (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
                (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
                (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j)))))
              (else
                (local.set $c0 (v128.const i32x4 0 0 0 0))
                (local.set $c1 (v128.const i32x4 0 0 0 0))
                (local.set $c2 (v128.const i32x4 0 0 0 0))))
            (local.set $f0 (select (f32.load offset=48 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
            (local.set $f1 (select (f32.load offset=48 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
            (local.set $f2 (select (f32.load offset=48 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
            (local.set $pa (local.get $ar))
            (local.set $s (i32.add (local.get $b) (local.get $j)))
            (local.set $kk (i32.const 0))
            (block $k3tDone
              (loop $k3t
                (br_if $k3tDone (i32.ge_u (local.get $kk) (local.get $inner)))
                (local.set $sp (v128.load32_splat (local.get $pa)))
                (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
                (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
                (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
                (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
                (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=48 (local.get $s)))))
                (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=48 (i32.add (local.get $s) (local.get $q1))))))
                (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=48 (i32.add (local.get $s) (local.get $q2))))))
                (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
                (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
                (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                (br $k3t)))
            (local.set $s (i32.add (local.get $o) (local.get $j)))
            (if (local.get $relu)
              (then
                (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
                (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0)))))
              (else
                (v128.store (local.get $s) (local.get $c0))
                (v128.store offset=16 (local.get $s) (local.get $c1))
                (v128.store offset=32 (local.get $s) (local.get $c2))))
            (f32.store offset=48 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
            (f32.store offset=48 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
            (f32.store offset=48 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
            (local.set $j (i32.add (local.get $j) (i32.const 48)))
            (br $edgeDone))
           (if (local.get $hasInit)
             (then
               (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
               (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
               (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
               (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j)))))
             (else
               (local.set $c0 (v128.const i32x4 0 0 0 0))
               (local.set $c1 (v128.const i32x4 0 0 0 0))
               (local.set $c2 (v128.const i32x4 0 0 0 0))
               (local.set $c3 (v128.const i32x4 0 0 0 0))))
           (local.set $pa (local.get $ar))
           (local.set $s (i32.add (local.get $b) (local.get $j)))
           (local.set $kk (i32.const 0))
           (block $k4Done
             (loop $k4
               (br_if $k4Done (i32.ge_u (local.get $kk) (local.get $inner)))
               (local.set $sp (v128.load32_splat (local.get $pa)))
               (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
               (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
               (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
               (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
               (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
               (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
               (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
               (br $k4)))
           (local.set $s (i32.add (local.get $o) (local.get $j)))
           (if (local.get $relu)
             (then
               (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
               (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
               (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
               (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0)))))
             (else
               (v128.store (local.get $s) (local.get $c0))
               (v128.store offset=16 (local.get $s) (local.get $c1))
               (v128.store offset=32 (local.get $s) (local.get $c2))
               (v128.store offset=48 (local.get $s) (local.get $c3))))
           (local.set $j (i32.add (local.get $j) (i32.const 64)))
           (br $edgeDone))
          (if (local.get $hasInit)
            (then
              (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
              (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
              (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
              (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j)))))
            (else
              (local.set $c0 (v128.const i32x4 0 0 0 0))
              (local.set $c1 (v128.const i32x4 0 0 0 0))
              (local.set $c2 (v128.const i32x4 0 0 0 0))
              (local.set $c3 (v128.const i32x4 0 0 0 0))))
          (local.set $f0 (select (f32.load offset=64 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
          (local.set $f1 (select (f32.load offset=64 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
          (local.set $f2 (select (f32.load offset=64 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
          (local.set $pa (local.get $ar))
          (local.set $s (i32.add (local.get $b) (local.get $j)))
          (local.set $kk (i32.const 0))
          (block $k4tDone
            (loop $k4t
              (br_if $k4tDone (i32.ge_u (local.get $kk) (local.get $inner)))
              (local.set $sp (v128.load32_splat (local.get $pa)))
              (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
              (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
              (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
              (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
              (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
              (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=64 (local.get $s)))))
              (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=64 (i32.add (local.get $s) (local.get $q1))))))
              (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=64 (i32.add (local.get $s) (local.get $q2))))))
              (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
              (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
              (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
              (br $k4t)))
          (local.set $s (i32.add (local.get $o) (local.get $j)))
          (if (local.get $relu)
            (then
              (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
              (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
              (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
              (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0)))))
            (else
              (v128.store (local.get $s) (local.get $c0))
              (v128.store offset=16 (local.get $s) (local.get $c1))
              (v128.store offset=32 (local.get $s) (local.get $c2))
              (v128.store offset=48 (local.get $s) (local.get $c3))))
          (f32.store offset=64 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
          (f32.store offset=64 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
          (f32.store offset=64 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
          (local.set $j (i32.add (local.get $j) (i32.const 64)))
          (br $edgeDone))
         (if (local.get $hasInit)
           (then
             (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
             (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
             (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
             (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j))))
             (local.set $c4 (v128.load offset=64 (i32.add (local.get $init) (local.get $j)))))
           (else
             (local.set $c0 (v128.const i32x4 0 0 0 0))
             (local.set $c1 (v128.const i32x4 0 0 0 0))
             (local.set $c2 (v128.const i32x4 0 0 0 0))
             (local.set $c3 (v128.const i32x4 0 0 0 0))
             (local.set $c4 (v128.const i32x4 0 0 0 0))))
         (local.set $pa (local.get $ar))
         (local.set $s (i32.add (local.get $b) (local.get $j)))
         (local.set $kk (i32.const 0))
         (block $k5Done
           (loop $k5
             (br_if $k5Done (i32.ge_u (local.get $kk) (local.get $inner)))
             (local.set $sp (v128.load32_splat (local.get $pa)))
             (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
             (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
             (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
             (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
             (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $sp) (v128.load offset=64 (local.get $s)))))
             (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
             (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
             (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
             (br $k5)))
         (local.set $s (i32.add (local.get $o) (local.get $j)))
         (if (local.get $relu)
           (then
             (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
             (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
             (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
             (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0))))
             (v128.store offset=64 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c4) (f32x4.lt (local.get $c4) (v128.const i32x4 0 0 0 0)))))
           (else
             (v128.store (local.get $s) (local.get $c0))
             (v128.store offset=16 (local.get $s) (local.get $c1))
             (v128.store offset=32 (local.get $s) (local.get $c2))
             (v128.store offset=48 (local.get $s) (local.get $c3))
             (v128.store offset=64 (local.get $s) (local.get $c4))))
         (local.set $j (i32.add (local.get $j) (i32.const 80)))
         (br $edgeDone))
        (if (local.get $hasInit)
          (then
            (local.set $c0 (v128.load (i32.add (local.get $init) (local.get $j))))
            (local.set $c1 (v128.load offset=16 (i32.add (local.get $init) (local.get $j))))
            (local.set $c2 (v128.load offset=32 (i32.add (local.get $init) (local.get $j))))
            (local.set $c3 (v128.load offset=48 (i32.add (local.get $init) (local.get $j))))
            (local.set $c4 (v128.load offset=64 (i32.add (local.get $init) (local.get $j)))))
          (else
            (local.set $c0 (v128.const i32x4 0 0 0 0))
            (local.set $c1 (v128.const i32x4 0 0 0 0))
            (local.set $c2 (v128.const i32x4 0 0 0 0))
            (local.set $c3 (v128.const i32x4 0 0 0 0))
            (local.set $c4 (v128.const i32x4 0 0 0 0))))
        (local.set $f0 (select (f32.load offset=80 (i32.add (local.get $init) (local.get $j))) (f32.const 0) (local.get $hasInit)))
        (local.set $f1 (select (f32.load offset=80 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q1))) (f32.const 0) (local.get $hasInit)))
        (local.set $f2 (select (f32.load offset=80 (i32.add (i32.add (local.get $init) (local.get $j)) (local.get $q2))) (f32.const 0) (local.get $hasInit)))
        (local.set $pa (local.get $ar))
        (local.set $s (i32.add (local.get $b) (local.get $j)))
        (local.set $kk (i32.const 0))
        (block $k5tDone
          (loop $k5t
            (br_if $k5tDone (i32.ge_u (local.get $kk) (local.get $inner)))
            (local.set $sp (v128.load32_splat (local.get $pa)))
            (local.set $x (f32x4.extract_lane 0 (local.get $sp)))
            (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (local.get $sp) (v128.load (local.get $s)))))
            (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (local.get $sp) (v128.load offset=16 (local.get $s)))))
            (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (local.get $sp) (v128.load offset=32 (local.get $s)))))
            (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (local.get $sp) (v128.load offset=48 (local.get $s)))))
            (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (local.get $sp) (v128.load offset=64 (local.get $s)))))
            (local.set $f0 (f32.add (local.get $f0) (f32.mul (local.get $x) (f32.load offset=80 (local.get $s)))))
            (local.set $f1 (f32.add (local.get $f1) (f32.mul (local.get $x) (f32.load offset=80 (i32.add (local.get $s) (local.get $q1))))))
            (local.set $f2 (f32.add (local.get $f2) (f32.mul (local.get $x) (f32.load offset=80 (i32.add (local.get $s) (local.get $q2))))))
            (local.set $pa (i32.add (local.get $pa) (local.get $aCol)))
            (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
            (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
            (br $k5t)))
        (local.set $s (i32.add (local.get $o) (local.get $j)))
        (if (local.get $relu)
          (then
            (v128.store (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c0) (f32x4.lt (local.get $c0) (v128.const i32x4 0 0 0 0))))
            (v128.store offset=16 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c1) (f32x4.lt (local.get $c1) (v128.const i32x4 0 0 0 0))))
            (v128.store offset=32 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c2) (f32x4.lt (local.get $c2) (v128.const i32x4 0 0 0 0))))
            (v128.store offset=48 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c3) (f32x4.lt (local.get $c3) (v128.const i32x4 0 0 0 0))))
            (v128.store offset=64 (local.get $s) (v128.bitselect (v128.const i32x4 0 0 0 0) (local.get $c4) (f32x4.lt (local.get $c4) (v128.const i32x4 0 0 0 0)))))
          (else
            (v128.store (local.get $s) (local.get $c0))
            (v128.store offset=16 (local.get $s) (local.get $c1))
            (v128.store offset=32 (local.get $s) (local.get $c2))
            (v128.store offset=48 (local.get $s) (local.get $c3))
            (v128.store offset=64 (local.get $s) (local.get $c4))))
        (f32.store offset=80 (i32.add (local.get $s) (local.get $q2)) (select (f32.const 0) (local.get $f2) (i32.and (local.get $relu) (f32.lt (local.get $f2) (f32.const 0)))))
        (f32.store offset=80 (i32.add (local.get $s) (local.get $q1)) (select (f32.const 0) (local.get $f1) (i32.and (local.get $relu) (f32.lt (local.get $f1) (f32.const 0)))))
        (f32.store offset=80 (local.get $s) (select (f32.const 0) (local.get $f0) (i32.and (local.get $relu) (f32.lt (local.get $f0) (f32.const 0)))))
        (local.set $j (i32.add (local.get $j) (i32.const 80)))
        (br $edgeDone))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rowsLoop))))

  (func (export "rowSq") (param $n i32) (param $u i32) (param $src i32) (param $out i32)
    (local $i i32) (local $j i32) (local $row i32) (local $rowBytes i32) (local $vecBytes i32) (local $acc v128) (local $s f32)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $done
      (loop $rowsLoop
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $row (i32.add (local.get $src) (i32.mul (local.get $i) (local.get $rowBytes))))
        (local.set $acc (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.const 0))
        (block $vDone
          (loop $v
            (br_if $vDone (i32.ge_u (local.get $j) (local.get $vecBytes)))
            (local.set $acc (f32x4.add (local.get $acc)
              (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $j))) (v128.load (i32.add (local.get $row) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $v)))
        (local.set $s (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (block $tDone
          (loop $t
            (br_if $tDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (local.set $s (f32.add (local.get $s)
              (f32.mul (f32.load (i32.add (local.get $row) (local.get $j))) (f32.load (i32.add (local.get $row) (local.get $j))))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $t)))
        (f32.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 2))) (local.get $s))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsLoop))))

  (func (export "scaleRows") (param $n i32) (param $u i32) (param $g i32) (param $c i32)
    (local $i i32) (local $j i32) (local $row i32) (local $rowBytes i32) (local $vecBytes i32) (local $f f32) (local $v v128)
    (local.set $rowBytes (i32.shl (local.get $u) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $rowBytes) (i32.const -16)))
    (block $done
      (loop $rowsLoop
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $row (i32.add (local.get $g) (i32.mul (local.get $i) (local.get $rowBytes))))
        (local.set $f (f32.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $v (f32x4.splat (local.get $f)))
        (local.set $j (i32.const 0))
        (block $vDone
          (loop $vl
            (br_if $vDone (i32.ge_u (local.get $j) (local.get $vecBytes)))
            (v128.store (i32.add (local.get $row) (local.get $j))
              (f32x4.mul (v128.load (i32.add (local.get $row) (local.get $j))) (local.get $v)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $vl)))
        (block $tDone
          (loop $t
            (br_if $tDone (i32.ge_u (local.get $j) (local.get $rowBytes)))
            (f32.store (i32.add (local.get $row) (local.get $j))
              (f32.mul (f32.load (i32.add (local.get $row) (local.get $j))) (local.get $f)))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $t)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rowsLoop))))

  ;; f'(a) for four lanes of a (kind 1 relu, 2 tanh, 3 sigmoid; anything else: 1)
  (func $derivative4 (param $kind i32) (param $a v128) (result v128)
    (if (result v128) (i32.eq (local.get $kind) (i32.const 1))
      (then (v128.and (f32x4.gt (local.get $a) (v128.const f32x4 0 0 0 0)) (v128.const f32x4 1 1 1 1)))
      (else
        (if (result v128) (i32.eq (local.get $kind) (i32.const 2))
          (then (f32x4.sub (v128.const f32x4 1 1 1 1) (f32x4.mul (local.get $a) (local.get $a))))
          (else
            (if (result v128) (i32.eq (local.get $kind) (i32.const 3))
              (then (f32x4.mul (local.get $a) (f32x4.sub (v128.const f32x4 1 1 1 1) (local.get $a))))
              (else (v128.const f32x4 1 1 1 1))))))))

  (func (export "actGrad") (param $kind i32) (param $count i32) (param $a i32) (param $g i32)
    (local $j i32) (local $bytes i32) (local $vecBytes i32)
    (local.set $bytes (i32.shl (local.get $count) (i32.const 2)))
    (local.set $vecBytes (i32.and (local.get $bytes) (i32.const -16)))
    (block $vDone
      (loop $v
        (br_if $vDone (i32.ge_u (local.get $j) (local.get $vecBytes)))
        (v128.store (i32.add (local.get $g) (local.get $j))
          (f32x4.mul (v128.load (i32.add (local.get $g) (local.get $j)))
            (call $derivative4 (local.get $kind) (v128.load (i32.add (local.get $a) (local.get $j))))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $v)))
    (block $tDone
      (loop $t
        (br_if $tDone (i32.ge_u (local.get $j) (local.get $bytes)))
        (f32.store (i32.add (local.get $g) (local.get $j))
          (f32.mul (f32.load (i32.add (local.get $g) (local.get $j)))
            (f32x4.extract_lane 0 (call $derivative4 (local.get $kind) (f32x4.splat (f32.load (i32.add (local.get $a) (local.get $j))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $t))))

  ;; dst[0..count) = tanh(src), four floats at a time as two f64 pairs (the tail padded by the caller to 4)
  (func $tanh4 (param $count i32) (param $src i32) (param $dst i32)
    (local $j i32) (local $bytes i32) (local $v v128) (local $lo v128) (local $hi v128) (local $axa v128) (local $x2a v128) (local $x4a v128) (local $pa v128) (local $kda v128) (local $ra v128) (local $r2a v128) (local $r4a v128) (local $ea v128) (local $axb v128) (local $x2b v128) (local $x4b v128) (local $pb v128) (local $kdb v128) (local $rb v128) (local $r2b v128) (local $r4b v128) (local $eb v128)
    (local.set $bytes (i32.shl (local.get $count) (i32.const 2)))
    (block $qDone
      (loop $ql
        (br_if $qDone (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $v (v128.load (i32.add (local.get $src) (local.get $j))))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
        (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
        (local.set $axa (f64x2.abs (local.get $lo)))
        (local.set $x2a (f64x2.mul (local.get $lo) (local.get $lo)))
        (local.set $x4a (f64x2.mul (local.get $x2a) (local.get $x2a)))
        (local.set $pa
          (f64x2.mul (local.get $axa)
            (f64x2.add
              (f64x2.add (v128.const f64x2 1 1) (f64x2.mul (local.get $x2a) (v128.const f64x2 -0.33333333333333331 -0.33333333333333331)))
              (f64x2.mul (local.get $x4a)
                (f64x2.add
                  (f64x2.add (v128.const f64x2 0.13333333333333333 0.13333333333333333)
                    (f64x2.mul (local.get $x2a) (v128.const f64x2 -0.053968253968253971 -0.053968253968253971)))
                  (f64x2.mul (local.get $x4a)
                    (f64x2.add (v128.const f64x2 0.021869488536155203 0.021869488536155203)
                      (f64x2.mul (local.get $x2a) (v128.const f64x2 -0.0088632355299021973 -0.0088632355299021973)))))))))
        (local.set $kda (f64x2.add (f64x2.mul (f64x2.mul (f64x2.min (local.get $axa) (v128.const f64x2 20 20)) (v128.const f64x2 2 2)) (v128.const f64x2 1.4426950408889634 1.4426950408889634))
          (v128.const f64x2 6755399441055744 6755399441055744)))
        (local.set $ra (f64x2.sub (f64x2.mul (f64x2.min (local.get $axa) (v128.const f64x2 20 20)) (v128.const f64x2 2 2))
          (f64x2.mul (f64x2.sub (local.get $kda) (v128.const f64x2 6755399441055744 6755399441055744))
            (v128.const f64x2 0.69314718055994529 0.69314718055994529))))
        (local.set $r2a (f64x2.mul (local.get $ra) (local.get $ra)))
        (local.set $r4a (f64x2.mul (local.get $r2a) (local.get $r2a)))
        (local.set $ea (f64x2.mul
          (f64x2.add
            (f64x2.add
              (f64x2.add (v128.const f64x2 1 1) (local.get $ra))
              (f64x2.mul (local.get $r2a)
                (f64x2.add (v128.const f64x2 0.5 0.5) (f64x2.mul (local.get $ra) (v128.const f64x2 0.16666666666666666 0.16666666666666666)))))
            (f64x2.mul (local.get $r4a)
              (f64x2.add
                (f64x2.add (v128.const f64x2 4.1666666666666664e-2 4.1666666666666664e-2)
                  (f64x2.mul (local.get $ra) (v128.const f64x2 8.3333333333333332e-3 8.3333333333333332e-3)))
                (f64x2.add
                  (f64x2.mul (local.get $r2a)
                    (f64x2.add (v128.const f64x2 1.3888888888888889e-3 1.3888888888888889e-3)
                      (f64x2.mul (local.get $ra) (v128.const f64x2 1.9841269841269841e-4 1.9841269841269841e-4))))
                  (f64x2.mul (local.get $r4a) (v128.const f64x2 2.4801587301587302e-5 2.4801587301587302e-5))))))
          (i64x2.add (i64x2.shl (local.get $kda) (i32.const 52)) (v128.const i64x2 0x3ff0000000000000 0x3ff0000000000000))))
        (local.set $lo (v128.bitselect (local.get $lo)
          (v128.bitselect (local.get $pa)
            (f64x2.sub (v128.const f64x2 1 1) (f64x2.div (v128.const f64x2 2 2) (f64x2.add (v128.const f64x2 1 1) (local.get $ea))))
            (f64x2.lt (local.get $axa) (v128.const f64x2 0.25 0.25)))
          (v128.const i64x2 0x8000000000000000 0x8000000000000000)))
        (local.set $axb (f64x2.abs (local.get $hi)))
        (local.set $x2b (f64x2.mul (local.get $hi) (local.get $hi)))
        (local.set $x4b (f64x2.mul (local.get $x2b) (local.get $x2b)))
        (local.set $pb
          (f64x2.mul (local.get $axb)
            (f64x2.add
              (f64x2.add (v128.const f64x2 1 1) (f64x2.mul (local.get $x2b) (v128.const f64x2 -0.33333333333333331 -0.33333333333333331)))
              (f64x2.mul (local.get $x4b)
                (f64x2.add
                  (f64x2.add (v128.const f64x2 0.13333333333333333 0.13333333333333333)
                    (f64x2.mul (local.get $x2b) (v128.const f64x2 -0.053968253968253971 -0.053968253968253971)))
                  (f64x2.mul (local.get $x4b)
                    (f64x2.add (v128.const f64x2 0.021869488536155203 0.021869488536155203)
                      (f64x2.mul (local.get $x2b) (v128.const f64x2 -0.0088632355299021973 -0.0088632355299021973)))))))))
        (local.set $kdb (f64x2.add (f64x2.mul (f64x2.mul (f64x2.min (local.get $axb) (v128.const f64x2 20 20)) (v128.const f64x2 2 2)) (v128.const f64x2 1.4426950408889634 1.4426950408889634))
          (v128.const f64x2 6755399441055744 6755399441055744)))
        (local.set $rb (f64x2.sub (f64x2.mul (f64x2.min (local.get $axb) (v128.const f64x2 20 20)) (v128.const f64x2 2 2))
          (f64x2.mul (f64x2.sub (local.get $kdb) (v128.const f64x2 6755399441055744 6755399441055744))
            (v128.const f64x2 0.69314718055994529 0.69314718055994529))))
        (local.set $r2b (f64x2.mul (local.get $rb) (local.get $rb)))
        (local.set $r4b (f64x2.mul (local.get $r2b) (local.get $r2b)))
        (local.set $eb (f64x2.mul
          (f64x2.add
            (f64x2.add
              (f64x2.add (v128.const f64x2 1 1) (local.get $rb))
              (f64x2.mul (local.get $r2b)
                (f64x2.add (v128.const f64x2 0.5 0.5) (f64x2.mul (local.get $rb) (v128.const f64x2 0.16666666666666666 0.16666666666666666)))))
            (f64x2.mul (local.get $r4b)
              (f64x2.add
                (f64x2.add (v128.const f64x2 4.1666666666666664e-2 4.1666666666666664e-2)
                  (f64x2.mul (local.get $rb) (v128.const f64x2 8.3333333333333332e-3 8.3333333333333332e-3)))
                (f64x2.add
                  (f64x2.mul (local.get $r2b)
                    (f64x2.add (v128.const f64x2 1.3888888888888889e-3 1.3888888888888889e-3)
                      (f64x2.mul (local.get $rb) (v128.const f64x2 1.9841269841269841e-4 1.9841269841269841e-4))))
                  (f64x2.mul (local.get $r4b) (v128.const f64x2 2.4801587301587302e-5 2.4801587301587302e-5))))))
          (i64x2.add (i64x2.shl (local.get $kdb) (i32.const 52)) (v128.const i64x2 0x3ff0000000000000 0x3ff0000000000000))))
        (local.set $hi (v128.bitselect (local.get $hi)
          (v128.bitselect (local.get $pb)
            (f64x2.sub (v128.const f64x2 1 1) (f64x2.div (v128.const f64x2 2 2) (f64x2.add (v128.const f64x2 1 1) (local.get $eb))))
            (f64x2.lt (local.get $axb) (v128.const f64x2 0.25 0.25)))
          (v128.const i64x2 0x8000000000000000 0x8000000000000000)))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $ql))))

  ;; dst[0..count) = sigmoid(src), four floats at a time as two f64 pairs (the tail padded by the caller to 4)
  (func $sigmoid4 (param $count i32) (param $src i32) (param $dst i32)
    (local $j i32) (local $bytes i32) (local $v v128) (local $lo v128) (local $hi v128) (local $axa v128) (local $x2a v128) (local $x4a v128) (local $pa v128) (local $kda v128) (local $ra v128) (local $r2a v128) (local $r4a v128) (local $ea v128) (local $axb v128) (local $x2b v128) (local $x4b v128) (local $pb v128) (local $kdb v128) (local $rb v128) (local $r2b v128) (local $r4b v128) (local $eb v128)
    (local.set $bytes (i32.shl (local.get $count) (i32.const 2)))
    (block $qDone
      (loop $ql
        (br_if $qDone (i32.ge_u (local.get $j) (local.get $bytes)))
        (local.set $v (v128.load (i32.add (local.get $src) (local.get $j))))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
        (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
        (local.set $kda (f64x2.add (f64x2.mul (f64x2.max (f64x2.min (f64x2.neg (local.get $lo)) (v128.const f64x2 708 708)) (v128.const f64x2 -708 -708)) (v128.const f64x2 1.4426950408889634 1.4426950408889634))
          (v128.const f64x2 6755399441055744 6755399441055744)))
        (local.set $ra (f64x2.sub (f64x2.max (f64x2.min (f64x2.neg (local.get $lo)) (v128.const f64x2 708 708)) (v128.const f64x2 -708 -708))
          (f64x2.mul (f64x2.sub (local.get $kda) (v128.const f64x2 6755399441055744 6755399441055744))
            (v128.const f64x2 0.69314718055994529 0.69314718055994529))))
        (local.set $r2a (f64x2.mul (local.get $ra) (local.get $ra)))
        (local.set $r4a (f64x2.mul (local.get $r2a) (local.get $r2a)))
        (local.set $ea (f64x2.mul
          (f64x2.add
            (f64x2.add
              (f64x2.add (v128.const f64x2 1 1) (local.get $ra))
              (f64x2.mul (local.get $r2a)
                (f64x2.add (v128.const f64x2 0.5 0.5) (f64x2.mul (local.get $ra) (v128.const f64x2 0.16666666666666666 0.16666666666666666)))))
            (f64x2.mul (local.get $r4a)
              (f64x2.add
                (f64x2.add (v128.const f64x2 4.1666666666666664e-2 4.1666666666666664e-2)
                  (f64x2.mul (local.get $ra) (v128.const f64x2 8.3333333333333332e-3 8.3333333333333332e-3)))
                (f64x2.add
                  (f64x2.mul (local.get $r2a)
                    (f64x2.add (v128.const f64x2 1.3888888888888889e-3 1.3888888888888889e-3)
                      (f64x2.mul (local.get $ra) (v128.const f64x2 1.9841269841269841e-4 1.9841269841269841e-4))))
                  (f64x2.mul (local.get $r4a) (v128.const f64x2 2.4801587301587302e-5 2.4801587301587302e-5))))))
          (i64x2.add (i64x2.shl (local.get $kda) (i32.const 52)) (v128.const i64x2 0x3ff0000000000000 0x3ff0000000000000))))
        (local.set $lo (f64x2.div (v128.const f64x2 1 1) (f64x2.add (v128.const f64x2 1 1) (local.get $ea))))
        (local.set $kdb (f64x2.add (f64x2.mul (f64x2.max (f64x2.min (f64x2.neg (local.get $hi)) (v128.const f64x2 708 708)) (v128.const f64x2 -708 -708)) (v128.const f64x2 1.4426950408889634 1.4426950408889634))
          (v128.const f64x2 6755399441055744 6755399441055744)))
        (local.set $rb (f64x2.sub (f64x2.max (f64x2.min (f64x2.neg (local.get $hi)) (v128.const f64x2 708 708)) (v128.const f64x2 -708 -708))
          (f64x2.mul (f64x2.sub (local.get $kdb) (v128.const f64x2 6755399441055744 6755399441055744))
            (v128.const f64x2 0.69314718055994529 0.69314718055994529))))
        (local.set $r2b (f64x2.mul (local.get $rb) (local.get $rb)))
        (local.set $r4b (f64x2.mul (local.get $r2b) (local.get $r2b)))
        (local.set $eb (f64x2.mul
          (f64x2.add
            (f64x2.add
              (f64x2.add (v128.const f64x2 1 1) (local.get $rb))
              (f64x2.mul (local.get $r2b)
                (f64x2.add (v128.const f64x2 0.5 0.5) (f64x2.mul (local.get $rb) (v128.const f64x2 0.16666666666666666 0.16666666666666666)))))
            (f64x2.mul (local.get $r4b)
              (f64x2.add
                (f64x2.add (v128.const f64x2 4.1666666666666664e-2 4.1666666666666664e-2)
                  (f64x2.mul (local.get $rb) (v128.const f64x2 8.3333333333333332e-3 8.3333333333333332e-3)))
                (f64x2.add
                  (f64x2.mul (local.get $r2b)
                    (f64x2.add (v128.const f64x2 1.3888888888888889e-3 1.3888888888888889e-3)
                      (f64x2.mul (local.get $rb) (v128.const f64x2 1.9841269841269841e-4 1.9841269841269841e-4))))
                  (f64x2.mul (local.get $r4b) (v128.const f64x2 2.4801587301587302e-5 2.4801587301587302e-5))))))
          (i64x2.add (i64x2.shl (local.get $kdb) (i32.const 52)) (v128.const i64x2 0x3ff0000000000000 0x3ff0000000000000))))
        (local.set $hi (f64x2.div (v128.const f64x2 1 1) (f64x2.add (v128.const f64x2 1 1) (local.get $eb))))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
            (f32x4.demote_f64x2_zero (local.get $lo)) (f32x4.demote_f64x2_zero (local.get $hi))))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $ql))))

  ;; dst[0..count) = f(src) (kind 2 tanh, 3 sigmoid); src and dst hold room for count rounded up to 4
  (func (export "activate") (param $kind i32) (param $count i32) (param $src i32) (param $dst i32)
    (if (i32.eq (local.get $kind) (i32.const 2))
      (then (call $tanh4 (local.get $count) (local.get $src) (local.get $dst)))
      (else (call $sigmoid4 (local.get $count) (local.get $src) (local.get $dst)))))
)
