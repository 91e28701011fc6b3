;; The first data segment fits the imported one-page memory, the second does not.
(module
  (import "provider" "memory" (memory 1))
  (data (i32.const 0) "hi")
  (data (i32.const 65535) "xy")
)
