;; Four imports nobody provides: instantiation must name all four.
(module
  (import "env" "log" (func (param i32)))
  (import "env" "memory" (memory 1))
  (import "env" "seed" (global (mut i64)))
  (import "sys" "table" (table 2 10 externref))
)
