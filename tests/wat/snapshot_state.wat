;; snapshot_state — a call with state everywhere a snapshot must carry it: memory,
;; mutable globals (one a funcref), a table, a dropped data segment, and a call
;; stack several frames deep with locals, operands and references live at its
;; safe points.
(module
  (memory (export "memory") 1 10)
  (global $steps (mut i64) (i64.const 0))
  (global $last_fn (mut funcref) (ref.null func))
  (table $t 2 funcref)
  (elem declare func $mix $twist)
  (data $seed "liquid")
  (type $step (func (param i32 i32) (result i32)))

  (func $mix (param $x i32) (param $i i32) (result i32)
    (i32.add (i32.rotl (local.get $x) (i32.const 5)) (i32.xor (local.get $i) (i32.const 0x9e37))))
  (func $twist (param $x i32) (param $i i32) (result i32)
    (i32.xor (i32.mul (local.get $x) (i32.const 31)) (local.get $i)))

  ;; one round: a loop of n steps calling through the table; the funcref stays in a
  ;; local across the loop's safe points
  (func $round (param $x i32) (param $n i32) (param $r i32) (result i32)
    (local $i i32) (local $f funcref)
    (local.set $f (table.get $t (i32.and (local.get $r) (i32.const 1))))
    (global.set $last_fn (local.get $f))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (table.set $t (i32.const 1) (local.get $f))
        (local.set $x (call_indirect (type $step) (local.get $x) (local.get $i) (i32.const 1)))
        (i32.store8 (i32.and (local.get $i) (i32.const 0xffff)) (local.get $x))
        (global.set $steps (i64.add (global.get $steps) (i64.const 1)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $x))

  (func $init
    (table.set $t (i32.const 0) (ref.func $mix))
    (table.set $t (i32.const 1) (ref.func $twist))
    (memory.init $seed (i32.const 60000) (i32.const 0) (i32.const 6))
    (data.drop $seed))
  (start $init)

  ;; rounds of rounds: an operand (the 1000) stays pending across each call
  (func (export "run") (param $rounds i32) (param $n i32) (result i32 i64)
    (local $x i32) (local $r i32)
    (local.set $x (i32.const 1))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $r) (local.get $rounds)))
        (local.set $x (i32.add (i32.const 1000)
                               (call $round (local.get $x) (local.get $n) (local.get $r))))
        (if (i32.eqz (i32.and (local.get $r) (i32.const 3)))
          (then (drop (memory.grow (i32.const 1)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $next)))
    (i32.add (local.get $x) (i32.add (memory.size) (i32.load8_u (i32.const 60001))))
    (global.get $steps))

  (func (export "checksum") (result i32)
    (local $i i32) (local $h i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const 65536)))
      (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 33)) (i32.load8_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (local.get $h))
)
