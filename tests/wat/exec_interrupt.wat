;; exec_interrupt — work to interrupt from another thread, and a host function that
;; waits until the call is interrupted.
(module
  (import "host" "wait" (func $wait))
  ;; the same arithmetic as limits_work's spin
  (func $spin (export "spin") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc)
          (i64.extend_i32_u (i32.xor (local.get $i) (i32.shr_u (local.get $i) (i32.const 3))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc))
  (func (export "wait_then_spin") (param $n i32) (result i64)
    (call $wait)
    (call $spin (local.get $n))))
