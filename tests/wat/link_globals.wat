;; Globals initialised from an imported global and from ref.func.
(module
  (import "provider" "answer" (global $answer i32))
  (global (export "copy") i32 (global.get $answer))
  (global (export "mutable") (mut f64) (f64.const 1.5))
  (global $self (export "self") funcref (ref.func $get))
  (func $get (export "get") (result i32) (global.get $answer))
)
