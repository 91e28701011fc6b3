;; limits_work — long computations to run out of fuel, time, stack and memory on.
(module
  (memory 1 100)
  ;; sum_{i < n} (i xor (i >> 3)), as i64: long enough to stop many times
  (func (export "spin") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc)
          (i64.extend_i32_u (i32.xor (local.get $i) (i32.shr_u (local.get $i) (i32.const 3))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  (func (export "forever") (loop $l (br $l)))
  ;; recursion to depth n, returning n
  (func $depth (export "depth") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (i32.const 0))
      (else (i32.add (call $depth (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
)
