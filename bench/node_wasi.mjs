// Runs a wasm32-wasi command module under Node's built-in WASI (preview1) and
// V8, as the reference the benchmarks compare `liquid run` against. Same shape
// as `liquid run`: node --no-warnings node_wasi.mjs FILE.wasm [ARGS...]; stdio is
// inherited and the module's exit code becomes node's.
import { readFile } from 'node:fs/promises';
import { argv, exit } from 'node:process';
import { WASI } from 'node:wasi';

const [file, ...args] = argv.slice(2);
if (!file) {
  console.error('usage: node node_wasi.mjs FILE.wasm [ARGS...]');
  exit(2);
}

let bytes;
try {
  bytes = await readFile(file);
} catch (err) {
  console.error(`node_wasi: cannot read ${file}: ${err.message}`);
  exit(1);
}

const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {}, returnOnExit: true });
const module = await WebAssembly.compile(bytes);
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
exit(wasi.start(instance));
