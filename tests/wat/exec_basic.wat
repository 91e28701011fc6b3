;; exec_basic — what every Wasm program relies on: arithmetic, recursion, loops,
;; memory, globals, tables and indirect calls, multi-value, host imports, and calls
;; that cross from one instance into another.
(module
  (import "host" "add_one" (func $host_add_one (param i32) (result i32)))
  (import "host" "swap" (func $host_swap (param i64 f64) (result f64 i64)))
  (memory (export "memory") 1 4)
  (global $counter (mut i32) (i32.const 0))
  (global (export "answer") i32 (i32.const 42))
  (table $t 4 funcref)
  (elem (i32.const 0) $square $negate $fib)
  (type $unary (func (param i32) (result i32)))

  (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func $negate (param i32) (result i32) (i32.sub (i32.const 0) (local.get 0)))

  (func $fib (export "fib") (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; sum of i * i for i in [0, n), with an i64 accumulator
  (func (export "sum_squares") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc)
                                 (i64.extend_i32_u (i32.mul (local.get $i) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))

  ;; writes n bytes 0..n-1 at 100, then sums them back as i32 loads of 4 bytes
  (func (export "memory_roundtrip") (param $n i32) (result i32)
    (local $i i32) (local $sum i32)
    (block $w (loop $l
      (br_if $w (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 offset=100 (local.get $i) (local.get $i))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.set $i (i32.const 0))
    (block $r (loop $l
      (br_if $r (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $sum (i32.add (local.get $sum) (i32.load offset=100 (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 4)))
      (br $l)))
    (local.get $sum))

  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size))

  (func (export "bump") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter))

  (func (export "apply") (param $f i32) (param $x i32) (result i32)
    (call_indirect (type $unary) (local.get $x) (local.get $f)))

  (func (export "divmod") (param i32 i32) (result i32 i32)
    (i32.div_u (local.get 0) (local.get 1))
    (i32.rem_u (local.get 0) (local.get 1)))

  ;; a block with parameters and two results, and br_table over them
  (func (export "pick") (param $k i32) (result i32 i32)
    (i32.const 10) (i32.const 20)
    (block $b (param i32 i32) (result i32 i32)
      (block $a (param i32 i32) (result i32 i32)
        (br_table $a $b (local.get $k)))
      (drop) (drop) (i32.const 1) (i32.const 2)))

  (func (export "via_host") (param i32) (result i32)
    (i32.mul (call $host_add_one (local.get 0)) (i32.const 2)))

  (func (export "swap_via_host") (param i64 f64) (result f64 i64)
    (call $host_swap (local.get 0) (local.get 1)))

  (func (export "f32_ops") (param f32 f32) (result f32)
    (f32.add (f32.mul (local.get 0) (local.get 1)) (f32.sqrt (local.get 1))))

  (func (export "select_max") (param i64 i64) (result i64)
    (select (local.get 0) (local.get 1) (i64.gt_s (local.get 0) (local.get 1))))

  ;; the local is overwritten while its old value is still on the stack
  (func (export "old_value_kept") (param $x i32) (result i32)
    (local.get $x)
    (local.set $x (i32.const 1000))
    (i32.sub (local.get $x)))
)
