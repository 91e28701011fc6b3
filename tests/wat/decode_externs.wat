;; One import and one export of each kind, to check what the module lists.
(module
  (import "env" "print" (func $print (param i32 f64) (result i64)))
  (import "env" "table" (table 1 8 funcref))
  (import "env" "memory" (memory 2))
  (import "env" "flag" (global (mut i32)))
  (func $run (export "run") (param i64))
  (table (export "tab") 3 externref)
  (global (export "pi") f32 (f32.const 3.25))
  (export "mem" (memory 0))
  (export "print_again" (func $print))
)
