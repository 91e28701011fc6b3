;; A module for the orchestrator's module registry tests: two function imports (one
;; WASI, one host), a memory import that is not a requirement, two function exports
;; with their signatures, and a global export that is not a function.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "sys" "millis" (func $millis (result i64)))
  (import "env" "memory" (memory 1))
  (global (export "counter") i32 (i32.const 0))
  (func (export "add") (param i64 i64) (result i64)
    (i64.add (local.get 0) (local.get 1)))
  (func (export "now") (result i64)
    (call $millis))
  (func $internal (param f32) (result f64)
    (f64.promote_f32 (local.get 0))))
