;; The first element segment fits the imported 4-entry table, the second runs off its
;; end: instantiation fails, and the first segment's write stays (2.0 semantics).
(module
  (import "provider" "table" (table 4 funcref))
  (func $f (result i32) (i32.const 1))
  (elem (i32.const 0) $f)
  (elem (i32.const 3) $f $f)
)
