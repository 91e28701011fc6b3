;; Imports two functions no linker offers, next to a real WASI one: `liquid run`
;; must refuse it with a link error that names both missing imports.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func (param i32 i32 i32 i32) (result i32)))
  (import "env" "turn_on_the_lights" (func (param i32)))
  (import "wasi_snapshot_preview1" "fd_teleport" (func (result i32)))
  (func (export "_start")))
