// api.js — the orchestrator's HTTP API as the dashboard uses it (same origin).
// Every failure becomes an Error whose message is the orchestrator's own errorText,
// so the page can show it as it is.

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

async function errorFrom(response) {
  const text = await response.text();
  try {
    const body = JSON.parse(text);
    const message = body.errorText || body.error || body.err || body.message;
    if (typeof message === 'string' && message) return new ApiError(message, response.status);
  } catch (_) { /* not JSON: the text itself */ }
  return new ApiError(text.trim() || `${response.status} ${response.statusText}`, response.status);
}

export async function request(method, path, body) {
  const options = { method, headers: {} };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers['Content-Type'] = 'application/json';
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new ApiError('The orchestrator cannot be reached. Is it still running?', 0);
  }
  if (!response.ok) throw await errorFrom(response);
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch (_) {
    return text;
  }
}

const seg = encodeURIComponent;

export const api = {
  devices: () => request('GET', '/file/device'),
  blacklist: (id) => request('POST', `/file/device/${seg(id)}/blacklist`),
  unblacklist: (id) => request('POST', `/file/device/${seg(id)}/unblacklist`),
  removeDevice: (id) => request('DELETE', `/file/device/${seg(id)}`),

  modules: () => request('GET', '/file/module'),
  createModule: (form) => request('POST', '/file/module', form),
  describeModule: (id, form) => request('POST', `/file/module/${seg(id)}/upload`, form),
  removeModule: (id) => request('DELETE', `/file/module/${seg(id)}`),

  deployments: () => request('GET', '/file/manifest'),
  deployment: (id) => request('GET', `/file/manifest/${seg(id)}`),
  // The answer is the new id as a JSON string (the reference's quoted id).
  createDeployment: (manifest) => request('POST', '/file/manifest', manifest),
  deploy: (id) => request('POST', `/file/manifest/${seg(id)}`),
  removeDeployment: (id) => request('DELETE', `/file/manifest/${seg(id)}`),
  execute: (id, body) => request('POST', `/execute/${seg(id)}`, body),

  recentEvents: (limit) => request('GET', `/events/recent?limit=${limit}`),
  logs: (device, limit = 200) => request('GET', `/device/logs?limit=${limit}${device ? `&device=${seg(device)}` : ''}`),
};

export const idOf = (doc) => (doc && (doc._id || doc.id)) || '';

// Follows GET /events (server-sent events) with fetch, so that every event type is
// seen (EventSource only reports the types one listens for), and reconnects after a
// pause, resuming after the last sequence number seen.
export function followEvents({ onEvent, onState }) {
  let lastSeq = null;
  let stopped = false;

  function dispatch(block) {
    let id = null, type = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') data.push(value);
      else if (field === 'event') type = value;
      else if (field === 'id') id = value;
    }
    if (!data.length && !type) return;
    let event;
    try {
      event = JSON.parse(data.join('\n'));
    } catch (_) {
      event = { data: data.join('\n') };
    }
    if (typeof event !== 'object' || event === null) event = { data: event };
    if (type && !event.type) event.type = type;
    if (id !== null && event.seq === undefined) event.seq = Number(id);
    if (typeof event.seq === 'number') {
      if (lastSeq !== null && event.seq <= lastSeq) return;
      lastSeq = event.seq;
    }
    onEvent(event);
  }

  async function connect() {
    while (!stopped) {
      try {
        const url = lastSeq === null ? '/events' : `/events?after=${lastSeq}`;
        const response = await fetch(url, { headers: { Accept: 'text/event-stream' } });
        if (!response.ok || !response.body) throw new Error(`status ${response.status}`);
        onState('live');
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            dispatch(buffer.slice(0, end));
            buffer = buffer.slice(end + 2);
          }
        }
      } catch (_) { /* reconnect below */ }
      if (stopped) return;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }

  return {
    start(afterSeq) {
      if (typeof afterSeq === 'number') lastSeq = afterSeq;
      connect();
    },
    stop() { stopped = true; },
  };
}
