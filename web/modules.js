// modules.js — the Modules view: upload a .wasm, describe the functions it exposes
// (parameters, output, mounts and data files: the Wasm-IoT function description),
// and see each module's exports, imports (what a device must offer) and functions.

import { api, idOf } from './api.js';
import { state, subscribe, refresh, describedFunctions, moduleById } from './state.js';
import { h, clear, reconcile, notify, busy, field, select, setOptions } from './ui.js';

const MEDIA_TYPES = ['application/octet-stream', 'image/jpeg', 'image/png', 'image/jpg'];
const STAGES = [['execution', 'execution: uploaded with each call'],
  ['deployment', 'deployment: a data file shipped with the module'],
  ['output', 'output: a file the function writes']];

// ---------------------------------------------------------------- upload

function initUpload() {
  const form = document.getElementById('module-upload');
  const nameInput = form.elements.name;
  const fileInput = form.elements.wasm;
  const error = form.querySelector('.form-error');
  fileInput.addEventListener('change', () => {
    const file = fileInput.files[0];
    if (file && !nameInput.value) nameInput.value = file.name.replace(/\.wasm$/i, '');
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    const name = nameInput.value.trim();
    busy(form.querySelector('button[type=submit]'), async () => {
      if (!file) throw new Error('Choose a .wasm file to upload.');
      if (!name) throw new Error('Give the module a name (its identity in manifests).');
      const body = new FormData();
      body.append('name', name);
      // The reference accepts the binary only as application/wasm, whatever the OS says.
      body.append('module', new File([file], file.name, { type: 'application/wasm' }));
      const answer = await api.createModule(body);
      notify(`Module ${name} uploaded. Describe its functions next.`);
      form.reset();
      await refresh('modules');
      openDescribe(idOf(answer) || name);
    }, error);
  });
}

// ---------------------------------------------------------------- describe

function parameterRow(param = {}) {
  const name = h('input', { type: 'text', value: param.name || '', required: true, autocomplete: 'off', spellcheck: 'false' });
  const type = select([['integer', 'integer'], ['float', 'float']], param.type || 'integer');
  const remove = h('button', { type: 'button', class: 'ghost', 'aria-label': 'Remove this parameter' }, '×');
  const row = h('div', { class: 'row param' }, field('Name', name), field('Type', type), remove);
  remove.addEventListener('click', () => { const parent = row.parentElement; row.remove(); parent.dispatchEvent(new Event('input', { bubbles: true })); });
  row.read = () => ({ name: name.value.trim(), type: type.value });
  return row;
}

function mountRow(mount = {}) {
  const name = h('input', { type: 'text', value: mount.name || '', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'image.jpeg' });
  const stage = select(STAGES, mount.stage || 'execution');
  const media = select(MEDIA_TYPES.map((m) => [m, m]), mount.mediaType || 'application/octet-stream');
  const remove = h('button', { type: 'button', class: 'ghost', 'aria-label': 'Remove this mount' }, '×');
  const row = h('div', { class: 'row mount' }, field('File name', name), field('Stage', stage), field('Media type', media), remove);
  remove.addEventListener('click', () => { const parent = row.parentElement; row.remove(); parent.dispatchEvent(new Event('input', { bubbles: true })); });
  row.read = () => ({ name: name.value.trim(), mediaType: media.value, stage: stage.value });
  return row;
}

function functionEditor(module, initial = {}) {
  const exports = (module.exports || []).filter((e) => !['_initialize', '_start', 'alloc'].includes(e.name) || e.name === initial.name);
  const exportSelect = select(exports.map((e) => [e.name, `${e.name} · ${e.parameterCount ?? (e.params || []).length} param.`]), initial.name);
  const method = select([['GET', 'GET'], ['POST', 'POST']], initial.method || 'GET');
  const output = select([['integer', 'integer'], ['float', 'float'], ['file', 'a file (its output mount)']], initial.output || 'integer');
  const params = h('div', { class: 'rows' });
  const mounts = h('div', { class: 'rows' });
  const addParam = h('button', { type: 'button', class: 'secondary small' }, 'Add parameter');
  const addMount = h('button', { type: 'button', class: 'secondary small' }, 'Add mount');
  const remove = h('button', { type: 'button', class: 'ghost small' }, 'Remove function');
  addParam.addEventListener('click', () => { params.append(parameterRow({ name: `param${params.children.length}` })); params.dispatchEvent(new Event('input', { bubbles: true })); });
  addMount.addEventListener('click', () => { mounts.append(mountRow()); mounts.dispatchEvent(new Event('input', { bubbles: true })); });
  const fillParams = (list) => { clear(params); list.forEach((p) => params.append(parameterRow(p))); };
  exportSelect.addEventListener('change', () => {
    const e = exports.find((x) => x.name === exportSelect.value);
    const n = e ? (e.parameterCount ?? (e.params || []).length) : 0;
    fillParams(Array.from({ length: n }, (_, i) => ({ name: `param${i}`, type: 'integer' })));
  });
  if (initial.parameters) fillParams(initial.parameters);
  else exportSelect.dispatchEvent(new Event('change'));
  (initial.mounts || []).forEach((m) => mounts.append(mountRow(m)));
  const el = h('fieldset', { class: 'function' },
    h('legend', {}, 'Function'),
    h('div', { class: 'row' }, field('Export', exportSelect), field('Method', method), field('Output', output)),
    h('p', { class: 'hint', text: 'Output: a number, or a file the function writes (then add an output mount).' }),
    h('h4', { text: 'Parameters (query arguments, in order)' }), params, addParam,
    h('h4', { text: 'Mounts (files in the function\u2019s directory)' }), mounts, addMount,
    h('div', { class: 'actions end' }, remove));
  remove.addEventListener('click', () => { const parent = el.parentElement; el.remove(); parent.dispatchEvent(new Event('input', { bubbles: true })); });
  el.read = () => {
    const mountList = [...mounts.children].map((r) => r.read());
    const outMount = mountList.find((m) => m.stage === 'output');
    return [exportSelect.value, {
      method: method.value,
      parameters: [...params.children].map((r) => r.read()),
      output: output.value === 'file' ? (outMount ? outMount.mediaType : 'application/octet-stream') : output.value,
      mounts: mountList,
    }];
  };
  return el;
}

// The FD of a module described before, so re-describing starts from what is there.
function currentDescription(module) {
  return describedFunctions(module).map((f) => ({
    name: f.name,
    method: f.method,
    parameters: f.parameters.map((p) => ({ name: p.name, type: p.type === 'number' ? 'float' : p.type })),
    output: ['integer', 'float', 'number'].includes(f.output) ? (f.output === 'number' ? 'float' : f.output) : 'file',
    mounts: Object.entries(f.mounts).map(([name, m]) => ({ name, stage: m.stage, mediaType: m.mediaType })),
  }));
}

let describe = null;

function initDescribe() {
  const form = document.getElementById('module-describe');
  const moduleSelect = form.elements.module;
  const functions = form.querySelector('.functions');
  const json = form.elements.fd;
  const byHand = form.elements.byhand;
  const dataFiles = form.querySelector('.data-files');
  const error = form.querySelector('.form-error');
  const addFunction = form.querySelector('.add-function');

  const buildFd = () => Object.fromEntries([...functions.children].map((f) => f.read()));
  const parseFd = () => {
    try { return JSON.parse(json.value); } catch (e) { return null; }
  };
  // One file input per deployment-stage mount of the description; chosen files stay.
  const syncDataFiles = () => {
    const fd = parseFd() || {};
    const wanted = new Set();
    for (const fn of Object.values(fd)) {
      for (const m of (fn && Array.isArray(fn.mounts) ? fn.mounts : [])) if (m && m.stage === 'deployment' && m.name) wanted.add(m.name);
    }
    for (const el of [...dataFiles.children]) if (!wanted.has(el.dataset.mount)) el.remove();
    for (const mount of wanted) {
      if (dataFiles.querySelector(`[data-mount="${CSS.escape(mount)}"]`)) continue;
      const input = h('input', { type: 'file', dataset: { mountInput: mount } });
      const wrap = field(`Data file for mount "${mount}"`, input);
      wrap.dataset.mount = mount;
      dataFiles.append(wrap);
    }
    dataFiles.hidden = wanted.size === 0;
  };
  const syncJson = () => {
    if (!byHand.checked) json.value = JSON.stringify(buildFd(), null, 2);
    syncDataFiles();
  };
  const load = () => {
    const module = moduleById(moduleSelect.value);
    clear(functions);
    if (!module) { syncJson(); return; }
    const existing = currentDescription(module);
    if (existing.length) existing.forEach((f) => functions.append(functionEditor(module, f)));
    else if ((module.exports || []).length) functions.append(functionEditor(module));
    syncJson();
  };
  functions.addEventListener('input', syncJson);
  functions.addEventListener('change', syncJson);
  json.addEventListener('input', syncDataFiles);
  byHand.addEventListener('change', () => {
    json.readOnly = !byHand.checked;
    form.querySelector('.builder').disabled = byHand.checked;
    syncJson();
  });
  moduleSelect.addEventListener('change', load);
  addFunction.addEventListener('click', () => {
    const module = moduleById(moduleSelect.value);
    if (module) { functions.append(functionEditor(module)); syncJson(); }
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(form.querySelector('button[type=submit]'), async () => {
      const module = moduleById(moduleSelect.value);
      if (!module) throw new Error('Choose the module to describe.');
      const fd = parseFd();
      if (!fd || typeof fd !== 'object' || Array.isArray(fd) || !Object.keys(fd).length) {
        throw new Error('The description must be a JSON object with one member per function.');
      }
      const body = new FormData();
      body.append('functions', JSON.stringify(fd));
      for (const input of dataFiles.querySelectorAll('input[type=file]')) {
        if (input.files[0]) body.append(input.dataset.mountInput, input.files[0], input.files[0].name);
      }
      await api.describeModule(idOf(module), body);
      notify(`${module.name} described: ${Object.keys(fd).join(', ')}`);
      await refresh('modules');
    }, error);
  });

  describe = {
    modulesChanged(modules) {
      const chosen = moduleSelect.value;
      setOptions(moduleSelect, modules.map((m) => [idOf(m), m.name]), chosen);
      if (moduleSelect.value !== chosen || !functions.children.length) load();
    },
    open(id) {
      const module = moduleById(id);
      if (!module) return;
      moduleSelect.value = idOf(module);
      load();
      form.scrollIntoView({ behavior: 'smooth', block: 'start' });
      moduleSelect.focus({ preventScroll: true });
    },
  };
}

function openDescribe(id) {
  if (describe) describe.open(id);
}

// ---------------------------------------------------------------- list

function createCard(module) {
  const id = idOf(module);
  const card = h('li', { class: 'card module' });
  card.heading = h('h3', { class: 'name' });
  card.meta = h('p', { class: 'meta mono' });
  card.exports = h('p', { class: 'chips' });
  card.functions = h('ul', { class: 'functions-list' });
  card.imports = h('details', { class: 'imports' });
  card.data = h('p', { class: 'meta' });
  const describeButton = h('button', { type: 'button', class: 'secondary' }, 'Describe');
  describeButton.addEventListener('click', () => openDescribe(id));
  const remove = h('button', { type: 'button', class: 'danger' }, 'Delete');
  remove.addEventListener('click', () => {
    const current = moduleById(id);
    const name = current ? current.name : id;
    if (!window.confirm(`Delete module ${name}?`)) return;
    busy(remove, async () => {
      await api.removeModule(id);
      notify(`Module ${name} deleted`);
      await refresh('modules');
    });
  });
  card.append(h('div', { class: 'card-head' }, card.heading), card.meta,
    h('h4', { text: 'Exports' }), card.exports,
    h('h4', { text: 'Described functions' }), card.functions,
    card.imports, card.data,
    h('div', { class: 'actions' }, describeButton, remove));
  return card;
}

function updateCard(card, module) {
  card.heading.textContent = module.name;
  const wasm = module.wasm || {};
  const size = typeof wasm.size === 'number' ? `${(wasm.size / 1024).toFixed(1)} KiB · ` : '';
  card.meta.textContent = `${size}id ${idOf(module)}${wasm.sha256 ? ` · sha256 ${wasm.sha256.slice(0, 12)}…` : ''}`;
  clear(card.exports);
  for (const e of module.exports || []) {
    const count = e.parameterCount ?? (e.params || []).length;
    const signature = Array.isArray(e.params) ? `${e.name}(${e.params.join(', ')})${(e.results || []).length ? ` → ${e.results.join(', ')}` : ''}` : `${e.name}(${count})`;
    card.exports.append(h('span', { class: 'chip mono', text: signature }));
  }
  clear(card.functions);
  const described = describedFunctions(module);
  if (!described.length) card.functions.append(h('li', { class: 'quiet', text: 'Not described yet: use Describe.' }));
  for (const f of described) {
    const params = f.parameters.map((p) => `${p.name}: ${p.type}`).join(', ');
    const mounts = Object.entries(f.mounts).map(([name, m]) => `${name} (${m.stage})`).join(', ');
    card.functions.append(h('li', {},
      h('span', { class: 'mono strong', text: f.name }), ' ',
      h('span', { class: 'badge quiet', text: f.method }), ' ',
      h('span', { class: 'mono', text: `(${params}) → ${f.output}` }),
      mounts ? h('span', { class: 'quiet', text: ` · files: ${mounts}` }) : null));
  }
  clear(card.imports);
  const requirements = module.requirements || [];
  const byNamespace = {};
  for (const r of requirements) (byNamespace[r.module] = byNamespace[r.module] || []).push(r.name);
  const summary = Object.entries(byNamespace).map(([ns, names]) => `${ns} (${names.length})`).join(', ');
  card.imports.append(h('summary', { text: `Imports: ${summary || 'none'}` }),
    h('p', { class: 'hint', text: 'A device must offer every import to run this module.' }),
    h('ul', { class: 'mono small' }, requirements.map((r) => h('li', { text: `${r.module}.${r.name}` }))));
  const files = Object.entries(module.dataFiles || {});
  card.data.textContent = files.length ? `Data files: ${files.map(([mount, f]) => `${mount}${f.originalFilename ? ` ← ${f.originalFilename}` : ''}`).join(', ')}` : '';
  card.data.hidden = !files.length;
}

export function initModules() {
  initUpload();
  initDescribe();
  const list = document.getElementById('module-list');
  const empty = document.getElementById('module-empty');
  subscribe('modules', (modules, error) => {
    if (error && !state.loaded.modules) {
      empty.hidden = false;
      empty.textContent = error.message;
      return;
    }
    empty.hidden = modules.length > 0;
    reconcile(list, modules, idOf, createCard, updateCard);
    describe.modulesChanged(modules);
  });
}
