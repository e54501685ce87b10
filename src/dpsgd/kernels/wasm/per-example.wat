;; Per-example gradient kernels for the DP-SGD engine's Conv1D and recurrent rules (source of
;; per-example-wasm.ts; rebuild with `npm run gen:kernel-wasm`). The module owns its memory;
;; the caller (../per-example-wasm-kernels.ts) lays out the arrays, copies inputs in and results
;; out. All pointers are byte offsets, every array is 4-byte aligned (f64 arrays 8-byte aligned);
;; f32 arrays are row-major.
;;
;; conv1d : per-example Conv1D kernel (and bias) gradients and their squared norms.
;;          x [n, len, cin] (already padded), g [n, p, o] (o a multiple of 4);
;;          out[i, r, :] = sum_q x[i, q*stride + (r / cin)*dil, r % cin] * g[i, q, :]   (r < k*cin)
;;          out[i, k*cin, :] = sum_q g[i, q, :]                                          (bias)
;;          sq[i] = sum of out[i]^2 (f64, float64 accumulation of the float32 entries, four interleaved
;;          partial sums: see $sumSq).
;;          Two rows r at a time, 16 output floats (four f32x4) at a time: eight accumulators.
;;          The sums over q run over example i's live positions only (live [p] i32 scratch): the q
;;          whose g[i, q, :] has a nonzero entry (f32.ne 0: NaN counts as nonzero), or every q when
;;          x[i] holds a non-finite value. A skipped term is x * (+-0) with x finite, +-0, and a
;;          float32 sum that starts at +0 is unchanged by adding +-0: the same bits as the full sum.
;;          (After GlobalMaxPooling1D only each channel's argmax position has a nonzero gradient.)
;;          Where under a quarter of the live rows' entries are nonzero (and x[i] is finite), the
;;          kernel rows are formed by scattering each nonzero g[i, q, o] times its x column
;;          ($scatterRows, scalar): each entry still sums its products in ascending q, the same bits.
;; ghost  : squared norms sum_{t,s} (a_t . a_s)(g_t . g_s) of a recurrent layer's per-example
;;          gradient, a_t = [x_t, h_t, 1 if bias], over the steps t whose g_t is not all zero,
;;          the upper triangle counted twice; dot products in f32x4 lanes, the sum in f64.
;;          x [n, t, din], h [n, t, u], g [n, t, q]; live is scratch of t i32s; sq [n] f64.
;; outer  : the clipped sum of a recurrent layer, out[r, :] = sum_{i,t} w_i a_{i,t}[r] g_{i,t}[:] with
;;          a = [x, h, 1 if bias] (rows din, u, 1; out [(din + u + bias), q], q a multiple of 4): the
;;          reweighted gradient wg = w_i g (f32, into wg [n, t, q]) and then the rows as the
;;          Conv1D kernel's, over all n*t positions, float32 sums (as the matrix product it replaces).
;; embNorms: the Embedding rule's squared norms: example i's output-gradient rows g [n, t, d] summed
;;          per slot (slots [n*t] i32, i*t + k for the k-th distinct token of example i, numbered in
;;          order of first occurrence) into scratch [t, d], then the sum of squares (f64) into sq [n].
;; embRows : the Embedding rule's clipped sum: acc [rows, d] (zeroed here; the table's gradient)
;;          += w_i g[i, t, :] at row rowIdx[i*t + t'] (i32: the token), examples with weight 0 skipped.
;;          d a multiple of 4 for both.
;; embMean: the Embedding → GlobalAveragePooling1D forward: out[i, :] = (sum_t table[ids[i, t], :]) / t
;;          (f32 sums in t order, then one f32 divide; table [vocab, d], ids [n, t] i32, out [n, d]).
;; embRowsPooled: embRows with example i's one gradient row h[i, :] at each of its positions
;;          (the gradient of a mean over steps): acc [rows, d] zeroed, += w_i h[i, :] at row rowIdx[i*t + t'].
;; wsum   : acc[0..d) = sum_i w[i] * per[i, :] in f64 (per [n, d] f32, d a multiple of 4; w [n] f32;
;;          acc [d] f64, zeroed here); examples with weight 0 are skipped.
(module
  (memory (export "memory") 1)

  ;; Two rows of one example's kernel gradient: dst0[0..o) and dst1[0..o) (oBytes = 4o, o % 4 = 0).
  ;; x0/x1 point at the first x entry of each row; xStep is the byte step between positions.
  (func $rows2
    (param $x0 i32) (param $x1 i32) (param $g i32) (param $dst0 i32) (param $dst1 i32)
    (param $p i32) (param $oBytes i32) (param $xStep i32)
    (local $j i32) (local $q i32) (local $xp0 i32) (local $xp1 i32) (local $gp i32)
    (local $s0 v128) (local $s1 v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    ;; blocks of 16 floats
    (block $wideDone
      (loop $wide
        (br_if $wideDone (i32.gt_u (i32.add (local.get $j) (i32.const 64)) (local.get $oBytes)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $xp0 (local.get $x0))
        (local.set $xp1 (local.get $x1))
        (local.set $gp (i32.add (local.get $g) (local.get $j)))
        (local.set $q (i32.const 0))
        (block $qDone
          (loop $qs
            (br_if $qDone (i32.ge_u (local.get $q) (local.get $p)))
            (local.set $s0 (f32x4.splat (f32.load (local.get $xp0))))
            (local.set $s1 (f32x4.splat (f32.load (local.get $xp1))))
            (local.set $v0 (v128.load (local.get $gp)))
            (local.set $v1 (v128.load offset=16 (local.get $gp)))
            (local.set $v2 (v128.load offset=32 (local.get $gp)))
            (local.set $v3 (v128.load offset=48 (local.get $gp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s0) (local.get $v0))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s0) (local.get $v1))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s0) (local.get $v2))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s0) (local.get $v3))))
            (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $s1) (local.get $v0))))
            (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $s1) (local.get $v1))))
            (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $s1) (local.get $v2))))
            (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $s1) (local.get $v3))))
            (local.set $xp0 (i32.add (local.get $xp0) (local.get $xStep)))
            (local.set $xp1 (i32.add (local.get $xp1) (local.get $xStep)))
            (local.set $gp (i32.add (local.get $gp) (local.get $oBytes)))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $qs)))
        ;; (row 1 first: when the two rows are one, row 0's store is the one that stays — the same values)
        (v128.store (i32.add (local.get $dst1) (local.get $j)) (local.get $b0))
        (v128.store offset=16 (i32.add (local.get $dst1) (local.get $j)) (local.get $b1))
        (v128.store offset=32 (i32.add (local.get $dst1) (local.get $j)) (local.get $b2))
        (v128.store offset=48 (i32.add (local.get $dst1) (local.get $j)) (local.get $b3))
        (v128.store (i32.add (local.get $dst0) (local.get $j)) (local.get $a0))
        (v128.store offset=16 (i32.add (local.get $dst0) (local.get $j)) (local.get $a1))
        (v128.store offset=32 (i32.add (local.get $dst0) (local.get $j)) (local.get $a2))
        (v128.store offset=48 (i32.add (local.get $dst0) (local.get $j)) (local.get $a3))
        (local.set $j (i32.add (local.get $j) (i32.const 64)))
        (br $wide)))
    ;; the rest, 4 floats at a time
    (block $narrowDone
      (loop $narrow
        (br_if $narrowDone (i32.ge_u (local.get $j) (local.get $oBytes)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $xp0 (local.get $x0))
        (local.set $xp1 (local.get $x1))
        (local.set $gp (i32.add (local.get $g) (local.get $j)))
        (local.set $q (i32.const 0))
        (block $qDone2
          (loop $qs2
            (br_if $qDone2 (i32.ge_u (local.get $q) (local.get $p)))
            (local.set $v0 (v128.load (local.get $gp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (f32x4.splat (f32.load (local.get $xp0))) (local.get $v0))))
            (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (f32x4.splat (f32.load (local.get $xp1))) (local.get $v0))))
            (local.set $xp0 (i32.add (local.get $xp0) (local.get $xStep)))
            (local.set $xp1 (i32.add (local.get $xp1) (local.get $xStep)))
            (local.set $gp (i32.add (local.get $gp) (local.get $oBytes)))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $qs2)))
        (v128.store (i32.add (local.get $dst1) (local.get $j)) (local.get $b0))
        (v128.store (i32.add (local.get $dst0) (local.get $j)) (local.get $a0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $narrow))))

  ;; $rows2 over a list of positions: the m positions q = live[0..m) (i32), x at x0/x1 + q*xStep,
  ;; g rows at g + q*oBytes. Same accumulation order as $rows2 over those q.
  (func $rows2L
    (param $x0 i32) (param $x1 i32) (param $g i32) (param $dst0 i32) (param $dst1 i32)
    (param $live i32) (param $m i32) (param $oBytes i32) (param $xStep i32)
    (local $j i32) (local $a i32) (local $q i32) (local $lp i32) (local $end i32) (local $gp i32)
    (local $s0 v128) (local $s1 v128) (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local.set $end (i32.add (local.get $live) (i32.shl (local.get $m) (i32.const 2))))
    (block $wideDone
      (loop $wide
        (br_if $wideDone (i32.gt_u (i32.add (local.get $j) (i32.const 64)) (local.get $oBytes)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $a1 (v128.const i32x4 0 0 0 0))
        (local.set $a2 (v128.const i32x4 0 0 0 0))
        (local.set $a3 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0))
        (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $lp (local.get $live))
        (block $qDone
          (loop $qs
            (br_if $qDone (i32.ge_u (local.get $lp) (local.get $end)))
            (local.set $q (i32.load (local.get $lp)))
            (local.set $s0 (f32x4.splat (f32.load (i32.add (local.get $x0) (i32.mul (local.get $q) (local.get $xStep))))))
            (local.set $s1 (f32x4.splat (f32.load (i32.add (local.get $x1) (i32.mul (local.get $q) (local.get $xStep))))))
            (local.set $gp (i32.add (i32.add (local.get $g) (i32.mul (local.get $q) (local.get $oBytes))) (local.get $j)))
            (local.set $v0 (v128.load (local.get $gp)))
            (local.set $v1 (v128.load offset=16 (local.get $gp)))
            (local.set $v2 (v128.load offset=32 (local.get $gp)))
            (local.set $v3 (v128.load offset=48 (local.get $gp)))
            (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $s0) (local.get $v0))))
            (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $s0) (local.get $v1))))
            (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $s0) (local.get $v2))))
            (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $s0) (local.get $v3))))
            (local.set $b0 (f32x4.add (local.get $b0) (f32x4.mul (local.get $s1) (local.get $v0))))
            (local.set $b1 (f32x4.add (local.get $b1) (f32x4.mul (local.get $s1) (local.get $v1))))
            (local.set $b2 (f32x4.add (local.get $b2) (f32x4.mul (local.get $s1) (local.get $v2))))
            (local.set $b3 (f32x4.add (local.get $b3) (f32x4.mul (local.get $s1) (local.get $v3))))
            (local.set $lp (i32.add (local.get $lp) (i32.const 4)))
            (br $qs)))
        (v128.store (i32.add (local.get $dst1) (local.get $j)) (local.get $b0))
        (v128.store offset=16 (i32.add (local.get $dst1) (local.get $j)) (local.get $b1))
        (v128.store offset=32 (i32.add (local.get $dst1) (local.get $j)) (local.get $b2))
        (v128.store offset=48 (i32.add (local.get $dst1) (local.get $j)) (local.get $b3))
        (v128.store (i32.add (local.get $dst0) (local.get $j)) (local.get $a0))
        (v128.store offset=16 (i32.add (local.get $dst0) (local.get $j)) (local.get $a1))
        (v128.store offset=32 (i32.add (local.get $dst0) (local.get $j)) (local.get $a2))
        (v128.store offset=48 (i32.add (local.get $dst0) (local.get $j)) (local.get $a3))
        (local.set $j (i32.add (local.get $j) (i32.const 64)))
        (br $wide)))
    (block $narrowDone
      (loop $narrow
        (br_if $narrowDone (i32.ge_u (local.get $j) (local.get $oBytes)))
        (local.set $a0 (v128.const i32x4 0 0 0 0))
        (local.set $b0 (v128.const i32x4 0 0 0 0))
        (local.set $lp (local.get $live))
        (block $qDone2
          (loop $qs2
            (br_if $qDone2 (i32.ge_u (local.get $lp) (local.get $end)))
            (local.set $q (i32.load (local.get $lp)))
            (local.set $v0 (v128.load (i32.add (i32.add (local.get $g) (i32.mul (local.get $q) (local.get $oBytes))) (local.get $j))))
            (local.set $a0 (f32x4.add (local.get $a0)
              (f32x4.mul (f32x4.splat (f32.load (i32.add (local.get $x0) (i32.mul (local.get $q) (local.get $xStep))))) (local.get $v0))))
            (local.set $b0 (f32x4.add (local.get $b0)
              (f32x4.mul (f32x4.splat (f32.load (i32.add (local.get $x1) (i32.mul (local.get $q) (local.get $xStep))))) (local.get $v0))))
            (local.set $lp (i32.add (local.get $lp) (i32.const 4)))
            (br $qs2)))
        (v128.store (i32.add (local.get $dst1) (local.get $j)) (local.get $b0))
        (v128.store (i32.add (local.get $dst0) (local.get $j)) (local.get $a0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $narrow))))

  ;; whether the count f32s at ptr (count a multiple of 4 or not) are all finite: v - v == 0 exactly then
  (func $allFinite (param $ptr i32) (param $count i32) (result i32)
    (local $i i32) (local $vecEnd i32) (local $v v128) (local $f f32)
    (local.set $vecEnd (i32.and (local.get $count) (i32.const -4)))
    (block $vDone
      (loop $vs
        (br_if $vDone (i32.ge_u (local.get $i) (local.get $vecEnd)))
        (local.set $v (v128.load (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))))
        (if (i32.eqz (i32x4.all_true (f32x4.eq (f32x4.sub (local.get $v) (local.get $v)) (v128.const i32x4 0 0 0 0))))
          (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vs)))
    (block $tDone
      (loop $ts
        (br_if $tDone (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $f (f32.load (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.ne (f32.sub (local.get $f) (local.get $f)) (f32.const 0)) (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ts)))
    (i32.const 1))

  ;; The kernel rows of one example by scattering: out [rows, o] zeroed, then for each live q
  ;; (ascending) and each o with g[q, o] != 0 (f32.ne: NaN counts), out[r, o] += x(q, r) * g[q, o]
  ;; for every row r = kk*cin + c (x(q, r) at xb + q*xStep + (kk*dil*cin + c)*4). Each entry
  ;; receives its products in ascending q, as in $rows2L: with x finite the same bits.
  (func $scatterRows
    (param $xb i32) (param $gb i32) (param $ob i32) (param $live i32) (param $m i32)
    (param $oBytes i32) (param $cin i32) (param $k i32) (param $dil i32) (param $xStep i32) (param $rows i32)
    (local $j i32) (local $end i32) (local $lp i32) (local $q i32) (local $grow i32) (local $xq i32)
    (local $gv f32) (local $dst i32) (local $kk i32) (local $c i32) (local $xr i32) (local $kStep i32)
    (local.set $end (i32.mul (local.get $rows) (local.get $oBytes)))
    (block $zDone
      (loop $zs
        (br_if $zDone (i32.ge_u (local.get $j) (local.get $end)))
        (v128.store (i32.add (local.get $ob) (local.get $j)) (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $zs)))
    (local.set $kStep (i32.shl (i32.mul (local.get $dil) (local.get $cin)) (i32.const 2)))
    (local.set $end (i32.add (local.get $live) (i32.shl (local.get $m) (i32.const 2))))
    (local.set $lp (local.get $live))
    (block $qDone
      (loop $qs
        (br_if $qDone (i32.ge_u (local.get $lp) (local.get $end)))
        (local.set $q (i32.load (local.get $lp)))
        (local.set $grow (i32.add (local.get $gb) (i32.mul (local.get $q) (local.get $oBytes))))
        (local.set $xq (i32.add (local.get $xb) (i32.mul (local.get $q) (local.get $xStep))))
        (local.set $j (i32.const 0))
        (block $oDone
          (loop $os
            (br_if $oDone (i32.ge_u (local.get $j) (local.get $oBytes)))
            (local.set $gv (f32.load (i32.add (local.get $grow) (local.get $j))))
            (if (f32.ne (local.get $gv) (f32.const 0))
              (then
                (local.set $dst (i32.add (local.get $ob) (local.get $j)))
                (local.set $kk (i32.const 0))
                (block $kDone
                  (loop $ks
                    (br_if $kDone (i32.ge_u (local.get $kk) (local.get $k)))
                    (local.set $xr (i32.add (local.get $xq) (i32.mul (local.get $kk) (local.get $kStep))))
                    (local.set $c (i32.const 0))
                    (block $cDone
                      (loop $cs
                        (br_if $cDone (i32.ge_u (local.get $c) (local.get $cin)))
                        (f32.store (local.get $dst)
                          (f32.add (f32.load (local.get $dst)) (f32.mul (f32.load (local.get $xr)) (local.get $gv))))
                        (local.set $xr (i32.add (local.get $xr) (i32.const 4)))
                        (local.set $dst (i32.add (local.get $dst) (local.get $oBytes)))
                        (local.set $c (i32.add (local.get $c) (i32.const 1)))
                        (br $cs)))
                    (local.set $kk (i32.add (local.get $kk) (i32.const 1)))
                    (br $ks)))))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br $os)))
        (local.set $lp (i32.add (local.get $lp) (i32.const 4)))
        (br $qs))))

  ;; sum of squares of count f32s at ptr, in f64: entries 4k+0/4k+1 in the lanes of one f64x2
  ;; accumulator, 4k+2/4k+3 in another (promoted, squared and added in f64), then
  ;; (lane 0 + lane 1) + (lane 0 + lane 1) of the two, then the tail (count mod 4) one by one
  (func $sumSq (param $ptr i32) (param $count i32) (result f64)
    (local $i i32) (local $vecEnd i32) (local $v v128) (local $lo v128) (local $hi v128) (local $acc f64) (local $f f64)
    (local $a0 v128) (local $a1 v128)
    (local.set $vecEnd (i32.and (local.get $count) (i32.const -4)))
    (block $vDone
      (loop $vs
        (br_if $vDone (i32.ge_u (local.get $i) (local.get $vecEnd)))
        (local.set $v (v128.load (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $lo (f64x2.promote_low_f32x4 (local.get $v)))
        (local.set $hi (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))
        (local.set $a0 (f64x2.add (local.get $a0) (f64x2.mul (local.get $lo) (local.get $lo))))
        (local.set $a1 (f64x2.add (local.get $a1) (f64x2.mul (local.get $hi) (local.get $hi))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $vs)))
    (local.set $acc (f64.add
      (f64.add (f64x2.extract_lane 0 (local.get $a0)) (f64x2.extract_lane 1 (local.get $a0)))
      (f64.add (f64x2.extract_lane 0 (local.get $a1)) (f64x2.extract_lane 1 (local.get $a1)))))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
        (local.set $f (f64.promote_f32 (f32.load (i32.add (local.get $ptr) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $acc (f64.add (local.get $acc) (f64.mul (local.get $f) (local.get $f))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $acc))

  (func (export "conv1d")
    (param $x i32) (param $g i32) (param $out i32) (param $sq i32)
    (param $n i32) (param $len i32) (param $cin i32) (param $p i32) (param $k i32) (param $o i32)
    (param $stride i32) (param $dil i32) (param $bias i32) (param $live i32)
    (local $i i32) (local $r i32) (local $r1 i32) (local $rows i32) (local $outRows i32)
    (local $xb i32) (local $gb i32) (local $ob i32) (local $oBytes i32) (local $xStep i32)
    (local $j i32) (local $q i32) (local $gp i32) (local $acc v128) (local $m i32) (local $all i32) (local $a i32)
    (local $rowAny v128) (local $ne v128) (local $nnz v128)
    (local.set $rows (i32.mul (local.get $k) (local.get $cin)))
    (local.set $outRows (i32.add (local.get $rows) (local.get $bias)))
    (local.set $oBytes (i32.shl (local.get $o) (i32.const 2)))
    (local.set $xStep (i32.shl (i32.mul (local.get $stride) (local.get $cin)) (i32.const 2)))
    (block $iDone
      (loop $is
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $xb (i32.add (local.get $x) (i32.shl (i32.mul (local.get $i) (i32.mul (local.get $len) (local.get $cin))) (i32.const 2))))
        (local.set $gb (i32.add (local.get $g) (i32.mul (local.get $i) (i32.mul (local.get $p) (local.get $oBytes)))))
        (local.set $ob (i32.add (local.get $out) (i32.mul (local.get $i) (i32.mul (local.get $outRows) (local.get $oBytes)))))
        ;; the live positions: every q if x[i] is not all finite, else the q with a nonzero g row
        (local.set $all (i32.eqz (call $allFinite (local.get $xb) (i32.mul (local.get $len) (local.get $cin)))))
        (local.set $m (i32.const 0))
        (local.set $q (i32.const 0))
        (local.set $nnz (v128.const i32x4 0 0 0 0))
        (block $lDone
          (loop $ls
            (br_if $lDone (i32.ge_u (local.get $q) (local.get $p)))
            (local.set $gp (i32.add (local.get $gb) (i32.mul (local.get $q) (local.get $oBytes))))
            (local.set $rowAny (v128.const i32x4 0 0 0 0))
            (local.set $j (i32.const 0))
            (block $zDone
              (loop $zs
                (br_if $zDone (i32.ge_u (local.get $j) (local.get $oBytes)))
                (local.set $ne (f32x4.ne (v128.load (i32.add (local.get $gp) (local.get $j))) (v128.const i32x4 0 0 0 0)))
                (local.set $rowAny (v128.or (local.get $rowAny) (local.get $ne)))
                (local.set $nnz (i32x4.sub (local.get $nnz) (local.get $ne)))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $zs)))
            (if (i32.or (local.get $all) (v128.any_true (local.get $rowAny)))
              (then
                (i32.store (i32.add (local.get $live) (i32.shl (local.get $m) (i32.const 2))) (local.get $q))
                (local.set $m (i32.add (local.get $m) (i32.const 1)))))
            (local.set $q (i32.add (local.get $q) (i32.const 1)))
            (br $ls)))
        ;; few nonzero entries in the live rows (under a quarter; x finite): scatter them, else the SIMD rows
        (if (i32.and (i32.eqz (local.get $all))
              (i32.lt_u
                (i32.shl (i32.add (i32.add (i32x4.extract_lane 0 (local.get $nnz)) (i32x4.extract_lane 1 (local.get $nnz)))
                                  (i32.add (i32x4.extract_lane 2 (local.get $nnz)) (i32x4.extract_lane 3 (local.get $nnz)))) (i32.const 2))
                (i32.mul (local.get $m) (local.get $o))))
          (then
            (call $scatterRows (local.get $xb) (local.get $gb) (local.get $ob) (local.get $live) (local.get $m)
              (local.get $oBytes) (local.get $cin) (local.get $k) (local.get $dil) (local.get $xStep) (local.get $rows))
            (local.set $r (local.get $rows)))
          (else (local.set $r (i32.const 0))))
        (block $rDone
          (loop $rs
            (br_if $rDone (i32.ge_u (local.get $r) (local.get $rows)))
            ;; the second row of the pair, or the first again for an odd last row
            (local.set $r1 (select (i32.add (local.get $r) (i32.const 1)) (local.get $r)
              (i32.lt_u (i32.add (local.get $r) (i32.const 1)) (local.get $rows))))
            (call $rows2L
              (i32.add (local.get $xb) (i32.shl (i32.add (i32.mul (i32.mul (i32.div_u (local.get $r) (local.get $cin)) (local.get $dil)) (local.get $cin))
                                                        (i32.rem_u (local.get $r) (local.get $cin))) (i32.const 2)))
              (i32.add (local.get $xb) (i32.shl (i32.add (i32.mul (i32.mul (i32.div_u (local.get $r1) (local.get $cin)) (local.get $dil)) (local.get $cin))
                                                        (i32.rem_u (local.get $r1) (local.get $cin))) (i32.const 2)))
              (local.get $gb)
              (i32.add (local.get $ob) (i32.mul (local.get $r) (local.get $oBytes)))
              (i32.add (local.get $ob) (i32.mul (local.get $r1) (local.get $oBytes)))
              (local.get $live) (local.get $m) (local.get $oBytes) (local.get $xStep))
            (local.set $r (i32.add (local.get $r) (i32.const 2)))
            (br $rs)))
        ;; bias: the sum of the example's output-gradient rows
        (if (local.get $bias)
          (then
            (local.set $j (i32.const 0))
            (block $jDone
              (loop $js
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $oBytes)))
                (local.set $acc (v128.const i32x4 0 0 0 0))
                (local.set $a (i32.const 0))
                (block $qDone
                  (loop $qs
                    (br_if $qDone (i32.ge_u (local.get $a) (local.get $m)))
                    (local.set $q (i32.load (i32.add (local.get $live) (i32.shl (local.get $a) (i32.const 2)))))
                    (local.set $acc (f32x4.add (local.get $acc)
                      (v128.load (i32.add (i32.add (local.get $gb) (i32.mul (local.get $q) (local.get $oBytes))) (local.get $j)))))
                    (local.set $a (i32.add (local.get $a) (i32.const 1)))
                    (br $qs)))
                (v128.store (i32.add (i32.add (local.get $ob) (i32.mul (local.get $rows) (local.get $oBytes))) (local.get $j)) (local.get $acc))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $js)))))
        (f64.store (i32.add (local.get $sq) (i32.shl (local.get $i) (i32.const 3)))
          (call $sumSq (local.get $ob) (i32.mul (local.get $outRows) (local.get $o))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is))))

  ;; dot product of count f32s at a and b: f32x4 lanes, then the lanes and the scalar tail in f64
  (func $dot (param $a i32) (param $b i32) (param $count i32) (result f64)
    (local $j i32) (local $vecEnd i32) (local $acc v128) (local $s f64)
    (local.set $vecEnd (i32.and (local.get $count) (i32.const -4)))
    (block $vDone
      (loop $v
        (br_if $vDone (i32.ge_u (local.get $j) (local.get $vecEnd)))
        (local.set $acc (f32x4.add (local.get $acc)
          (f32x4.mul (v128.load (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 2))))
                     (v128.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2)))))))
        (local.set $j (i32.add (local.get $j) (i32.const 4)))
        (br $v)))
    (local.set $s (f64.add
      (f64.add (f64.promote_f32 (f32x4.extract_lane 0 (local.get $acc))) (f64.promote_f32 (f32x4.extract_lane 1 (local.get $acc))))
      (f64.add (f64.promote_f32 (f32x4.extract_lane 2 (local.get $acc))) (f64.promote_f32 (f32x4.extract_lane 3 (local.get $acc))))))
    (block $tDone
      (loop $t
        (br_if $tDone (i32.ge_u (local.get $j) (local.get $count)))
        (local.set $s (f64.add (local.get $s)
          (f64.mul (f64.promote_f32 (f32.load (i32.add (local.get $a) (i32.shl (local.get $j) (i32.const 2)))))
                   (f64.promote_f32 (f32.load (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2))))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $t)))
    (local.get $s))

  (func (export "ghost")
    (param $x i32) (param $h i32) (param $g i32) (param $sq i32) (param $live i32)
    (param $n i32) (param $t i32) (param $din i32) (param $u i32) (param $q i32) (param $bias i32)
    (local $i i32) (local $s i32) (local $m i32) (local $a i32) (local $b i32) (local $j i32)
    (local $row i32) (local $ts i32) (local $ss i32) (local $acc f64) (local $aa f64) (local $gg f64)
    (block $iDone
      (loop $is
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
        ;; the live steps: g_t not all zero
        (local.set $m (i32.const 0))
        (local.set $s (i32.const 0))
        (block $sDone
          (loop $ss_
            (br_if $sDone (i32.ge_u (local.get $s) (local.get $t)))
            (local.set $row (i32.add (local.get $g) (i32.shl (i32.mul (i32.add (i32.mul (local.get $i) (local.get $t)) (local.get $s)) (local.get $q)) (i32.const 2))))
            (local.set $j (i32.const 0))
            (block $jDone
              (loop $js
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $q)))
                (if (f32.ne (f32.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 2)))) (f32.const 0))
                  (then
                    (i32.store (i32.add (local.get $live) (i32.shl (local.get $m) (i32.const 2))) (local.get $s))
                    (local.set $m (i32.add (local.get $m) (i32.const 1)))
                    (br $jDone)))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $js)))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $ss_)))
        (local.set $acc (f64.const 0))
        (local.set $a (i32.const 0))
        (block $aDone
          (loop $as
            (br_if $aDone (i32.ge_u (local.get $a) (local.get $m)))
            (local.set $ts (i32.add (i32.mul (local.get $i) (local.get $t)) (i32.load (i32.add (local.get $live) (i32.shl (local.get $a) (i32.const 2))))))
            (local.set $b (local.get $a))
            (block $bDone
              (loop $bs
                (br_if $bDone (i32.ge_u (local.get $b) (local.get $m)))
                (local.set $ss (i32.add (i32.mul (local.get $i) (local.get $t)) (i32.load (i32.add (local.get $live) (i32.shl (local.get $b) (i32.const 2))))))
                (local.set $gg (call $dot
                  (i32.add (local.get $g) (i32.shl (i32.mul (local.get $ts) (local.get $q)) (i32.const 2)))
                  (i32.add (local.get $g) (i32.shl (i32.mul (local.get $ss) (local.get $q)) (i32.const 2)))
                  (local.get $q)))
                (local.set $aa (f64.add
                  (f64.convert_i32_u (local.get $bias))
                  (f64.add
                    (call $dot
                      (i32.add (local.get $x) (i32.shl (i32.mul (local.get $ts) (local.get $din)) (i32.const 2)))
                      (i32.add (local.get $x) (i32.shl (i32.mul (local.get $ss) (local.get $din)) (i32.const 2)))
                      (local.get $din))
                    (call $dot
                      (i32.add (local.get $h) (i32.shl (i32.mul (local.get $ts) (local.get $u)) (i32.const 2)))
                      (i32.add (local.get $h) (i32.shl (i32.mul (local.get $ss) (local.get $u)) (i32.const 2)))
                      (local.get $u)))))
                (local.set $acc (f64.add (local.get $acc)
                  (f64.mul (select (f64.const 1) (f64.const 2) (i32.eq (local.get $a) (local.get $b)))
                           (f64.mul (local.get $aa) (local.get $gg)))))
                (local.set $b (i32.add (local.get $b) (i32.const 1)))
                (br $bs)))
            (local.set $a (i32.add (local.get $a) (i32.const 1)))
            (br $as)))
        (f64.store (i32.add (local.get $sq) (i32.shl (local.get $i) (i32.const 3))) (local.get $acc))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is))))

  (func (export "wsum") (param $per i32) (param $w i32) (param $acc i32) (param $n i32) (param $d i32)
    (local $i i32) (local $j i32) (local $row i32) (local $dst i32) (local $wi v128) (local $wf f32) (local $v v128)
    (block $zDone
      (loop $z
        (br_if $zDone (i32.ge_u (local.get $j) (local.get $d)))
        (f64.store (i32.add (local.get $acc) (i32.shl (local.get $j) (i32.const 3))) (f64.const 0))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $z)))
    (block $iDone
      (loop $is
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $wf (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.ne (local.get $wf) (f32.const 0))
          (then
            (local.set $wi (f64x2.splat (f64.promote_f32 (local.get $wf))))
            (local.set $row (i32.add (local.get $per) (i32.shl (i32.mul (local.get $i) (local.get $d)) (i32.const 2))))
            (local.set $dst (local.get $acc))
            (local.set $j (i32.const 0))
            (block $jDone
              (loop $js
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $d)))
                (local.set $v (v128.load (local.get $row)))
                (v128.store (local.get $dst)
                  (f64x2.add (v128.load (local.get $dst)) (f64x2.mul (local.get $wi) (f64x2.promote_low_f32x4 (local.get $v)))))
                (v128.store offset=16 (local.get $dst)
                  (f64x2.add (v128.load offset=16 (local.get $dst))
                    (f64x2.mul (local.get $wi) (f64x2.promote_low_f32x4 (i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7 (local.get $v) (local.get $v))))))
                (local.set $row (i32.add (local.get $row) (i32.const 16)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
                (local.set $j (i32.add (local.get $j) (i32.const 4)))
                (br $js)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is))))

  (func (export "outer")
    (param $x i32) (param $h i32) (param $g i32) (param $w i32) (param $wg i32) (param $out i32)
    (param $n i32) (param $t i32) (param $din i32) (param $u i32) (param $q i32) (param $bias i32)
    (local $i i32) (local $j i32) (local $end i32) (local $src i32) (local $dst i32) (local $wi v128)
    (local $r i32) (local $r1 i32) (local $qBytes i32) (local $rows i32) (local $acc v128) (local $gp i32)
    (local.set $qBytes (i32.shl (local.get $q) (i32.const 2)))
    (local.set $rows (i32.mul (local.get $n) (local.get $t)))
    ;; wg = w_i * g
    (local.set $src (local.get $g))
    (local.set $dst (local.get $wg))
    (block $iDone
      (loop $is
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $wi (f32x4.splat (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2))))))
        (local.set $end (i32.add (local.get $src) (i32.mul (local.get $t) (local.get $qBytes))))
        (block $jDone
          (loop $js
            (br_if $jDone (i32.ge_u (local.get $src) (local.get $end)))
            (v128.store (local.get $dst) (f32x4.mul (local.get $wi) (v128.load (local.get $src))))
            (local.set $src (i32.add (local.get $src) (i32.const 16)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
            (br $js)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is)))
    ;; x rows
    (local.set $r (i32.const 0))
    (block $xDone
      (loop $xs
        (br_if $xDone (i32.ge_u (local.get $r) (local.get $din)))
        (local.set $r1 (select (i32.add (local.get $r) (i32.const 1)) (local.get $r) (i32.lt_u (i32.add (local.get $r) (i32.const 1)) (local.get $din))))
        (call $rows2
          (i32.add (local.get $x) (i32.shl (local.get $r) (i32.const 2)))
          (i32.add (local.get $x) (i32.shl (local.get $r1) (i32.const 2)))
          (local.get $wg)
          (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $qBytes)))
          (i32.add (local.get $out) (i32.mul (local.get $r1) (local.get $qBytes)))
          (local.get $rows) (local.get $qBytes) (i32.shl (local.get $din) (i32.const 2)))
        (local.set $r (i32.add (local.get $r) (i32.const 2)))
        (br $xs)))
    ;; h rows
    (local.set $r (i32.const 0))
    (block $hDone
      (loop $hs
        (br_if $hDone (i32.ge_u (local.get $r) (local.get $u)))
        (local.set $r1 (select (i32.add (local.get $r) (i32.const 1)) (local.get $r) (i32.lt_u (i32.add (local.get $r) (i32.const 1)) (local.get $u))))
        (call $rows2
          (i32.add (local.get $h) (i32.shl (local.get $r) (i32.const 2)))
          (i32.add (local.get $h) (i32.shl (local.get $r1) (i32.const 2)))
          (local.get $wg)
          (i32.add (local.get $out) (i32.mul (i32.add (local.get $din) (local.get $r)) (local.get $qBytes)))
          (i32.add (local.get $out) (i32.mul (i32.add (local.get $din) (local.get $r1)) (local.get $qBytes)))
          (local.get $rows) (local.get $qBytes) (i32.shl (local.get $u) (i32.const 2)))
        (local.set $r (i32.add (local.get $r) (i32.const 2)))
        (br $hs)))
    ;; bias row: the sum of the reweighted rows
    (if (local.get $bias)
      (then
        (local.set $dst (i32.add (local.get $out) (i32.mul (i32.add (local.get $din) (local.get $u)) (local.get $qBytes))))
        (local.set $j (i32.const 0))
        (block $bDone
          (loop $bs
            (br_if $bDone (i32.ge_u (local.get $j) (local.get $qBytes)))
            (local.set $acc (v128.const i32x4 0 0 0 0))
            (local.set $gp (i32.add (local.get $wg) (local.get $j)))
            (local.set $i (i32.const 0))
            (block $rDone
              (loop $rs
                (br_if $rDone (i32.ge_u (local.get $i) (local.get $rows)))
                (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $gp))))
                (local.set $gp (i32.add (local.get $gp) (local.get $qBytes)))
                (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br $rs)))
            (v128.store (i32.add (local.get $dst) (local.get $j)) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $bs))))))

  ;; dst[0..dBytes) += src (f32x4), or = src when copy
  (func $addRow (param $dst i32) (param $src i32) (param $dBytes i32) (param $copy i32)
    (local $j i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $j) (local.get $dBytes)))
        (v128.store (i32.add (local.get $dst) (local.get $j))
          (select (result v128)
            (v128.load (i32.add (local.get $src) (local.get $j)))
            (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j))) (v128.load (i32.add (local.get $src) (local.get $j))))
            (local.get $copy)))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $l))))

  (func (export "embNorms") (param $g i32) (param $slots i32) (param $scratch i32) (param $sq i32) (param $n i32) (param $t i32) (param $d i32)
    (local $i i32) (local $s i32) (local $k i32) (local $used i32) (local $dBytes i32) (local $base i32)
    (local.set $dBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $iDone
      (loop $is
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $base (i32.mul (local.get $i) (local.get $t)))
        (local.set $used (i32.const 0))
        (local.set $s (i32.const 0))
        (block $sDone
          (loop $ss
            (br_if $sDone (i32.ge_u (local.get $s) (local.get $t)))
            (local.set $k (i32.sub (i32.load (i32.add (local.get $slots) (i32.shl (i32.add (local.get $base) (local.get $s)) (i32.const 2)))) (local.get $base)))
            ;; a slot's first position copies its row (slots are numbered in order of first occurrence)
            (call $addRow
              (i32.add (local.get $scratch) (i32.mul (local.get $k) (local.get $dBytes)))
              (i32.add (local.get $g) (i32.mul (i32.add (local.get $base) (local.get $s)) (local.get $dBytes)))
              (local.get $dBytes)
              (i32.ge_u (local.get $k) (local.get $used)))
            (if (i32.ge_u (local.get $k) (local.get $used)) (then (local.set $used (i32.add (local.get $k) (i32.const 1)))))
            (local.set $s (i32.add (local.get $s) (i32.const 1)))
            (br $ss)))
        (f64.store (i32.add (local.get $sq) (i32.shl (local.get $i) (i32.const 3)))
          (call $sumSq (local.get $scratch) (i32.mul (local.get $used) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is))))

  (func (export "embRows") (param $g i32) (param $rowIdx i32) (param $w i32) (param $acc i32) (param $n i32) (param $t i32) (param $d i32) (param $rows i32)
    (local $i i32) (local $p i32) (local $end i32) (local $j i32) (local $dBytes i32) (local $wf f32) (local $ws v128) (local $dst i32) (local $src i32)
    (local.set $dBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $end (i32.mul (local.get $rows) (local.get $dBytes)))
    (block $zDone
      (loop $z
        (br_if $zDone (i32.ge_u (local.get $j) (local.get $end)))
        (v128.store (i32.add (local.get $acc) (local.get $j)) (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $z)))
    (block $iDone
      (loop $is
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $wf (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.ne (local.get $wf) (f32.const 0))
          (then
            (local.set $ws (f32x4.splat (local.get $wf)))
            (local.set $p (i32.mul (local.get $i) (local.get $t)))
            (local.set $end (i32.add (local.get $p) (local.get $t)))
            (block $pDone
              (loop $ps
                (br_if $pDone (i32.ge_u (local.get $p) (local.get $end)))
                (local.set $dst (i32.add (local.get $acc) (i32.mul (i32.load (i32.add (local.get $rowIdx) (i32.shl (local.get $p) (i32.const 2)))) (local.get $dBytes))))
                (local.set $src (i32.add (local.get $g) (i32.mul (local.get $p) (local.get $dBytes))))
                (local.set $j (i32.const 0))
                (block $jDone
                  (loop $js
                    (br_if $jDone (i32.ge_u (local.get $j) (local.get $dBytes)))
                    (v128.store (i32.add (local.get $dst) (local.get $j))
                      (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j)))
                        (f32x4.mul (local.get $ws) (v128.load (i32.add (local.get $src) (local.get $j))))))
                    (local.set $j (i32.add (local.get $j) (i32.const 16)))
                    (br $js)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $ps)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is))))

  (func (export "embMean") (param $table i32) (param $ids i32) (param $out i32) (param $n i32) (param $t i32) (param $d i32)
    (local $i i32) (local $p i32) (local $end i32) (local $j i32) (local $dBytes i32) (local $dst i32) (local $src i32) (local $div v128)
    (local.set $dBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $div (f32x4.splat (f32.convert_i32_u (local.get $t))))
    (block $iDone
      (loop $is
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $dst (i32.add (local.get $out) (i32.mul (local.get $i) (local.get $dBytes))))
        (local.set $j (i32.const 0))
        (block $zDone
          (loop $zs
            (br_if $zDone (i32.ge_u (local.get $j) (local.get $dBytes)))
            (v128.store (i32.add (local.get $dst) (local.get $j)) (v128.const i32x4 0 0 0 0))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $zs)))
        (local.set $p (i32.mul (local.get $i) (local.get $t)))
        (local.set $end (i32.add (local.get $p) (local.get $t)))
        (block $pDone
          (loop $ps
            (br_if $pDone (i32.ge_u (local.get $p) (local.get $end)))
            (local.set $src (i32.add (local.get $table) (i32.mul (i32.load (i32.add (local.get $ids) (i32.shl (local.get $p) (i32.const 2)))) (local.get $dBytes))))
            (local.set $j (i32.const 0))
            (block $jDone
              (loop $js
                (br_if $jDone (i32.ge_u (local.get $j) (local.get $dBytes)))
                (v128.store (i32.add (local.get $dst) (local.get $j))
                  (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j))) (v128.load (i32.add (local.get $src) (local.get $j)))))
                (local.set $j (i32.add (local.get $j) (i32.const 16)))
                (br $js)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $ps)))
        (local.set $j (i32.const 0))
        (block $vDone
          (loop $vs
            (br_if $vDone (i32.ge_u (local.get $j) (local.get $dBytes)))
            (v128.store (i32.add (local.get $dst) (local.get $j)) (f32x4.div (v128.load (i32.add (local.get $dst) (local.get $j))) (local.get $div)))
            (local.set $j (i32.add (local.get $j) (i32.const 16)))
            (br $vs)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is))))

  (func (export "embRowsPooled") (param $h i32) (param $rowIdx i32) (param $w i32) (param $acc i32) (param $n i32) (param $t i32) (param $d i32) (param $rows i32)
    (local $i i32) (local $p i32) (local $end i32) (local $j i32) (local $dBytes i32) (local $wf f32) (local $ws v128) (local $dst i32) (local $src i32)
    (local.set $dBytes (i32.shl (local.get $d) (i32.const 2)))
    (local.set $end (i32.mul (local.get $rows) (local.get $dBytes)))
    (block $zDone
      (loop $z
        (br_if $zDone (i32.ge_u (local.get $j) (local.get $end)))
        (v128.store (i32.add (local.get $acc) (local.get $j)) (v128.const i32x4 0 0 0 0))
        (local.set $j (i32.add (local.get $j) (i32.const 16)))
        (br $z)))
    (block $iDone
      (loop $is
        (br_if $iDone (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $wf (f32.load (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
        (if (f32.ne (local.get $wf) (f32.const 0))
          (then
            (local.set $ws (f32x4.splat (local.get $wf)))
            (local.set $src (i32.add (local.get $h) (i32.mul (local.get $i) (local.get $dBytes))))
            (local.set $p (i32.mul (local.get $i) (local.get $t)))
            (local.set $end (i32.add (local.get $p) (local.get $t)))
            (block $pDone
              (loop $ps
                (br_if $pDone (i32.ge_u (local.get $p) (local.get $end)))
                (local.set $dst (i32.add (local.get $acc) (i32.mul (i32.load (i32.add (local.get $rowIdx) (i32.shl (local.get $p) (i32.const 2)))) (local.get $dBytes))))
                (local.set $j (i32.const 0))
                (block $jDone
                  (loop $js
                    (br_if $jDone (i32.ge_u (local.get $j) (local.get $dBytes)))
                    (v128.store (i32.add (local.get $dst) (local.get $j))
                      (f32x4.add (v128.load (i32.add (local.get $dst) (local.get $j)))
                        (f32x4.mul (local.get $ws) (v128.load (i32.add (local.get $src) (local.get $j))))))
                    (local.set $j (i32.add (local.get $j) (i32.const 16)))
                    (br $js)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $ps)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $is))))
)
