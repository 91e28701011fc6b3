;; A WASI command that prints a line, then divides by zero: `liquid run` must
;; show the output, report the trap with its function and offset, and exit 134.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "before the trap\n")
  (func $divide (param $n i32) (result i32)
    (i32.div_u (i32.const 100) (local.get $n)))
  (func (export "_start")
    ;; iovec at 0: 16 bytes at address 16
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 16))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $divide (i32.const 0)))))
