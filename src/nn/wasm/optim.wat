;; Fused optimizer kernels for one particle row, in float32 with 128-bit SIMD
;; (f32x4) and a scalar loop for the last n % 4 values. The memory is imported:
;; each caller brings its own (see src/nn/wasm/optim-kernel.ts), and every
;; pointer is a byte offset into it, 4-byte aligned.
;;
;; Update rules follow PyTorch's single-tensor Adam/AdamW/SGD, operation by
;; operation, in the same order (torch.optim.adam / sgd, float32 tensors):
;;   adam:  p *= decay                       (AdamW: 1 - lr*wd; Adam: 1, exact)
;;          g = sign*g (+ l2*p if l2 != 0)   (maximize; Adam's L2 decay)
;;          m = m + w1*(g - m)               (exp_avg.lerp_(g, 1 - beta1))
;;          v = v*b2 + (w2*g)*g              (exp_avg_sq.mul_(beta2).addcmul_(g, g, 1 - beta2))
;;          p = p + negStep*(m / (sqrt(v)/bc2 + eps))   (param.addcdiv_(m, denom, -stepSize))
;;   sgd:   g = sign*g (+ wd*p if wd != 0)
;;          b = first ? g : b*mom + damp*g   (buf.mul_(momentum).add_(g, 1 - dampening))
;;          g = nesterov ? g + mom*b : b
;;          p = p + negLr*g
;; Per-row scalars (stepSize, bc2 = sqrt(1 - beta2^step), decay) come from
;; JS, computed in double.
;;
;; Regenerate the committed bytes after editing: npm run build:wasm
(module
  (import "env" "memory" (memory 1))

  (func (export "adam")
    (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $w1 f32) (param $b2 f32) (param $w2 f32) (param $negStep f32) (param $bc2 f32)
    (param $eps f32) (param $decay f32) (param $l2 f32) (param $sign f32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $useL2 i32)
    (local $P v128) (local $G v128) (local $M v128) (local $V v128)
    (local $W1 v128) (local $B2 v128) (local $W2 v128) (local $NS v128) (local $BC2 v128)
    (local $EPS v128) (local $DEC v128) (local $L2 v128) (local $SIGN v128)
    (local $ps f32) (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $useL2 (f32.ne (local.get $l2) (f32.const 0)))
    (local.set $W1 (f32x4.splat (local.get $w1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $W2 (f32x4.splat (local.get $w2)))
    (local.set $NS (f32x4.splat (local.get $negStep)))
    (local.set $BC2 (f32x4.splat (local.get $bc2)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $DEC (f32x4.splat (local.get $decay)))
    (local.set $L2 (f32x4.splat (local.get $l2)))
    (local.set $SIGN (f32x4.splat (local.get $sign)))
    ;; $i walks byte offsets from 0; [0, end4) in steps of 16, then [end4, end) in steps of 4.
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (local.set $i (i32.const 0))
    (block $done4
      (loop $vec
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $P (f32x4.mul
          (v128.load align=4 (i32.add (local.get $p) (local.get $i)))
          (local.get $DEC)))
        (local.set $G (f32x4.mul
          (v128.load align=4 (i32.add (local.get $g) (local.get $i)))
          (local.get $SIGN)))
        (if (local.get $useL2)
          (then (local.set $G (f32x4.add (local.get $G) (f32x4.mul (local.get $L2) (local.get $P))))))
        (local.set $M (v128.load align=4 (i32.add (local.get $m) (local.get $i))))
        (local.set $M (f32x4.add (local.get $M)
          (f32x4.mul (local.get $W1) (f32x4.sub (local.get $G) (local.get $M)))))
        (local.set $V (f32x4.add
          (f32x4.mul (v128.load align=4 (i32.add (local.get $v) (local.get $i))) (local.get $B2))
          (f32x4.mul (f32x4.mul (local.get $W2) (local.get $G)) (local.get $G))))
        (v128.store align=4 (i32.add (local.get $m) (local.get $i)) (local.get $M))
        (v128.store align=4 (i32.add (local.get $v) (local.get $i)) (local.get $V))
        (v128.store align=4 (i32.add (local.get $p) (local.get $i))
          (f32x4.add (local.get $P)
            (f32x4.mul (local.get $NS)
              (f32x4.div (local.get $M)
                (f32x4.add (f32x4.div (f32x4.sqrt (local.get $V)) (local.get $BC2)) (local.get $EPS))))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $ps (f32.mul (f32.load (i32.add (local.get $p) (local.get $i))) (local.get $decay)))
        (local.set $gs (f32.mul (f32.load (i32.add (local.get $g) (local.get $i))) (local.get $sign)))
        (if (local.get $useL2)
          (then (local.set $gs (f32.add (local.get $gs) (f32.mul (local.get $l2) (local.get $ps))))))
        (local.set $ms (f32.load (i32.add (local.get $m) (local.get $i))))
        (local.set $ms (f32.add (local.get $ms)
          (f32.mul (local.get $w1) (f32.sub (local.get $gs) (local.get $ms)))))
        (local.set $vs (f32.add
          (f32.mul (f32.load (i32.add (local.get $v) (local.get $i))) (local.get $b2))
          (f32.mul (f32.mul (local.get $w2) (local.get $gs)) (local.get $gs))))
        (f32.store (i32.add (local.get $m) (local.get $i)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $i)) (local.get $vs))
        (f32.store (i32.add (local.get $p) (local.get $i))
          (f32.add (local.get $ps)
            (f32.mul (local.get $negStep)
              (f32.div (local.get $ms)
                (f32.add (f32.div (f32.sqrt (local.get $vs)) (local.get $bc2)) (local.get $eps))))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail))))

  ;; $buf is ignored (may be 0) when $mom is 0. $first: 1 on the buffer's first step.
  (func (export "sgd")
    (param $p i32) (param $g i32) (param $buf i32) (param $n i32)
    (param $negLr f32) (param $wd f32) (param $mom f32) (param $damp f32) (param $sign f32)
    (param $first i32) (param $nesterov i32)
    (local $i i32) (local $end i32) (local $end4 i32) (local $useWd i32) (local $useMom i32)
    (local $P v128) (local $G v128) (local $B v128)
    (local $NL v128) (local $WD v128) (local $MOM v128) (local $DAMP v128) (local $SIGN v128)
    (local $ps f32) (local $gs f32) (local $bs f32)
    (local.set $useWd (f32.ne (local.get $wd) (f32.const 0)))
    (local.set $useMom (f32.ne (local.get $mom) (f32.const 0)))
    (local.set $NL (f32x4.splat (local.get $negLr)))
    (local.set $WD (f32x4.splat (local.get $wd)))
    (local.set $MOM (f32x4.splat (local.get $mom)))
    (local.set $DAMP (f32x4.splat (local.get $damp)))
    (local.set $SIGN (f32x4.splat (local.get $sign)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $end4 (i32.and (local.get $end) (i32.const -16)))
    (local.set $i (i32.const 0))
    (block $done4
      (loop $vec
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $P (v128.load align=4 (i32.add (local.get $p) (local.get $i))))
        (local.set $G (f32x4.mul
          (v128.load align=4 (i32.add (local.get $g) (local.get $i)))
          (local.get $SIGN)))
        (if (local.get $useWd)
          (then (local.set $G (f32x4.add (local.get $G) (f32x4.mul (local.get $WD) (local.get $P))))))
        (if (local.get $useMom)
          (then
            (if (local.get $first)
              (then (local.set $B (local.get $G)))
              (else (local.set $B (f32x4.add
                (f32x4.mul (v128.load align=4 (i32.add (local.get $buf) (local.get $i))) (local.get $MOM))
                (f32x4.mul (local.get $DAMP) (local.get $G))))))
            (v128.store align=4 (i32.add (local.get $buf) (local.get $i)) (local.get $B))
            (if (local.get $nesterov)
              (then (local.set $G (f32x4.add (local.get $G) (f32x4.mul (local.get $MOM) (local.get $B)))))
              (else (local.set $G (local.get $B))))))
        (v128.store align=4 (i32.add (local.get $p) (local.get $i))
          (f32x4.add (local.get $P) (f32x4.mul (local.get $NL) (local.get $G))))
        (local.set $i (i32.add (local.get $i) (i32.const 16)))
        (br $vec)))
    (block $done
      (loop $tail
        (br_if $done (i32.ge_u (local.get $i) (local.get $end)))
        (local.set $ps (f32.load (i32.add (local.get $p) (local.get $i))))
        (local.set $gs (f32.mul (f32.load (i32.add (local.get $g) (local.get $i))) (local.get $sign)))
        (if (local.get $useWd)
          (then (local.set $gs (f32.add (local.get $gs) (f32.mul (local.get $wd) (local.get $ps))))))
        (if (local.get $useMom)
          (then
            (if (local.get $first)
              (then (local.set $bs (local.get $gs)))
              (else (local.set $bs (f32.add
                (f32.mul (f32.load (i32.add (local.get $buf) (local.get $i))) (local.get $mom))
                (f32.mul (local.get $damp) (local.get $gs))))))
            (f32.store (i32.add (local.get $buf) (local.get $i)) (local.get $bs))
            (if (local.get $nesterov)
              (then (local.set $gs (f32.add (local.get $gs) (f32.mul (local.get $mom) (local.get $bs)))))
              (else (local.set $gs (local.get $bs))))))
        (f32.store (i32.add (local.get $p) (local.get $i))
          (f32.add (local.get $ps) (f32.mul (local.get $negLr) (local.get $gs))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $tail)))))
