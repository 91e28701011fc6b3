;; host_imports.wat — imports every Wasm-IoT host function the supervisor offers and
;; exposes each through an export the unit tests (tests/unit/test_host_*.c) call.
;; Memory map: 0..7 pointer/size slots, 16 "hello, device", 64 "sink", 8192.. static
;; image buffer, 65536.. heap of the bump allocator behind `alloc`.
(module
  (import "sys" "millis" (func $millis (result i32)))
  (import "sys" "delay" (func $delay (param i32)))
  (import "sys" "print" (func $print (param i32 i32)))
  (import "sys" "println" (func $println (param i32 i32)))
  (import "sys" "printInt" (func $print_int (param i32)))
  (import "communication" "rpcCall" (func $rpc (param i32 i32 i32 i32)))
  (import "camera" "takeImageDynamicSize" (func $take_dynamic (param i32 i32)))
  (import "camera" "takeImageStaticSize" (func $take_static (param i32 i32)))
  (import "camera" "takeImage" (func $take_image (param i32 i32)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 65536))
  (data (i32.const 16) "hello, device")
  (data (i32.const 64) "sink")

  (func (export "millis") (result i32) (call $millis))
  (func (export "delay") (param i32) (call $delay (local.get 0)))
  (func (export "print") (param i32 i32) (call $print (local.get 0) (local.get 1)))
  (func (export "println") (param i32 i32) (call $println (local.get 0) (local.get 1)))
  (func (export "print_int") (param i32) (call $print_int (local.get 0)))
  (func (export "rpc") (param i32 i32 i32 i32)
    (call $rpc (local.get 0) (local.get 1) (local.get 2) (local.get 3)))

  ;; A bump allocator that grows memory as it needs.
  (func (export "alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (block $done
      (loop $grow
        (br_if $done (i32.le_u (global.get $heap)
                               (i32.shl (memory.size) (i32.const 16))))
        (drop (memory.grow (i32.const 1)))
        (br $grow)))
    (local.get $p))
  (func (export "memory_pages") (result i32) (memory.size))

  ;; takeImageDynamicSize with the slots at 0 (pointer) and 4 (size); returns the pointer.
  (func (export "take_dynamic") (result i32)
    (call $take_dynamic (i32.const 0) (i32.const 4))
    (i32.load (i32.const 0)))
  (func (export "take_dynamic_at") (param i32 i32)
    (call $take_dynamic (local.get 0) (local.get 1)))
  (func (export "dynamic_size") (result i32) (i32.load (i32.const 4)))

  ;; takeImageStaticSize into 8192 with capacity `cap` at 8; returns what it wrote back.
  (func (export "take_static") (param $cap i32) (result i32)
    (i32.store (i32.const 8) (local.get $cap))
    (call $take_static (i32.const 8192) (i32.const 8))
    (i32.load (i32.const 8)))
  (func (export "take_static_at") (param i32 i32)
    (call $take_static (local.get 0) (local.get 1)))
  (func (export "take_image") (param $cap i32) (result i32)
    (i32.store (i32.const 8) (local.get $cap))
    (call $take_image (i32.const 8192) (i32.const 8))
    (i32.load (i32.const 8)))

  (func (export "byte_at") (param i32) (result i32) (i32.load8_u (local.get 0)))
)
