;; 2-D float32 transpose over tfjs-backend-wasm's own memory (imported: see
;; src/nn/wasm/heap-kernels.ts), for the weight gradients' h^T and x^T.
;; tfjs-wasm's Transpose writes one float per output row in turn (a stride of
;; `rows` floats per store); this one moves 4 x 4 blocks with SIMD shuffles,
;; in column tiles of 64 so the 64 output rows being filled stay in L1.
;;
;; transpose(src, dst, rows, cols): dst[c * rows + r] = src[r * cols + c];
;; src and dst are byte offsets, 4-byte aligned, not overlapping.
;;
;; Regenerate the committed bytes after editing: npm run build:wasm
(module
  (import "env" "memory" (memory 1))

  (func (export "transpose") (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $c0 i32) (local $c1 i32) (local $rows4 i32) (local $cols4 i32)
    (local $s i32) (local $d i32) (local $rs i32) (local $ds i32)
    (local $a v128) (local $b v128) (local $e v128) (local $f v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $rs (i32.shl (local.get $cols) (i32.const 2))) ;; bytes per source row
    (local.set $ds (i32.shl (local.get $rows) (i32.const 2))) ;; bytes per output row
    ;; 4 x 4 blocks, column tile by column tile
    (local.set $c0 (i32.const 0))
    (block $tilesDone
      (loop $tiles
        (br_if $tilesDone (i32.ge_u (local.get $c0) (local.get $cols4)))
        (local.set $c1 (i32.add (local.get $c0) (i32.const 64)))
        (if (i32.gt_u (local.get $c1) (local.get $cols4)) (then (local.set $c1 (local.get $cols4))))
        (local.set $r (i32.const 0))
        (block $rowsDone
          (loop $rowBlocks
            (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rows4)))
            (local.set $c (local.get $c0))
            (block $colsDone
              (loop $colBlocks
                (br_if $colsDone (i32.ge_u (local.get $c) (local.get $c1)))
                ;; s = src + (r * cols + c) * 4
                (local.set $s (i32.add (local.get $src)
                  (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2))))
                (local.set $a (v128.load align=4 (local.get $s)))
                (local.set $b (v128.load align=4 (i32.add (local.get $s) (local.get $rs))))
                (local.set $e (v128.load align=4 (i32.add (local.get $s) (i32.shl (local.get $rs) (i32.const 1)))))
                (local.set $f (v128.load align=4 (i32.add (local.get $s) (i32.mul (local.get $rs) (i32.const 3)))))
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $e) (local.get $f)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $e) (local.get $f)))
                ;; d = dst + (c * rows + r) * 4
                (local.set $d (i32.add (local.get $dst)
                  (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2))))
                (v128.store align=4 (local.get $d)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (v128.store align=4 (i32.add (local.get $d) (local.get $ds))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (v128.store align=4 (i32.add (local.get $d) (i32.shl (local.get $ds) (i32.const 1)))
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (v128.store align=4 (i32.add (local.get $d) (i32.mul (local.get $ds) (i32.const 3)))
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (local.set $c (i32.add (local.get $c) (i32.const 4)))
                (br $colBlocks)))
            (local.set $r (i32.add (local.get $r) (i32.const 4)))
            (br $rowBlocks)))
        (local.set $c0 (local.get $c1))
        (br $tiles)))
    ;; the last rows % 4 rows, all columns
    (local.set $r (local.get $rows4))
    (block $edgeRowsDone
      (loop $edgeRows
        (br_if $edgeRowsDone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (i32.const 0))
        (block $ercDone
          (loop $erc
            (br_if $ercDone (i32.ge_u (local.get $c) (local.get $cols)))
            (call $move (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols) (local.get $r) (local.get $c))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $erc)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $edgeRows)))
    ;; the last cols % 4 columns of the first rows4 rows
    (local.set $r (i32.const 0))
    (block $edgeColsDone
      (loop $edgeCols
        (br_if $edgeColsDone (i32.ge_u (local.get $r) (local.get $rows4)))
        (local.set $c (local.get $cols4))
        (block $ecrDone
          (loop $ecr
            (br_if $ecrDone (i32.ge_u (local.get $c) (local.get $cols)))
            (call $move (local.get $src) (local.get $dst) (local.get $rows) (local.get $cols) (local.get $r) (local.get $c))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $ecr)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $edgeCols))))

  ;; dst[c * rows + r] = src[r * cols + c]
  (func $move (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32) (param $r i32) (param $c i32)
    (f32.store
      (i32.add (local.get $dst) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
      (f32.load (i32.add (local.get $src) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))))
