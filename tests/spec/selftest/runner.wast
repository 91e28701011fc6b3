;; A test of `liquid spectest` itself, not of the engine: every assertion marked
;; `expect-fail` is wrong on purpose and the runner must report it as failed, with
;; this line; every other assertion must pass. check_runner.py compares. (wast2json
;; gives a module assertion the line of its `(module`, so the mark goes there.)

(module $M
  (import "spectest" "global_i32" (global $gi32 i32))
  (import "spectest" "global_i64" (global $gi64 i64))
  (import "spectest" "global_f32" (global $gf32 f32))
  (import "spectest" "global_f64" (global $gf64 f64))
  (import "spectest" "print_i32" (func $print_i32 (param i32)))
  (import "spectest" "memory" (memory 1 2))
  (import "spectest" "table" (table 10 20 funcref))
  (global (export "counter") (mut i32) (i32.const 7))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "gi32") (result i32) (global.get $gi32))
  (func (export "gi64") (result i64) (global.get $gi64))
  (func (export "gf32") (result f32) (global.get $gf32))
  (func (export "gf64") (result f64) (global.get $gf64))
  (func (export "f32bits") (param i32) (result f32) (f32.reinterpret_i32 (local.get 0)))
  (func (export "f64bits") (param i64) (result f64) (f64.reinterpret_i64 (local.get 0)))
  (func (export "pair") (result i32 i64) (i32.const 1) (i64.const 2))
  (func (export "print") (param i32) (call $print_i32 (local.get 0)))
  (func (export "trap") (unreachable))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func $recurse (export "recurse") (call $recurse))
  (func (export "pages") (result i32) (memory.size))
  (func (export "table-size") (result i32) (table.size 0))
  (func (export "ext") (param externref) (result externref) (local.get 0))
  (func (export "null-func") (result funcref) (ref.null func))
  (func (export "a") (result i32) (i32.const 1))
  (func (export "a\00b") (result i32) (i32.const 2))
)

(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 3))
(assert_return (invoke "add" (i32.const 1) (i32.const 2)) (i32.const 4))         ;; expect-fail
(assert_return (invoke "add" (i32.const -1) (i32.const 0)) (i32.const 0xffffffff))
(assert_return (invoke "gi32") (i32.const 666))
(assert_return (invoke "gi64") (i64.const 666))
(assert_return (invoke "gf32") (f32.const 666.6))
(assert_return (invoke "gf64") (f64.const 666.6))
(assert_return (invoke "gf64") (f64.const 666.5))                                 ;; expect-fail
(assert_return (invoke "pages") (i32.const 1))
(assert_return (invoke "table-size") (i32.const 10))
(assert_return (get "counter") (i32.const 7))
(assert_return (get "counter") (i32.const 8))                                     ;; expect-fail
(assert_return (invoke "pair") (i32.const 1) (i64.const 2))
(assert_return (invoke "pair") (i32.const 1) (i64.const 3))                       ;; expect-fail

;; Floats compare bit-exactly, except the two NaN patterns.
(assert_return (invoke "f32bits" (i32.const 0x80000000)) (f32.const -0.0))
(assert_return (invoke "f32bits" (i32.const 0x80000000)) (f32.const 0.0))         ;; expect-fail
(assert_return (invoke "f32bits" (i32.const 0x7fc00000)) (f32.const nan:canonical))
(assert_return (invoke "f32bits" (i32.const 0xffc00000)) (f32.const nan:canonical))
(assert_return (invoke "f32bits" (i32.const 0x7fc00001)) (f32.const nan:canonical)) ;; expect-fail
(assert_return (invoke "f32bits" (i32.const 0x7fc00001)) (f32.const nan:arithmetic))
(assert_return (invoke "f32bits" (i32.const 0x7fa00000)) (f32.const nan:arithmetic)) ;; expect-fail
(assert_return (invoke "f32bits" (i32.const 0x7f800000)) (f32.const nan:arithmetic)) ;; expect-fail
(assert_return (invoke "f32bits" (i32.const 0x7fc00001)) (f32.const nan:0x400001))
(assert_return (invoke "f64bits" (i64.const 0x7ff8000000000000)) (f64.const nan:canonical))
(assert_return (invoke "f64bits" (i64.const 0xfff8000000000000)) (f64.const nan:canonical))
(assert_return (invoke "f64bits" (i64.const 0x7ff8000000000001)) (f64.const nan:canonical)) ;; expect-fail
(assert_return (invoke "f64bits" (i64.const 0x7ff8000000000001)) (f64.const nan:arithmetic))
(assert_return (invoke "f64bits" (i64.const 0x7ff4000000000000)) (f64.const nan:arithmetic)) ;; expect-fail

;; References: externref N is one opaque value per N; null is null.
(assert_return (invoke "ext" (ref.extern 1)) (ref.extern 1))
(assert_return (invoke "ext" (ref.extern 1)) (ref.extern 2))                      ;; expect-fail
(assert_return (invoke "ext" (ref.null extern)) (ref.null extern))
(assert_return (invoke "ext" (ref.extern 0)) (ref.null extern))                   ;; expect-fail
(assert_return (invoke "null-func") (ref.null func))

;; Export names are any UTF-8, NUL included: "a\00b" is not "a".
(assert_return (invoke "a\00b") (i32.const 2))
(assert_return (invoke "a\00b") (i32.const 1))                                     ;; expect-fail

;; Traps and exhaustion.
(assert_trap (invoke "trap") "unreachable")
(assert_trap (invoke "div" (i32.const 1) (i32.const 0)) "integer divide by zero")
(assert_trap (invoke "div" (i32.const 1) (i32.const 1)) "integer divide by zero") ;; expect-fail
(assert_return (invoke "trap"))                                                   ;; expect-fail
(assert_exhaustion (invoke "recurse") "call stack exhausted")
(assert_exhaustion (invoke "trap") "call stack exhausted")                        ;; expect-fail
(assert_trap (invoke "recurse") "call stack exhausted")                           ;; expect-fail

;; Actions: a host print succeeds; a trap is a failure. (What wast2json refuses to
;; write, like a missing export or wrong arguments, is in broken.json.)
(invoke "print" (i32.const 42))
(invoke "trap")                                                                   ;; expect-fail

;; Registered instances are importable; a named module stays reachable.
(register "M" $M)
(module $N
  (import "M" "add" (func $add (param i32 i32) (result i32)))
  (import "M" "counter" (global $counter (mut i32)))
  (func (export "add-counter") (param i32) (result i32)
    (call $add (local.get 0) (global.get $counter)))
)
(assert_return (invoke "add-counter" (i32.const 3)) (i32.const 10))
(assert_return (invoke $M "add" (i32.const 2) (i32.const 2)) (i32.const 4))
(assert_return (invoke $N "add-counter" (i32.const 3)) (i32.const 11))            ;; expect-fail

;; Module assertions.
(assert_unlinkable
  (module (import "M" "no-such-export" (func)))
  "unknown import")
(assert_unlinkable
  (module (import "M" "add" (func (param i64))))
  "incompatible import type")
(assert_unlinkable
  (module (func (export "fine")))                                                 ;; expect-fail
  "unknown import")
(assert_trap
  (module (func $start unreachable) (start $start))
  "unreachable")
(assert_trap
  (module (func $start) (start $start))                                           ;; expect-fail
  "unreachable")
(assert_invalid
  (module (func (result i32) (i64.const 1)))
  "type mismatch")
(assert_malformed
  (module binary "\00asm\02\00\00\00")
  "unknown binary version")
(assert_malformed
  (module binary "\00asm\01\00\00\00")                                            ;; expect-fail
  "this module is well-formed")
(assert_malformed
  (module quote "(func")
  "unexpected end")

;; A module that should instantiate but does not fails, and so does what uses it.
(module (import "M" "no-such-export" (func)) (func (export "add")))              ;; expect-fail
(assert_return (invoke "add"))                                                   ;; expect-fail
