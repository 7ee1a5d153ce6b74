// The page's one way to talk to the UI server: JSON calls, the Docker proxy and the streams.
//
// Every call that changes something carries the session's CSRF token; an answer that is not 2xx becomes a
// thrown ApiError(status, message). A 401 on anything but the session endpoints tells the app that the
// session ended (onSessionExpired), so it can show the login again.

/** An answer from the server that was not 2xx. */
export class ApiError extends Error {
  /** @param {number} status @param {string} message @param {any} [data] the error answer's JSON */
  constructor(status, message, data = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.data = data;
  }
}

let csrfToken = '';
/** @type {((err: ApiError) => void) | null} */
let expiredHandler = null;

/** Remember the session's CSRF token (from GET /api/session or POST /api/login). */
export function setCsrf(token) {
  csrfToken = token || '';
}

/** The current CSRF token ('' when logged out). */
export function csrf() {
  return csrfToken;
}

/** Call fn(err) when a request answers 401 because the session ended. */
export function onSessionExpired(fn) {
  expiredHandler = fn;
}

const SESSION_PATHS = new Set(['/api/session', '/api/login', '/api/setup', '/api/logout']);

function headersFor(method, extra) {
  const headers = new Headers(extra || {});
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers.set('X-CSRF-Token', csrfToken);
  return headers;
}

/** Read an error answer's message: JSON {"message"} when there is one, else the status text. */
async function errorFrom(resp) {
  let message = '';
  let data = null;
  try {
    const text = await resp.text();
    try {
      data = JSON.parse(text);
      message = (data && (data.message || data.error)) || '';
    } catch {
      message = text.trim().split('\n')[0].slice(0, 300);
    }
  } catch {
    message = '';
  }
  return new ApiError(resp.status, message || `${resp.status} ${resp.statusText || 'error'}`, data);
}

let confirming = null;

function checkExpired(path, err) {
  if (err.status !== 401 || SESSION_PATHS.has(path.split('?')[0]) || !expiredHandler || confirming) return;
  // A 401 may be moord's or a registry's (a pull without credentials), relayed: only the session endpoint
  // says whether the session ended.
  confirming = fetch('/api/session', { credentials: 'same-origin' })
    .then((resp) => resp.status === 401, () => false)
    .then((ended) => {
      confirming = null;
      if (ended && expiredHandler) {
        setCsrf('');
        expiredHandler(err);
      }
    });
}

/**
 * Send one request and return the parsed JSON (or null for an empty answer).
 * @param {string} method @param {string} path @param {any} [body] @param {{raw?: boolean, headers?: object, signal?: AbortSignal}} [opts]
 */
export async function request(method, path, body, opts = {}) {
  const headers = headersFor(method, opts.headers);
  /** @type {RequestInit} */
  const init = { method, headers, credentials: 'same-origin', signal: opts.signal };
  if (body !== undefined && body !== null) {
    if (body instanceof FormData || body instanceof Blob || typeof body === 'string') {
      init.body = body;
    } else {
      headers.set('Content-Type', 'application/json');
      init.body = JSON.stringify(body);
    }
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, 'the UI server cannot be reached');
  }
  if (!resp.ok) {
    const err = await errorFrom(resp);
    checkExpired(path, err);
    throw err;
  }
  if (opts.raw) return resp;
  if (resp.status === 204) return null;
  const text = await resp.text();
  if (!text) return null;
  const type = resp.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      // Docker's streamed JSON (several objects, one a line): give them as a list.
      return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
    }
  }
  return text;
}

/** JSON calls to the UI server (paths start with /api/). */
export const api = {
  get: (path, opts) => request('GET', path, undefined, opts),
  post: (path, body, opts) => request('POST', path, body === undefined ? {} : body, opts),
  put: (path, body, opts) => request('PUT', path, body, opts),
  del: (path, body, opts) => request('DELETE', path, body, opts),
};

/** Build a query string from an object, leaving out undefined, null and '' values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, typeof v === 'object' ? JSON.stringify(v) : String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Call the Docker Engine API through the UI's proxy: docker('/containers/json', {query: {all: 1}}).
 * @param {string} path @param {{method?: string, body?: any, query?: object, raw?: boolean, signal?: AbortSignal}} [opts]
 */
export function docker(path, opts = {}) {
  const method = opts.method || (opts.body !== undefined ? 'POST' : 'GET');
  const url = `/api/docker${path.startsWith('/') ? '' : '/'}${path}${query(opts.query)}`;
  const body = opts.body === undefined && method !== 'GET' && method !== 'HEAD' ? undefined : opts.body;
  return request(method, url, body, { raw: opts.raw, signal: opts.signal });
}

/** Turn an SSE "end" message's data into an error message or null. */
function endError(data) {
  try {
    const parsed = JSON.parse(data);
    return parsed && parsed.error ? String(parsed.error) : null;
  } catch {
    return null;
  }
}

/**
 * Follow a GET Server-Sent-Events stream: onMessage(json) per message; onEnd(errorOrNull, data) once.
 * @param {string} url @param {(msg: any) => void} onMessage
 * @param {{onEnd?: (error: string|null, data?: any) => void, onOpen?: () => void, retry?: boolean}} [opts]
 *   retry: let the browser reconnect a dropped stream (for streams that can start over, such as events)
 * @returns {{close: () => void}}
 */
export function events(url, onMessage, opts = {}) {
  const source = new EventSource(url, { withCredentials: true });
  let ended = false;
  const finish = (error, data) => {
    if (ended) return;
    ended = true;
    source.close();
    if (opts.onEnd) opts.onEnd(error, data);
  };
  source.onopen = () => opts.onOpen && opts.onOpen();
  source.onmessage = (ev) => {
    let msg;
    try {
      msg = JSON.parse(ev.data);
    } catch {
      return;
    }
    onMessage(msg);
  };
  source.addEventListener('end', (ev) => {
    let data = null;
    try {
      data = JSON.parse(ev.data);
    } catch {
      data = null;
    }
    finish(endError(ev.data), data);
  });
  source.onerror = () => {
    // A refused stream (an error status, a 401 after the session ended) is CLOSED: over. A dropped one is
    // CONNECTING again: the browser retries it only when asked (opts.retry), since most streams would
    // start over from the beginning (logs would repeat their tail).
    if (source.readyState === EventSource.CLOSED || !opts.retry) finish('the stream was interrupted');
  };
  return { close: () => { ended = true; source.close(); } };
}

/**
 * A small parser of text/event-stream: feed(chunk) calls onEvent(type, data) per complete event.
 * @param {(type: string, data: string) => void} onEvent
 */
export function sseParser(onEvent) {
  let buffer = '';
  let type = '';
  let data = [];
  const line = (l) => {
    if (l === '') {
      if (data.length) onEvent(type || 'message', data.join('\n'));
      type = '';
      data = [];
      return;
    }
    if (l.startsWith(':')) return;
    const colon = l.indexOf(':');
    const field = colon < 0 ? l : l.slice(0, colon);
    let value = colon < 0 ? '' : l.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  };
  return {
    feed(chunk) {
      buffer += chunk;
      let i;
      while ((i = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const sep = buffer[i] === '\r' && buffer[i + 1] === '\n' ? 2 : 1;
        line(buffer.slice(0, i));
        buffer = buffer.slice(i + sep);
      }
    },
    flush() {
      if (buffer) line(buffer);
      buffer = '';
      line('');
    },
  };
}

/**
 * POST a JSON body or FormData and read the SSE answer: onMessage(json) per message, onEnd(errorOrNull, data) once
 * (data is the end message, e.g. {"error": null, "id": "..."}). An error status before the stream is given to onEnd.
 * @param {string} url @param {any} body @param {(msg: any) => void} onMessage
 * @param {{onEnd?: (error: string|null, data?: any) => void}} [opts]
 * @returns {{close: () => void, done: Promise<string|null>}}
 */
export function postStream(url, body, onMessage, opts = {}) {
  const controller = new AbortController();
  let ended = false;
  let resolveDone;
  const done = new Promise((resolve) => { resolveDone = resolve; });
  const finish = (error, data) => {
    if (ended) return;
    ended = true;
    if (opts.onEnd) opts.onEnd(error, data);
    resolveDone(error);
  };
  const run = async () => {
    const headers = headersFor('POST');
    let payload;
    if (body instanceof FormData) payload = body;
    else {
      headers.set('Content-Type', 'application/json');
      payload = JSON.stringify(body === undefined ? {} : body);
    }
    const resp = await fetch(url, {
      method: 'POST', headers, body: payload, credentials: 'same-origin', signal: controller.signal,
    });
    if (!resp.ok) {
      const err = await errorFrom(resp);
      checkExpired(url, err);
      finish(err.message);
      return;
    }
    const parser = sseParser((type, data) => {
      if (type === 'end') {
        let parsed = null;
        try { parsed = JSON.parse(data); } catch { parsed = null; }
        finish(endError(data), parsed);
        controller.abort();
        return;
      }
      let msg;
      try { msg = JSON.parse(data); } catch { return; }
      if (!ended) onMessage(msg);
    });
    const reader = resp.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      parser.feed(decoder.decode(value, { stream: true }));
      if (ended) return;
    }
    parser.feed(decoder.decode());
    parser.flush();
    finish(ended ? null : 'the stream ended early');
  };
  run().catch((e) => {
    if (ended) return;
    if (e && e.name === 'AbortError') finish('cancelled');
    else finish((e && e.message) || 'the stream failed');
  });
  return {
    close: () => {
      if (!ended) { ended = true; resolveDone('cancelled'); }
      controller.abort();
    },
    done,
  };
}
