;; The module of wrong_calls.json: an identity function to call the wrong way.
(module (func (export "id") (param i32) (result i32) (local.get 0)))
