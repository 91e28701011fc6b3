;; exec_callee — a second module whose functions and memory exec_caller imports,
;; so calls cross between instances (each with its own globals and memory).
(module
  (memory (export "mem") 1)
  (global $calls (mut i32) (i32.const 0))
  (func (export "store_and_count") (param $addr i32) (param $v i32) (result i32)
    (i32.store (local.get $addr) (local.get $v))
    (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
    (global.get $calls))
  (func (export "grow_by") (param i32) (result i32) (memory.grow (local.get 0))))
