;; host_camera_no_alloc.wat — asks for a dynamically sized image but exports no
;; `alloc` to put it in (tests/unit/test_host_camera.c expects a clear trap).
(module
  (import "camera" "takeImageDynamicSize" (func $take_dynamic (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "take_dynamic") (call $take_dynamic (i32.const 0) (i32.const 4)))
)
