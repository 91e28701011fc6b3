;; checkpoint_memory.wat — state for the checkpoint tests: 4 pages of memory, a
;; mutable global, poke/peek on the memory.
(module
  (memory (export "memory") 4)
  (global $pokes (mut i32) (i32.const 0))
  (func (export "poke") (param $addr i32) (param $value i32)
    (i32.store (local.get $addr) (local.get $value))
    (global.set $pokes (i32.add (global.get $pokes) (i32.const 1))))
  (func (export "peek") (param $addr i32) (result i32)
    (i32.load (local.get $addr)))
  (func (export "pokes") (result i32)
    (global.get $pokes)))
