;; Writes the imported memory, then traps in its start function: the write stays.
(module
  (import "provider" "memory" (memory 1))
  (data (i32.const 16) "start")
  (func $main unreachable)
  (start $main)
)
