;; supervisor_migrate_files.wat — a stateful WASI module with a long call and a call
;; that takes a file, for the migration tests of calls carrying uploads:
;;   spin(n)    loops n times (long: a migration suspends it) and returns n
;;   consume()  reads "in.bin", adds the sum of its bytes to a total kept in linear
;;              memory and returns that sum (-1 if it cannot read the file)
;;   total()    the total so far (shows which copy of the state a call reached)
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close"
    (func $fd_close (param i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "in.bin")              ;; 6
  ;; 1024: iovec {ptr, len}; 1040: count; 1044: fd; 2048: total; 4096..: buffer

  (func $read_all (result i32)
    (local $fd i32) (local $total i32)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 6)
          (i32.const 0) (i64.const 0x2) (i64.const 0) (i32.const 0) (i32.const 1044))
      (then (return (i32.const -1))))
    (local.set $fd (i32.load (i32.const 1044)))
    (block $eof
      (loop $more
        (i32.store (i32.const 1024) (i32.add (i32.const 4096) (local.get $total)))
        (i32.store (i32.const 1028) (i32.sub (i32.const 61440) (local.get $total)))
        (br_if $eof (call $fd_read (local.get $fd) (i32.const 1024) (i32.const 1) (i32.const 1040)))
        (br_if $eof (i32.eqz (i32.load (i32.const 1040))))
        (local.set $total (i32.add (local.get $total) (i32.load (i32.const 1040))))
        (br_if $more (i32.lt_u (local.get $total) (i32.const 61440)))))
    (drop (call $fd_close (local.get $fd)))
    (local.get $total))

  (func (export "spin") (param $n i64) (result i64)
    (local $i i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $i))

  (func (export "consume") (result i32)
    (local $n i32) (local $i i32) (local $s i32)
    (local.set $n (call $read_all))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const -1))))
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (i32.add (local.get $s) (i32.load8_u (i32.add (i32.const 4096) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (i32.store (i32.const 2048) (i32.add (i32.load (i32.const 2048)) (local.get $s)))
    (local.get $s))

  (func (export "total") (result i32)
    (i32.load (i32.const 2048)))
)
