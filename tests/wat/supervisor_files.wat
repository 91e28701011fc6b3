;; supervisor_files.wat — a WASI module that works on files in its directory ("." is
;; preopened as fd 3), for the supervisor's mount tests:
;;   produce()  writes "image.jpeg" (a fixed text) and returns its length
;;   consume()  reads "image.jpeg" and returns the sum of its bytes (-1 if it cannot)
;;   data()     reads the deployment file "data" and returns the sum of its bytes
;;   echo()     copies "in.txt" to "out.txt" and returns the byte count
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read"
    (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close"
    (func $fd_close (param i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 0) "image.jpeg")          ;; 10
  (data (i32.const 16) "data")               ;; 4
  (data (i32.const 32) "in.txt")             ;; 6
  (data (i32.const 48) "out.txt")            ;; 7
  (data (i32.const 64) "picture from step one\n") ;; 22
  ;; 1024: iovec {ptr, len}; 1040: count; 1044: fd; 4096..: buffer

  ;; opens a file of "."; returns the fd or -1
  (func $open (param $name i32) (param $len i32) (param $write i32) (result i32)
    (if (call $path_open (i32.const 3) (i32.const 0) (local.get $name) (local.get $len)
          (select (i32.const 9) (i32.const 0) (local.get $write))   ;; CREAT|TRUNC
          (select (i64.const 0x40) (i64.const 0x2) (local.get $write)) ;; fd_write / fd_read
          (i64.const 0) (i32.const 0) (i32.const 1044))
      (then (return (i32.const -1))))
    (i32.load (i32.const 1044)))

  ;; reads a whole file into 4096..; returns its length or -1
  (func $read_all (param $name i32) (param $len i32) (result i32)
    (local $fd i32) (local $total i32)
    (local.set $fd (call $open (local.get $name) (local.get $len) (i32.const 0)))
    (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (return (i32.const -1))))
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

  (func $write_all (param $name i32) (param $len i32) (param $from i32) (param $size i32) (result i32)
    (local $fd i32)
    (local.set $fd (call $open (local.get $name) (local.get $len) (i32.const 1)))
    (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (return (i32.const -1))))
    (i32.store (i32.const 1024) (local.get $from))
    (i32.store (i32.const 1028) (local.get $size))
    (if (call $fd_write (local.get $fd) (i32.const 1024) (i32.const 1) (i32.const 1040))
      (then (return (i32.const -1))))
    (drop (call $fd_close (local.get $fd)))
    (i32.load (i32.const 1040)))

  (func $sum (param $len i32) (result i32)
    (local $i i32) (local $s i32)
    (block $done
      (loop $more
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $s (i32.add (local.get $s) (i32.load8_u (i32.add (i32.const 4096) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $more)))
    (local.get $s))

  (func (export "produce") (result i32)
    (call $write_all (i32.const 0) (i32.const 10) (i32.const 64) (i32.const 22)))

  (func (export "consume") (result i32)
    (local $n i32)
    (local.set $n (call $read_all (i32.const 0) (i32.const 10)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const -1))))
    (call $sum (local.get $n)))

  (func (export "data") (result i32)
    (local $n i32)
    (local.set $n (call $read_all (i32.const 16) (i32.const 4)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const -1))))
    (call $sum (local.get $n)))

  (func (export "echo") (result i32)
    (local $n i32)
    (local.set $n (call $read_all (i32.const 32) (i32.const 6)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (i32.const -1))))
    (call $write_all (i32.const 48) (i32.const 7) (i32.const 4096) (local.get $n)))
)
