// state.js — what the dashboard knows (devices, modules, deployments), refreshed from
// the API and shared by the views. A view subscribes to a kind and re-renders when
// it changes; refreshes asked for in quick succession (a burst of events) are merged.

import { api, idOf } from './api.js';

const loaders = { devices: api.devices, modules: api.modules, deployments: api.deployments };

export const state = { devices: [], modules: [], deployments: [], loaded: {} };
const listeners = { devices: [], modules: [], deployments: [] };
const pending = {};

export function subscribe(kind, fn) {
  listeners[kind].push(fn);
}

export async function refresh(kind) {
  try {
    const value = await loaders[kind]();
    state[kind] = Array.isArray(value) ? value : [];
    state.loaded[kind] = true;
    for (const fn of listeners[kind]) fn(state[kind]);
  } catch (e) {
    for (const fn of listeners[kind]) fn(state[kind], e);
  }
}

export function refreshSoon(kind, delay = 250) {
  if (pending[kind]) return;
  pending[kind] = setTimeout(() => {
    pending[kind] = null;
    refresh(kind);
  }, delay);
}

export function deviceById(id) {
  return state.devices.find((d) => idOf(d) === id || d.name === id);
}

export function moduleById(id) {
  return state.modules.find((m) => idOf(m) === id || m.name === id);
}

export function deviceState(device) {
  if (!device) return 'unknown';
  if (device.blacklisted) return 'blacklisted';
  return device.state || device.status || 'unknown';
}

const HTTP_METHODS = ['get', 'post', 'put', 'delete', 'patch', 'head'];

// The functions a module's description exposes: [{name, method, parameters:[{name,type}],
// output, mounts:{name:{stage,mediaType}}}], read from its OpenAPI paths.
export function describedFunctions(module) {
  const paths = (module && module.description && module.description.paths) || {};
  const out = [];
  for (const [path, operations] of Object.entries(paths)) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    for (const [method, op] of Object.entries(operations || {})) {
      if (!HTTP_METHODS.includes(method) || !op || typeof op !== 'object') continue;   // summary, parameters...
      const content = (op.responses && op.responses['200'] && op.responses['200'].content) || {};
      const [media, body] = Object.entries(content)[0] || [];
      const output = media === 'application/json' ? (body && body.schema && body.schema.type) || 'json' : media || '–';
      out.push({
        name,
        method: method.toUpperCase(),
        parameters: (op.parameters || []).filter((p) => p.in !== 'path')
          .map((p) => ({ name: p.name, type: (p.schema && p.schema.type) || 'integer' })),
        output,
        mounts: (module.mounts && module.mounts[name]) || {},
      });
    }
  }
  return out;
}
