;; exec_caller — calls into exec_callee's instance and reads the memory it shares.
(module
  (import "callee" "store_and_count" (func $store (param i32 i32) (result i32)))
  (import "callee" "grow_by" (func $grow (param i32) (result i32)))
  (import "callee" "mem" (memory 1))
  (global $own (mut i32) (i32.const 7))
  (func (export "twice") (param $v i32) (result i32)
    (drop (call $store (i32.const 16) (local.get $v)))
    (i32.add (call $store (i32.const 20) (i32.add (local.get $v) (i32.const 1)))
             (i32.add (i32.load (i32.const 16)) (global.get $own))))
  ;; the callee grows the shared memory; the caller must see the new size at once
  (func (export "grow_then_touch") (result i32)
    (drop (call $grow (i32.const 1)))
    (i32.store (i32.const 70000) (i32.const 5))
    (i32.add (memory.size) (i32.load (i32.const 70000)))))
