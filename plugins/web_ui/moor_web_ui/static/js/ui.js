// Small DOM helpers shared by every view: elements, tables, buttons, toasts, dialogs and formatters.
// Nothing here sets inline style attributes or HTML strings: the page runs under a strict
// Content-Security-Policy, and every text from the daemon is put in as text, never as markup.

/**
 * Make an element: h('button', {class: 'primary', onclick: fn, 'aria-label': 'Stop'}, 'Stop').
 * attrs: class (string or array), style (an object, set through CSSOM), dataset (object), on<event>
 * (listener), boolean true/false for boolean attributes, value/checked/selected as properties; children are
 * nodes, strings, numbers, arrays of them, or null/false (left out).
 * @param {string} tag @param {object|null} [attrs] @param {...any} children @returns {HTMLElement}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') {
      el.className = Array.isArray(value) ? value.filter(Boolean).join(' ') : String(value);
    } else if (key === 'style' && typeof value === 'object') {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, String(v));
    } else if (key === 'dataset') {
      for (const [k, v] of Object.entries(value)) el.dataset[k] = String(v);
    } else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'indeterminate') {
      el[key] = value;
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

/** Append children (nodes, strings, numbers, nested arrays; null/false/undefined left out). */
export function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
  return el;
}

/** Remove every child of el. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

/** Replace el's children. */
export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

let idCounter = 0;
/** A fresh element id with a prefix (for label/for pairs). */
export function uid(prefix = 'f') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * A button with a visible label (and an aria-label when the label is only a symbol).
 * @param {string} label @param {(ev: Event) => any} onClick @param {{kind?: string, title?: string, ariaLabel?: string, type?: string, disabled?: boolean}} [opts]
 */
export function button(label, onClick, opts = {}) {
  const btn = h('button', {
    type: opts.type || 'button',
    class: ['btn', opts.kind ? `btn-${opts.kind}` : null],
    title: opts.title,
    'aria-label': opts.ariaLabel,
    disabled: opts.disabled,
  }, label);
  if (onClick) {
    btn.addEventListener('click', async (ev) => {
      if (btn.dataset.busy) return;
      btn.dataset.busy = '1';
      btn.setAttribute('aria-busy', 'true');
      try {
        await onClick(ev);
      } catch (err) {
        toast(errorMessage(err), 'error');
      } finally {
        delete btn.dataset.busy;
        btn.removeAttribute('aria-busy');
      }
    });
  }
  return btn;
}

/** A link styled as a button, to a hash route. */
export function linkButton(label, href, opts = {}) {
  return h('a', { href, class: ['btn', opts.kind ? `btn-${opts.kind}` : null], role: 'button' }, label);
}

/**
 * A real <table>: columns [{label, render: row => node|string, class?}], rows; an empty message when none.
 * @param {{label: string|Node, render: (row: any) => any, class?: string}[]} columns @param {any[]} rows
 * @param {{empty?: string, caption?: string, rowAttrs?: (row: any) => object}} [opts]
 */
export function table(columns, rows, opts = {}) {
  const head = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label))));
  const body = h('tbody');
  if (!rows.length) {
    body.appendChild(h('tr', null, h('td', { colspan: columns.length, class: 'empty' }, opts.empty || 'Nothing here yet.')));
  }
  for (const row of rows) {
    body.appendChild(h('tr', opts.rowAttrs ? opts.rowAttrs(row) : null,
      columns.map((c) => h('td', { class: c.class, 'data-label': typeof c.label === 'string' ? c.label : null }, c.render(row)))));
  }
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data' }, opts.caption ? h('caption', { class: 'sr-only' }, opts.caption) : null, head, body));
}

/** A labelled form field: field('Name', input) or field('Name', input, 'hint'). */
export function field(label, input, hint) {
  if (!input.id) input.id = uid('field');
  const hintEl = hint ? h('small', { class: 'hint', id: `${input.id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  const isCheck = input.type === 'checkbox' || input.type === 'radio';
  if (isCheck) {
    return h('div', { class: 'field field-check' }, input, h('label', { for: input.id }, label), hintEl);
  }
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}

/** A <select> from [value, label] pairs (or plain strings). */
export function select(options, value, attrs = {}) {
  return h('select', attrs, options.map((o) => {
    const [v, l] = Array.isArray(o) ? o : [o, o];
    return h('option', { value: v, selected: v === value }, l);
  }));
}

/** The page's toast region (made on first use; an aria-live region read out by screen readers). */
function toastRegion() {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(region);
  }
  return region;
}

/**
 * Show a short message for a few seconds: kind 'info' | 'success' | 'error'.
 * @param {string} message @param {string} [kind] @param {number} [ms]
 */
export function toast(message, kind = 'info', ms = 5000) {
  const item = h('div', { class: ['toast', `toast-${kind}`], role: kind === 'error' ? 'alert' : null },
    h('span', null, message),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'));
  toastRegion().appendChild(item);
  setTimeout(() => item.remove(), ms);
  return item;
}

/** The message of an error (ApiError or other) for a toast. */
export function errorMessage(err) {
  if (!err) return 'unknown error';
  return err.message || String(err);
}

/**
 * Ask to confirm in a modal <dialog>; resolves true when confirmed. Escape or Cancel resolve false.
 * @param {string} message @param {{title?: string, confirmLabel?: string, danger?: boolean, body?: Node}} [opts]
 * @returns {Promise<boolean>}
 */
export function confirmDialog(message, opts = {}) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const ok = h('button', { type: 'submit', value: 'ok', class: ['btn', opts.danger === false ? 'btn-primary' : 'btn-danger'] },
      opts.confirmLabel || 'Confirm');
    const cancel = h('button', { type: 'submit', value: 'cancel', class: 'btn', formnovalidate: true }, 'Cancel');
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, opts.title || 'Are you sure?'),
        h('p', null, message),
        opts.body || null,
        h('div', { class: 'dialog-actions' }, cancel, ok)));
    dialog.addEventListener('close', () => {
      const confirmed = dialog.returnValue === 'ok';
      dialog.remove();
      resolve(confirmed);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    (opts.danger === false ? ok : cancel).focus();
  });
}

/**
 * Ask for one value in a modal dialog; resolves the text, or null when cancelled.
 * @param {string} label @param {{title?: string, value?: string, confirmLabel?: string, placeholder?: string}} [opts]
 * @returns {Promise<string|null>}
 */
export function promptDialog(label, opts = {}) {
  return new Promise((resolve) => {
    const titleId = uid('dlg');
    const input = h('input', { type: 'text', value: opts.value || '', placeholder: opts.placeholder, required: true });
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('form', { method: 'dialog' },
        h('h2', { id: titleId }, opts.title || label),
        field(label, input),
        h('div', { class: 'dialog-actions' },
          h('button', { type: 'submit', value: 'cancel', class: 'btn', formnovalidate: true }, 'Cancel'),
          h('button', { type: 'submit', value: 'ok', class: 'btn btn-primary' }, opts.confirmLabel || 'OK'))));
    dialog.addEventListener('close', () => {
      const value = dialog.returnValue === 'ok' ? input.value.trim() : null;
      dialog.remove();
      resolve(value || null);
    });
    document.body.appendChild(dialog);
    dialog.showModal();
    input.focus();
    input.select();
  });
}

/** A status badge: badge('running', 'ok'). */
export function badge(text, kind) {
  return h('span', { class: ['badge', kind ? `badge-${kind}` : null] }, text);
}

/** A badge for a container state (running, exited, paused, ...). */
export function stateBadge(state) {
  const kinds = { running: 'ok', paused: 'warn', restarting: 'warn', created: 'muted', exited: 'muted', dead: 'bad', removing: 'warn' };
  return badge(state || 'unknown', kinds[state] || 'muted');
}

/** A loading placeholder. */
export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

/** An error box for a view that failed to load. */
export function errorBox(err) {
  return h('div', { class: 'error-box', role: 'alert' }, errorMessage(err));
}

/** A page header: title, and actions on the right. */
export function pageHeader(title, ...actions) {
  return h('div', { class: 'page-header' }, h('h1', null, title), h('div', { class: 'actions' }, actions));
}

// ---- formatters ----------------------------------------------------------------------------------------

/** 1536 -> "1.5 KB" (decimal units, as the docker CLI prints sizes). */
export function fmtBytes(n) {
  if (n === undefined || n === null || Number.isNaN(Number(n)) || n < 0) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

/** 1536 -> "1.5 KiB" (binary units, for memory). */
export function fmtBytesBinary(n) {
  if (n === undefined || n === null || Number.isNaN(Number(n)) || n < 0) return '–';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}

function toDate(value) {
  if (value === undefined || value === null || value === '') return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number') return new Date(value < 1e12 ? value * 1000 : value);
  const d = new Date(value);
  return Number.isNaN(d.getTime()) || d.getFullYear() < 1971 ? null : d;
}

/** A Unix time (seconds) or an RFC 3339 string as a local date and time; '–' for none. */
export function fmtDate(value) {
  const d = toDate(value);
  return d ? d.toLocaleString() : '–';
}

/** A time as "3 minutes ago". */
export function fmtAgo(value, now = Date.now()) {
  const d = toDate(value);
  if (!d) return '–';
  const s = Math.round((now - d.getTime()) / 1000);
  if (s < 0) return 'just now';
  const steps = [[60, 'second'], [60, 'minute'], [24, 'hour'], [30, 'day'], [12, 'month'], [Infinity, 'year']];
  let v = s;
  for (const [size, name] of steps) {
    if (v < size) return v <= 1 && name === 'second' ? 'just now' : `${v} ${name}${v === 1 ? '' : 's'} ago`;
    v = Math.floor(v / size);
  }
  return d.toLocaleString();
}

/** The first 12 characters of an id, without a "sha256:" prefix. */
export function shortId(id) {
  return String(id || '').replace(/^sha256:/, '').slice(0, 12);
}

/** A container's name from the list answer's Names (["/web"] -> "web"). */
export function containerName(c) {
  const names = c.Names || (c.Name ? [c.Name] : []);
  return names.length ? String(names[0]).replace(/^\//, '') : shortId(c.Id);
}

/**
 * A container's published ports as nodes: a link for each published TCP port (to this host's name),
 * text for the others. ports: the list answer's Ports ([{IP, PrivatePort, PublicPort, Type}]).
 */
export function fmtPorts(ports, host = window.location.hostname) {
  if (!ports || !ports.length) return '–';
  const seen = new Set();
  const items = [];
  const sorted = [...ports].sort((a, b) => (a.PrivatePort - b.PrivatePort) || ((a.PublicPort || 0) - (b.PublicPort || 0)));
  for (const p of sorted) {
    const text = p.PublicPort ? `${p.PublicPort}→${p.PrivatePort}/${p.Type}` : `${p.PrivatePort}/${p.Type}`;
    if (seen.has(text)) continue;
    seen.add(text);
    if (p.PublicPort && p.Type === 'tcp') {
      const ip = p.IP && p.IP !== '0.0.0.0' && p.IP !== '::' ? p.IP : host;
      const hostPart = ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
      items.push(h('a', { href: `http://${hostPart}:${p.PublicPort}/`, target: '_blank', rel: 'noopener noreferrer', class: 'port' }, text));
    } else {
      items.push(h('span', { class: 'port' }, text));
    }
  }
  return h('span', { class: 'ports' }, items);
}

/** A container's health from its Status text ("Up 3 minutes (healthy)") or inspect State.Health. */
export function healthOf(c) {
  if (c.State && typeof c.State === 'object' && c.State.Health) return c.State.Health.Status || '';
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status || '');
  if (!m) return '';
  return m[1] === 'health: starting' ? 'starting' : m[1];
}

/** A health badge, or '' when the container has no health check. */
export function healthBadge(health) {
  if (!health) return '';
  const kinds = { healthy: 'ok', unhealthy: 'bad', starting: 'warn' };
  return badge(health, kinds[health] || 'muted');
}

/** Debounce fn by ms. */
export function debounce(fn, ms = 200) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
