;; supervisor_faults.wat — functions that fail in each way a call can fail, and small
;; ones that succeed, for the supervisor's system tests and benchmarks.
(module
  (memory (export "memory") 1)
  (global $calls (mut i32) (i32.const 0))

  ;; trivial work: the benchmarks' "trivial function"
  (func (export "noop") (result i32)
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (global.get $calls))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "scale") (param f64 f32) (result f64)
    (f64.mul (local.get 0) (f64.promote_f32 (local.get 1))))
  (func (export "nothing"))

  ;; failures
  (func (export "trap") (result i32)
    unreachable)
  (func (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "spin") (result i32)
    (loop $forever (br $forever))
    (i32.const 0))
  ;; grows memory by n pages; -1 when refused
  (func (export "grow") (param i32) (result i32)
    (memory.grow (local.get 0)))
  ;; loops n times: fuel sized by the caller
  (func (export "count") (param i64) (result i64)
    (local $i i64)
    (block $done
      (loop $more
        (br_if $done (i64.ge_u (local.get $i) (local.get 0)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $more)))
    (local.get $i))
)
