;; The exact discrete ziggurat's sampling loops (src/random/discrete-ziggurat.ts: zigguratRun,
;; zigguratAddRun and the common cases of slowProposal) in WebAssembly: the same decisions on the
;; same words in the same order, so the same samples. Compiled by `npm run gen:ziggurat-wasm` (wabt
;; 1.0.39, with SIMD) into src/random/ziggurat-wasm.ts. `fill`'s sampling loop is scalar f64/i32 and
;; `combine` adds a filled window in f64x2 lanes; `add` (issue 19) does both in one pass, two
;; proposals per step in f64x2 lanes. No floating-point contraction (WebAssembly has none), so every
;; double below is the one the TS code computes.
;;
;; Memory (one instance per sampler, 3 pages, never grown), written by the TS side:
;;   [0, 16384)        per layer i, 8 f64 at i*64: F_i*Q_i, Q_i, Q_i*W_i, W_i, y_i (yD), h_i (hD)
;;   [16384, 16904)    e^{-n}, n = 0..64 (exp-bernoulli's EXP_INT)
;;   [17408, 17920)    e^{-j/64}, j = 0..63 (EXP_FRAC)
;;   [17920, 17952)    1/6, 1/24, 1/120 (as JS rounds them), 2*sigma^2 (twoS2)
;;   [17952, 17984)    (0.5, 0.5), (1, 1): the fused add's lane constants (loaded, not rematerialized per step)
;;   [18432, 83968)    the random words (16,384 u32), refilled by JS
;;   [83968, 149504)   the samples' window: 8,192 f64 (fill writes them)
;;   [149504, 182272)  the fused add's window: 8,192 f32 (combine updates them in place)
;;
;; A proposal reads the word pair (w0, w1) at word index p: J = (w0 >>> 11)*2^32 + w1 (an exact
;; integer below 2^53, exact as a double), layer = w0 & 255, the sign is bit 8 of w0 (negative when set).
;;   J < F*Q     fast accept: k = floor(J / Q) by one f64 division (exact: see packFast in the TS);
;;               (negative, 0) is rejected (k = 0 iff J < Q: tested on J, branch-free: the loop
;;               writes the sample and counts it 0 or 1); the sample is k with bit 8 as its sign
;;               bit, i.e. k * (1 - 2*bit8) as the TS computes it.
;;   otherwise   $slow: the redraws of J while J >= Q*W, then a fast accept of the redrawn J, or the
;;               wedge's double test (expNegApprox and the 2^-40 margins of wedgeAccepts). It gives
;;               up (+inf) where the TS must decide: the base layer's tail, x >= 48, an inconclusive
;;               wedge (the exact bigint path), a k >= W (the guard), or words running out.
;; The loop runs while i < n and p + 2 <= end, and returns (p << 16) | (i << 1) | gaveUp: on giving
;; up, p is just past the proposal's first two words (as slowProposal expects), nothing of the
;; proposal written, and the TS's slowProposal redoes the whole proposal from the same words.

(module
  (memory (export "memory") 3 3)
  ;; The word index $slow reached (read after a result that is not +inf).
  (global $q (mut i32) (i32.const 0))

  ;; The 53-bit integer J of the word pair at word index p, as an exact double (written out in the
  ;; sampling loop: V8 does not inline calls between wasm functions here).
  (func $word53 (param $p i32) (result f64)
    (f64.convert_i64_s
      (i64.or
        (i64.shl (i64.extend_i32_u (i32.shr_u (i32.load offset=18432 (i32.shl (local.get $p) (i32.const 2))) (i32.const 11)))
          (i64.const 32))
        (i64.load32_u offset=18436 (i32.shl (local.get $p) (i32.const 2))))))

  ;; The signed sample k*s, or NaN for the rejected (negative, 0).
  (func $signed (param $k f64) (param $s f64) (result f64)
    (if (result f64) (i32.and (f64.eq (local.get $k) (f64.const 0)) (f64.lt (local.get $s) (f64.const 0)))
      (then (f64.const nan))
      (else (f64.mul (local.get $k) (local.get $s)))))

  ;; slowProposal's common cases; words from index p (past the proposal's first two), J its first J.
  ;; Returns the sample (global $q: the word index after it), NaN when rejected (likewise), or +inf
  ;; when the TS must take the proposal over.
  (func $slow (param $p i32) (param $end i32) (param $w0 i32) (param $J f64) (param $tol f64) (result f64)
    (local $o i32) (local $k f64) (local $s f64) (local $x f64) (local $u f64) (local $n f64)
    (local $f f64) (local $j f64) (local $r f64) (local $e f64) (local $h f64) (local $y f64)
    (local.set $o (i32.shl (i32.and (local.get $w0) (i32.const 255)) (i32.const 6)))
    ;; Redraw inside the layer while J >= Q*W.
    (block $drawn
      (loop $redraw
        (br_if $drawn (f64.lt (local.get $J) (f64.load offset=16 (local.get $o))))
        (if (i32.gt_u (i32.add (local.get $p) (i32.const 2)) (local.get $end)) (then (return (f64.const inf))))
        (local.set $J (call $word53 (local.get $p)))
        (local.set $p (i32.add (local.get $p) (i32.const 2)))
        (br $redraw)))
    (local.set $k (f64.floor (f64.div (local.get $J) (f64.load offset=8 (local.get $o)))))
    (local.set $s (f64.convert_i32_s (i32.sub (i32.const 1) (i32.and (i32.shr_u (local.get $w0) (i32.const 7)) (i32.const 2)))))
    (if (f64.lt (local.get $J) (f64.load (local.get $o)))
      (then
        (global.set $q (local.get $p))
        (return (call $signed (local.get $k) (local.get $s)))))
    ;; The base layer's tail, the guard k >= W: the TS.
    (if (i32.eqz (i32.and (local.get $w0) (i32.const 255))) (then (return (f64.const inf))))
    (if (f64.ge (local.get $k) (f64.load offset=24 (local.get $o))) (then (return (f64.const inf))))
    ;; The wedge: x = k^2 / (2 sigma^2); a fresh 53-bit U from the buffer.
    (local.set $x (f64.div (f64.mul (local.get $k) (local.get $k)) (f64.load (i32.const 17944))))
    (if (i32.eqz (f64.lt (local.get $x) (f64.const 48))) (then (return (f64.const inf))))
    (if (i32.gt_u (i32.add (local.get $p) (i32.const 2)) (local.get $end)) (then (return (f64.const inf))))
    (local.set $u (call $word53 (local.get $p)))
    (local.set $p (i32.add (local.get $p) (i32.const 2)))
    ;; e = expNegApprox(x): e^{-n} * e^{-j/64} * (degree-6 Taylor of e^{-r}), as exp-bernoulli.ts.
    (local.set $n (f64.floor (local.get $x)))
    (local.set $f (f64.sub (local.get $x) (local.get $n)))
    (local.set $j (f64.floor (f64.mul (local.get $f) (f64.const 64))))
    (local.set $r (f64.sub (local.get $f) (f64.mul (local.get $j) (f64.const 0x1p-6))))
    (local.set $e
      (f64.mul
        (f64.mul
          (f64.load offset=16384 (i32.shl (i32.trunc_f64_s (local.get $n)) (i32.const 3)))
          (f64.load offset=17408 (i32.shl (i32.trunc_f64_s (local.get $j)) (i32.const 3))))
        (f64.sub (f64.const 1)
          (f64.mul (local.get $r)
            (f64.sub (f64.const 1)
              (f64.mul (local.get $r)
                (f64.sub (f64.const 0.5)
                  (f64.mul (local.get $r)
                    (f64.sub (f64.load (i32.const 17920))
                      (f64.mul (local.get $r)
                        (f64.sub (f64.load (i32.const 17928))
                          (f64.mul (local.get $r)
                            (f64.sub (f64.load (i32.const 17936))
                              (f64.div (local.get $r) (f64.const 720)))))))))))))))
    (local.set $h (f64.load offset=40 (local.get $o)))
    (local.set $y (f64.load offset=32 (local.get $o)))
    ;; Accept iff ((u + 1)/2^53)*h + y + tol <= e*(1 - tol); reject iff (u/2^53)*h + y - tol >= e*(1 + tol).
    ;; (A division by a power of two is done as the multiplication by its exact inverse, here and for
    ;; j/64 above: both are the correctly rounded value of the same real number, the results being normal.)
    (if (f64.le
          (f64.add (f64.add (f64.mul (f64.mul (f64.add (local.get $u) (f64.const 1)) (f64.const 0x1p-53)) (local.get $h))
            (local.get $y)) (local.get $tol))
          (f64.mul (local.get $e) (f64.sub (f64.const 1) (local.get $tol))))
      (then
        (global.set $q (local.get $p))
        (return (call $signed (local.get $k) (local.get $s)))))
    (if (f64.ge
          (f64.sub (f64.add (f64.mul (f64.mul (local.get $u) (f64.const 0x1p-53)) (local.get $h)) (local.get $y))
            (local.get $tol))
          (f64.mul (local.get $e) (f64.add (f64.const 1) (local.get $tol))))
      (then
        (global.set $q (local.get $p))
        (return (f64.const nan))))
    (f64.const inf))

  ;; Writes samples to out64[i, n).
  (func (export "fill") (param $p i32) (param $end i32) (param $i i32) (param $n i32) (param $tol f64) (result i32)
    (local $w0 i32) (local $J f64) (local $o i32) (local $k f64) (local $z f64) (local $gaveUp i32) (local $ok i32)
    (local $stop i32)
    (block $done
      (loop $batch
        ;; At most min(n - i, (end - p) / 2) proposals, each writing at most one sample: one bound per
        ;; proposal (p < stop) instead of two; another batch while samples are owed and words remain.
        (local.set $stop (i32.sub (local.get $end) (local.get $p)))
        (local.set $stop (i32.shr_u (local.get $stop) (i32.const 1)))
        (if (i32.lt_u (i32.sub (local.get $n) (local.get $i)) (local.get $stop))
          (then (local.set $stop (i32.sub (local.get $n) (local.get $i)))))
        (br_if $done (i32.eqz (local.get $stop)))
        (local.set $stop (i32.add (local.get $p) (i32.shl (local.get $stop) (i32.const 1))))
        (loop $next
          (local.set $w0 (i32.load offset=18432 (i32.shl (local.get $p) (i32.const 2))))
          (local.set $J
            (f64.convert_i64_s
              (i64.or
                (i64.shl (i64.extend_i32_u (i32.shr_u (local.get $w0) (i32.const 11))) (i64.const 32))
                (i64.load32_u offset=18436 (i32.shl (local.get $p) (i32.const 2))))))
          (local.set $p (i32.add (local.get $p) (i32.const 2)))
          (local.set $o (i32.shl (i32.and (local.get $w0) (i32.const 255)) (i32.const 6)))
          (if (f64.lt (local.get $J) (f64.load (local.get $o)))
            (then
              ;; k = 0 (J < Q) with the sign bit set: rejected (the sample is written but not counted).
              (local.set $ok
                (i32.xor (i32.and (f64.lt (local.get $J) (f64.load offset=8 (local.get $o))) (i32.shr_u (local.get $w0) (i32.const 8)))
                  (i32.const 1)))
              (local.set $k (f64.floor (f64.div (local.get $J) (f64.load offset=8 (local.get $o)))))
              ;; k * (1 - 2*bit8): bit 8 of w0 moved to the sign bit of k (k >= 0; -k when set).
              (local.set $z
                (f64.reinterpret_i64
                  (i64.or (i64.reinterpret_f64 (local.get $k))
                    (i64.shl (i64.extend_i32_u (i32.and (local.get $w0) (i32.const 256))) (i64.const 55))))))
            (else
              (local.set $z (call $slow (local.get $p) (local.get $end) (local.get $w0) (local.get $J) (local.get $tol)))
              (if (f64.eq (local.get $z) (f64.const inf))
                (then
                  (local.set $gaveUp (i32.const 1))
                  (br $done)))
              (local.set $p (global.get $q))
              (local.set $ok (f64.eq (local.get $z) (local.get $z)))))
          (f64.store offset=83968 (i32.shl (local.get $i) (i32.const 3)) (local.get $z))
          (local.set $i (i32.add (local.get $i) (local.get $ok)))
          (br_if $next (i32.lt_u (local.get $p) (local.get $stop))))
        (br $batch)))
    (i32.or (i32.or (i32.shl (local.get $p) (i32.const 16)) (i32.shl (local.get $i) (i32.const 1))) (local.get $gaveUp)))

  ;; One entry of the fused add in scalar f64 (the lanes' arithmetic of `combine` and `add`, lane by
  ;; lane the same IEEE operations): s32[i] = f32(((roundHalfUp(s32[i] * inv) + z) * scale) / div).
  (func $comb1 (param $i i32) (param $z f64) (param $inv f64) (param $scale f64) (param $div f64) (param $recip f64)
    (param $pow2 i32)
    (local $x f64) (local $r f64) (local $q f64) (local $v f64)
    (local.set $x (f64.mul (f64.promote_f32 (f32.load offset=149504 (i32.shl (local.get $i) (i32.const 2)))) (local.get $inv)))
    (local.set $r (f64.floor (f64.add (local.get $x) (f64.const 0.5))))
    (if (f64.gt (f64.sub (local.get $r) (f64.const 0.5)) (local.get $x))
      (then
        (local.set $q (f64.nearest (local.get $x)))
        (local.set $r
          (f64.add (local.get $q) (f64.convert_i32_u (f64.eq (f64.sub (local.get $x) (local.get $q)) (f64.const 0.5)))))))
    (local.set $v (f64.mul (f64.add (local.get $r) (local.get $z)) (local.get $scale)))
    (f32.store offset=149504 (i32.shl (local.get $i) (i32.const 2))
      (f32.demote_f64
        (if (result f64) (local.get $pow2)
          (then (f64.mul (local.get $v) (local.get $recip)))
          (else (f64.div (local.get $v) (local.get $div)))))))

  ;; The fused add in one pass (issue 19): the proposals of `fill`, in the same order on the same
  ;; words, each accepted sample z added to s32[i] at once with `combine`'s arithmetic (no f64
  ;; window written or read back). Two proposals per step in f64x2 lanes while both are fast accepts
  ;; (J < F*Q) and neither is the rejected (negative, 0); otherwise both proposals of the pair the
  ;; scalar way (the loop of `fill`, $slow, $comb1) and back to pairs, so proposals and samples keep
  ;; their order.
  ;; A pair's J: the words (w0, w1) of a lane as an i64 w0 + w1*2^32; the doubles with the bits
  ;; 0x45300000_00000000 | (w0 >>> 11) = 2^84 + (w0 >>> 11)*2^32 and 0x43300000_00000000 | w1 =
  ;; 2^52 + w1 give J = (first - (2^84 + 2^52)) + second: the subtraction's exact value
  ;; (w0 >>> 11)*2^32 - 2^52 is an integer below 2^53 in magnitude (a double), the sum is the
  ;; integer J < 2^53 (a double): both exact. k = floor(J / Q) lane-wise, the division of `fill`.
  ;; round()'s exact fallback is skipped when halfExact = 1, which the TS passes only when inv is a
  ;; power of two: then x = s * inv (s a float32) has at most 24 significant bits, and floor(x + 0.5)
  ;; is already roundHalfUp(x), because x + 0.5 is exact or harmless: for |x| < 2^-30 (subnormal x
  ;; included) the sum rounds into (0, 1) (floor 0, the exact answer); for 2^-30 <= |x| < 2^52 the
  ;; exact sum spans at most 53 bits (from the lower of x's last bit and 2^-1 up to below 2^52); for
  ;; |x| >= 2^52, x is an integer, and even where |x| < 2^53 (a multiple of 2^29), so x + 0.5 rounds
  ;; (ties to even) back to x. For a non-finite x the fallback's test is false anyway.
  ;; Returns as `fill` (p << 16) | (i << 1) | gaveUp; on giving up, s32[i] is untouched.
  (func (export "add") (param $p i32) (param $end i32) (param $i i32) (param $n i32) (param $tol f64)
    (param $inv f64) (param $scale f64) (param $div f64) (param $recip f64) (param $pow2 i32) (param $halfExact i32) (result i32)
    (local $w0 i32) (local $J f64) (local $o i32) (local $ob i32) (local $z f64) (local $gaveUp i32) (local $ok i32)
    (local $pend i32) (local $stop i32) (local $v v128) (local $jj v128) (local $qq v128) (local $x v128)
    (local $r v128) (local $m v128) (local $q v128) (local $y v128)
    (local $vinv v128) (local $vscale v128) (local $vdiv v128) (local $vrecip v128)
    (local.set $vinv (f64x2.splat (local.get $inv)))
    (local.set $vscale (f64x2.splat (local.get $scale)))
    (local.set $vdiv (f64x2.splat (local.get $div)))
    (local.set $vrecip (f64x2.splat (local.get $recip)))
    (block $done
      (loop $outer
        ;; Pairs while at least two samples are owed and four words remain.
        (local.set $stop (i32.shr_u (i32.sub (local.get $end) (local.get $p)) (i32.const 2)))
        (if (i32.lt_u (i32.shr_u (i32.sub (local.get $n) (local.get $i)) (i32.const 1)) (local.get $stop))
          (then (local.set $stop (i32.shr_u (i32.sub (local.get $n) (local.get $i)) (i32.const 1)))))
        (local.set $pend (i32.const 1))
        (if (local.get $stop)
          (then
            (local.set $stop (i32.add (local.get $p) (i32.shl (local.get $stop) (i32.const 2))))
            (block $scalar
              (loop $pair
                (local.set $v (v128.load offset=18432 (i32.shl (local.get $p) (i32.const 2))))
                (local.set $jj
                  (f64x2.add
                    (f64x2.sub
                      (v128.or (v128.and (i32x4.shr_u (local.get $v) (i32.const 11)) (v128.const i64x2 0xffffffff 0xffffffff))
                        (v128.const i64x2 0x4530000000000000 0x4530000000000000))
                      (v128.const f64x2 0x1.00000001p+84 0x1.00000001p+84))
                    (v128.or (i64x2.shr_u (local.get $v) (i32.const 32)) (v128.const i64x2 0x4330000000000000 0x4330000000000000))))
                (local.set $o (i32.shl (i32.and (i32.load offset=18432 (i32.shl (local.get $p) (i32.const 2))) (i32.const 255)) (i32.const 6)))
                (local.set $ob (i32.shl (i32.and (i32.load offset=18440 (i32.shl (local.get $p) (i32.const 2))) (i32.const 255)) (i32.const 6)))
                (local.set $qq (v128.load64_lane offset=8 1 (local.get $ob) (v128.load64_zero offset=8 (local.get $o))))
                ;; k with bit 8 of the lane's w0 as its sign bit: -0 exactly for the rejected (negative, 0).
                (local.set $y
                  (v128.or (f64x2.floor (f64x2.div (local.get $jj) (local.get $qq)))
                    (v128.and (i64x2.shl (local.get $v) (i32.const 55)) (v128.const i64x2 0x8000000000000000 0x8000000000000000))))
                ;; Back to one proposal at a time unless both are fast accepts (J < F*Q) and neither is -0.
                ;; (Both proposals of a broken pair go the scalar way: one exit per proposal given back.)
                (if
                  (i64x2.bitmask
                    (v128.or
                      (f64x2.ge (local.get $jj) (v128.load64_lane 1 (local.get $ob) (v128.load64_zero (local.get $o))))
                      (i64x2.eq (local.get $y) (v128.const i64x2 0x8000000000000000 0x8000000000000000))))
                  (then
                    (local.set $pend (i32.const 2))
                    (br $scalar)))
                ;; combine's arithmetic on the pair.
                (local.set $x
                  (f64x2.mul
                    (f64x2.promote_low_f32x4 (v128.load64_zero offset=149504 (i32.shl (local.get $i) (i32.const 2))))
                    (local.get $vinv)))
                (local.set $r (f64x2.floor (f64x2.add (local.get $x) (v128.load (i32.const 17952)))))
                ;; round()'s exact fallback, unless halfExact (inv a power of two: see above).
                (if (i32.eqz (local.get $halfExact))
                  (then
                    (local.set $m (f64x2.gt (f64x2.sub (local.get $r) (v128.load (i32.const 17952))) (local.get $x)))
                    (if (v128.any_true (local.get $m))
                      (then
                        (local.set $q (f64x2.nearest (local.get $x)))
                        (local.set $q
                          (f64x2.add (local.get $q)
                            (v128.and (f64x2.eq (f64x2.sub (local.get $x) (local.get $q)) (v128.load (i32.const 17952)))
                              (v128.load (i32.const 17968)))))
                        (local.set $r (v128.bitselect (local.get $q) (local.get $r) (local.get $m)))))))
                (local.set $y (f64x2.mul (f64x2.add (local.get $r) (local.get $y)) (local.get $vscale)))
                (local.set $y
                  (if (result v128) (local.get $pow2)
                    (then (f64x2.mul (local.get $y) (local.get $vrecip)))
                    (else (f64x2.div (local.get $y) (local.get $vdiv)))))
                (v128.store64_lane offset=149504 0 (i32.shl (local.get $i) (i32.const 2)) (f32x4.demote_f64x2_zero (local.get $y)))
                (local.set $i (i32.add (local.get $i) (i32.const 2)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br_if $pair (i32.lt_u (local.get $p) (local.get $stop)))
                (br $outer)))))
        ;; $pend proposals the scalar way (fill's loop body), or the end of the samples or the words.
        (loop $one
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (br_if $done (i32.gt_u (i32.add (local.get $p) (i32.const 2)) (local.get $end)))
        (local.set $w0 (i32.load offset=18432 (i32.shl (local.get $p) (i32.const 2))))
        (local.set $J
          (f64.convert_i64_s
            (i64.or
              (i64.shl (i64.extend_i32_u (i32.shr_u (local.get $w0) (i32.const 11))) (i64.const 32))
              (i64.load32_u offset=18436 (i32.shl (local.get $p) (i32.const 2))))))
        (local.set $p (i32.add (local.get $p) (i32.const 2)))
        (local.set $o (i32.shl (i32.and (local.get $w0) (i32.const 255)) (i32.const 6)))
        (if (f64.lt (local.get $J) (f64.load (local.get $o)))
          (then
            (local.set $ok
              (i32.xor (i32.and (f64.lt (local.get $J) (f64.load offset=8 (local.get $o))) (i32.shr_u (local.get $w0) (i32.const 8)))
                (i32.const 1)))
            (local.set $z
              (f64.reinterpret_i64
                (i64.or (i64.reinterpret_f64 (f64.floor (f64.div (local.get $J) (f64.load offset=8 (local.get $o)))))
                  (i64.shl (i64.extend_i32_u (i32.and (local.get $w0) (i32.const 256))) (i64.const 55))))))
          (else
            (local.set $z (call $slow (local.get $p) (local.get $end) (local.get $w0) (local.get $J) (local.get $tol)))
            (if (f64.eq (local.get $z) (f64.const inf))
              (then
                (local.set $gaveUp (i32.const 1))
                (br $done)))
            (local.set $p (global.get $q))
            (local.set $ok (f64.eq (local.get $z) (local.get $z)))))
        (if (local.get $ok)
          (then
            (call $comb1 (local.get $i) (local.get $z) (local.get $inv) (local.get $scale) (local.get $div) (local.get $recip)
              (local.get $pow2))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))))
        (local.set $pend (i32.sub (local.get $pend) (i32.const 1)))
        (br_if $one (local.get $pend)))
        (br $outer)))
    (i32.or (i32.or (i32.shl (local.get $p) (i32.const 16)) (i32.shl (local.get $i) (i32.const 1))) (local.get $gaveUp)))

  ;; 1 when every entry of the f32 window s32[0, n) is finite, else 0 (issue 19: the check of
  ;; addGaussianNoiseInPlace before any noise is drawn). An f32 is not finite iff its exponent bits are
  ;; all ones: (bits & 0x7f800000) = 0x7f800000, tested four lanes at a time, the rest one by one.
  (func (export "finite") (param $n i32) (result i32)
    (local $i i32) (local $acc v128) (local $bad i32) (local $n4 i32)
    (local.set $n4 (i32.and (local.get $n) (i32.const -4)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n4)))
        (local.set $acc
          (v128.or (local.get $acc)
            (i32x4.eq
              (v128.and (v128.load offset=149504 (i32.shl (local.get $i) (i32.const 2))) (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))
              (v128.const i32x4 0x7f800000 0x7f800000 0x7f800000 0x7f800000))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $next)))
    (local.set $bad (v128.any_true (local.get $acc)))
    (block $end
      (loop $tail
        (br_if $end (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $bad
          (i32.or (local.get $bad)
            (i32.eq (i32.and (i32.load offset=149504 (i32.shl (local.get $i) (i32.const 2))) (i32.const 0x7f800000)) (i32.const 0x7f800000))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $tail)))
    (i32.eqz (local.get $bad)))

  ;; The fused add's second pass, two entries per step in f64x2 lanes: s32[j] = f32(((roundHalfUp(
  ;; s32[j] * inv) + z[j]) * scale) / div) for j in [0, n) (n rounded up to even: the window has room),
  ;; with z the window `fill` wrote. roundHalfUp as src/math/round.ts: floor(x + 0.5), and in the
  ;; lanes where that is one too large (floor - 0.5 > x) the exact Math.round(x): nearest(x) (ties to
  ;; even), plus one on a tie it took downwards (x - nearest(x) = 0.5; the difference is exact).
  ;; When div is a power of two the TS passes recip = 1/div (exact) and pow2 = 1, and the division is
  ;; a multiplication by recip: both are the correctly rounded value of the same real number.
  ;; Lane-wise IEEE operations, no contraction: each entry gets the doubles the scalar TS computes.
  (func (export "combine") (param $n i32) (param $inv f64) (param $scale f64) (param $div f64) (param $recip f64)
    (param $pow2 i32)
    (local $i i32) (local $x v128) (local $r v128) (local $m v128) (local $q v128) (local $v v128)
    (local $vinv v128) (local $vscale v128) (local $vdiv v128) (local $vrecip v128) (local $half v128) (local $one v128)
    (local.set $vinv (f64x2.splat (local.get $inv)))
    (local.set $vscale (f64x2.splat (local.get $scale)))
    (local.set $vdiv (f64x2.splat (local.get $div)))
    (local.set $vrecip (f64x2.splat (local.get $recip)))
    (local.set $half (f64x2.splat (f64.const 0.5)))
    (local.set $one (f64x2.splat (f64.const 1)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $x
          (f64x2.mul
            (f64x2.promote_low_f32x4 (v128.load64_zero offset=149504 (i32.shl (local.get $i) (i32.const 2))))
            (local.get $vinv)))
        (local.set $r (f64x2.floor (f64x2.add (local.get $x) (local.get $half))))
        (local.set $m (f64x2.gt (f64x2.sub (local.get $r) (local.get $half)) (local.get $x)))
        (if (v128.any_true (local.get $m))
          (then
            (local.set $q (f64x2.nearest (local.get $x)))
            (local.set $q
              (f64x2.add (local.get $q)
                (v128.and (f64x2.eq (f64x2.sub (local.get $x) (local.get $q)) (local.get $half)) (local.get $one))))
            (local.set $r (v128.bitselect (local.get $q) (local.get $r) (local.get $m)))))
        (local.set $v
          (f64x2.mul
            (f64x2.add (local.get $r) (v128.load offset=83968 (i32.shl (local.get $i) (i32.const 3))))
            (local.get $vscale)))
        (local.set $v
          (if (result v128) (local.get $pow2)
            (then (f64x2.mul (local.get $v) (local.get $vrecip)))
            (else (f64x2.div (local.get $v) (local.get $vdiv)))))
        (v128.store64_lane offset=149504 0 (i32.shl (local.get $i) (i32.const 2)) (f32x4.demote_f64x2_zero (local.get $v)))
        (local.set $i (i32.add (local.get $i) (i32.const 2)))
        (br $next))))
)
