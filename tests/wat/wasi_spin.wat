;; A command that never ends on its own: the target of --fuel and --timeout.
;; `count` is the same loop as an export that stops after n iterations.
(module
  (func (export "_start")
    (loop $forever (br $forever)))
  (func (export "count") (param $n i64) (result i64)
    (local $i i64)
    (block $done
      (loop $next
        (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i64.add (local.get $i) (i64.const 1)))
        (br $next)))
    (local.get $i)))
