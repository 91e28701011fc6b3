;; Exports one of each kind, for the instance tests to import from.
(module
  (memory (export "memory") 1 2)
  (table (export "table") 4 funcref)
  (global (export "answer") i32 (i32.const 42))
  (global (export "counter") (mut i64) (i64.const 7))
  (func (export "add") (param i32 i32) (result i32)
    (i32.add (local.get 0) (local.get 1)))
  (func (export "load") (param i32) (result i32)
    (i32.load8_u (local.get 0)))
)
