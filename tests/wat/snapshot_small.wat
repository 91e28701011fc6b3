;; snapshot_small — a small instance (no memory pages) with a call to stop in the
;; middle of, for checking every way a snapshot can be damaged.
(module
  (memory 0 1)
  (global $g (export "g") (mut funcref) (ref.null func))
  (global $count (export "count") (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $add3)
  (func $add3 (param i32) (result i32) (i32.add (local.get 0) (i32.const 3)))
  ;; 3 * n, through an indirect call per step
  (func (export "steps") (param $n i32) (result i32)
    (local $i i32) (local $acc i32)
    (loop $l
      (local.set $acc (call_indirect (param i32) (result i32) (local.get $acc) (i32.const 0)))
      (global.set $count (i32.add (global.get $count) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc)))
