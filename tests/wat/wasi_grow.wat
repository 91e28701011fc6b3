;; Grows its memory one page at a time, 63 times, from 1 page to 64 (4 MiB), then
;; exits with status 0; if a grow is refused by the module's own rules it exits 3.
;; Under `--max-memory` smaller than that, the engine must trap instead.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (local $i i32)
    (loop $grow
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1))
        (then (call $proc_exit (i32.const 3))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $grow (i32.lt_u (local.get $i) (i32.const 63))))))
