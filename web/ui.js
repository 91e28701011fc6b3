// ui.js — small DOM helpers shared by the views: element building (text only, never
// HTML from data), keyed list updates that keep focus and form state, notices, and
// number formatting.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// Brings list's children in line with items: existing elements (by data-key) are
// updated in place, new ones created, gone ones removed, order kept.
export function reconcile(list, items, keyOf, create, update) {
  const existing = new Map();
  for (const child of list.children) existing.set(child.dataset.key, child);
  let previous = null;
  for (const item of items) {
    const key = String(keyOf(item));
    let el = existing.get(key);
    if (el) {
      existing.delete(key);
    } else {
      el = create(item);
      el.dataset.key = key;
    }
    update(el, item);
    const wanted = previous ? previous.nextElementSibling : list.firstElementChild;
    if (wanted !== el) list.insertBefore(el, wanted);
    previous = el;
  }
  for (const el of existing.values()) el.remove();
}

let toastCount = 0;
export function notify(message, kind = 'info') {
  const box = document.getElementById('toasts');
  const toast = h('div', { class: `toast ${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('p', { text: message }),
    h('button', { type: 'button', class: 'ghost', 'aria-label': 'Dismiss', onclick: () => toast.remove() }, '×'));
  box.append(toast);
  const id = ++toastCount;
  toast.dataset.id = id;
  setTimeout(() => toast.remove(), kind === 'error' ? 12000 : 5000);
}

// Runs an action from a button: disabled while it runs, errors shown as a notice
// (and in `errorEl` when given, next to the form that caused them).
export async function busy(button, action, errorEl) {
  if (errorEl) { errorEl.textContent = ''; errorEl.hidden = true; }
  const label = button ? button.textContent : '';
  if (button) { button.disabled = true; button.setAttribute('aria-busy', 'true'); }
  try {
    return await action();
  } catch (e) {
    if (errorEl) { errorEl.textContent = e.message; errorEl.hidden = false; }
    notify(e.message, 'error');
    return undefined;
  } finally {
    if (button) { button.disabled = false; button.removeAttribute('aria-busy'); button.textContent = label; }
  }
}

// 0..1 fractions (Liquid, the Rust reference) or 0..100 (the Python reference).
export function percent(value) {
  if (typeof value !== 'number' || Number.isNaN(value)) return null;
  return Math.max(0, Math.min(100, value > 1 ? value : value * 100));
}

export function formatMs(ms) {
  if (typeof ms !== 'number' || !(ms >= 0)) return '–';
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

export function formatTime(iso) {
  if (!iso) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

export function shortText(value, max = 160) {
  let text = typeof value === 'string' ? value : JSON.stringify(value);
  if (text === undefined) text = '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

let uniqueCount = 0;
export const uniqueId = (prefix) => `${prefix}-${++uniqueCount}`;

// A labelled form control: <div class="field"><label for>…</label>control</div>.
export function field(label, control, hint) {
  if (!control.id) control.id = uniqueId('f');
  const hintEl = hint ? h('p', { class: 'hint', id: `${control.id}-hint`, text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control, hintEl);
}

export function select(options, value) {
  const el = h('select');
  setOptions(el, options, value);
  return el;
}

// options: [[value, label], ...]; keeps the current choice when it still exists.
export function setOptions(el, options, value) {
  const keep = value !== undefined ? value : el.value;
  clear(el);
  for (const [v, label] of options) el.append(h('option', { value: v, text: label }));
  if (options.some(([v]) => v === keep)) el.value = keep;
}
