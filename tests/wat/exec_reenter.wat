;; exec_reenter — a host function called from Wasm that tries to use the exec it
;; was called from.
(module
  (import "host" "reenter" (func $reenter (result i32)))
  (func (export "outer") (result i32) (i32.add (call $reenter) (i32.const 1)))
  (func (export "inner") (result i32) (i32.const 100)))
