// Helpers shared by the images, networks, volumes and events views: form text to Docker's maps, image
// references as URL paths, which containers use a network or a volume, an inspect panel and the
// progress log of a pull or a build.

import { h, replace, button, containerName } from './ui.js';

/**
 * "KEY=value" lines (or commas) to an object; blank lines are left out. Throws on a line without a key.
 * @param {string} text @returns {Record<string, string>}
 */
export function parseKeyValues(text) {
  const out = {};
  for (const raw of String(text || '').split(/\n/)) {
    const line = raw.trim();
    if (!line) continue;
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    if (!key) throw new Error(`"${line}" has no name before "="`);
    out[key] = eq < 0 ? '' : line.slice(eq + 1).trim();
  }
  return out;
}

/** An image reference or id as a URL path: each segment encoded, "/" ":" "@" kept (registry:port/repo:tag). */
export function refPath(ref) {
  return String(ref).split('/').map((seg) => encodeURIComponent(seg).replace(/%3A/gi, ':').replace(/%40/g, '@')).join('/');
}

/**
 * Split "repo[:tag]" at the tag's colon (not a registry's port): ["127.0.0.1:5000/app", "1"].
 * @param {string} ref @returns {[string, string]}
 */
export function splitTag(ref) {
  const text = String(ref || '').trim();
  const at = text.indexOf('@');
  const base = at >= 0 ? text.slice(0, at) : text;
  const slash = base.lastIndexOf('/');
  const colon = base.lastIndexOf(':');
  if (colon > slash) return [base.slice(0, colon), base.slice(colon + 1)];
  return [base, 'latest'];
}

/**
 * Which containers are on each network: {networkName: [{id, name, state}]}, from the container list
 * (GET /containers/json?all=1: NetworkSettings.Networks), so one request serves the whole table.
 */
export function containersByNetwork(containers) {
  const map = {};
  for (const c of containers || []) {
    const nets = (c.NetworkSettings && c.NetworkSettings.Networks) || {};
    for (const [name, endpoint] of Object.entries(nets)) {
      const entry = { id: c.Id, name: containerName(c), state: c.State, networkId: endpoint && endpoint.NetworkID };
      (map[name] = map[name] || []).push(entry);
    }
  }
  return map;
}

/** Which containers mount each volume: {volumeName: [{id, name, state, destination}]}, from the container list. */
export function containersByVolume(containers) {
  const map = {};
  for (const c of containers || []) {
    for (const m of c.Mounts || []) {
      if (m.Type !== 'volume' || !m.Name) continue;
      (map[m.Name] = map[m.Name] || []).push({ id: c.Id, name: containerName(c), state: c.State, destination: m.Destination });
    }
  }
  return map;
}

/** Links to the containers given (from containersByNetwork/-Volume), or a dash. */
export function containerLinks(list) {
  if (!list || !list.length) return h('span', { class: 'muted' }, 'none');
  return h('span', { class: 'users' }, list.map((c, i) => [
    i ? ', ' : null,
    h('a', { href: `#/containers/${encodeURIComponent(c.id)}`, title: c.state }, c.name),
  ]));
}

/**
 * A panel showing an object's JSON (inspect), with a close button; `onClose` is called when closed. Its heading
 * takes the focus unless `focus` is false (a panel drawn again after a change).
 * @param {string} title @param {any} data @param {() => void} onClose @param {boolean} [focus]
 */
export function inspectPanel(title, data, onClose, focus = true) {
  const heading = h('h2', { tabindex: '-1' }, title);
  const panel = h('section', { class: 'panel inspect', 'aria-label': title },
    h('div', { class: 'page-header' }, heading,
      h('div', { class: 'actions' }, button('Close', () => onClose(), { ariaLabel: `Close ${title}` }))),
    h('pre', { class: 'code', tabindex: '0', 'aria-label': `${title} as JSON` }, JSON.stringify(data, null, 2)));
  if (focus) setTimeout(() => heading.focus(), 0);
  return panel;
}

/**
 * The live view of Docker's progress messages (pull: {status, id, progress}; build: {stream}, {aux},
 * {error}): one line per layer id updated in place, other lines appended. Returns {el, add(msg), note(text,
 * kind), clear()}; `lastId` holds the last {aux: {ID}} seen.
 */
export function progressLog(label) {
  const el = h('pre', { class: ['code', 'progress-log'], role: 'log', 'aria-label': label, tabindex: '0' });
  const layers = new Map();
  let tail = null; // the text node a build's stream appends to
  const state = { el, lastId: '', errors: [] };
  const line = (text, kind) => {
    const node = h('div', { class: kind ? `line-${kind}` : null }, text);
    el.appendChild(node);
    el.scrollTop = el.scrollHeight;
    return node;
  };
  state.add = (msg) => {
    if (!msg || typeof msg !== 'object') return;
    if (msg.error || msg.errorDetail) {
      const text = msg.error || (msg.errorDetail && msg.errorDetail.message) || 'error';
      state.errors.push(text);
      tail = null;
      line(text, 'error');
      return;
    }
    if (msg.aux && msg.aux.ID) {
      state.lastId = msg.aux.ID;
      tail = null;
      line(`ID: ${msg.aux.ID}`, 'aux');
      return;
    }
    if (typeof msg.stream === 'string') {
      const parts = msg.stream.split('\n');
      parts.forEach((part, i) => {
        if (i > 0) tail = null;
        if (!part) return;
        if (!tail) {
          tail = document.createTextNode('');
          el.appendChild(h('div', null, tail));
        }
        tail.data += part;
      });
      el.scrollTop = el.scrollHeight;
      return;
    }
    if (msg.status !== undefined || msg.id !== undefined) {
      tail = null;
      const text = `${msg.id ? `${msg.id}: ` : ''}${msg.status || ''}${msg.progress ? ` ${msg.progress}` : ''}`;
      if (msg.id && layers.has(msg.id) && !/^(Pulling from|Digest:|Status:)/.test(msg.status || '')) {
        const node = layers.get(msg.id);
        node.textContent = text;
        return;
      }
      const node = line(text);
      if (msg.id) layers.set(msg.id, node);
    }
  };
  state.note = (text, kind) => { tail = null; line(text, kind); };
  state.clear = () => { layers.clear(); tail = null; state.errors = []; state.lastId = ''; replace(el); };
  return state;
}

/**
 * A panel that folds: <details> whose summary is the panel's heading (id `id`), open on wide screens and
 * folded on phones, so that a view's list is not pushed below its forms.
 * @param {string} id @param {string} title @param {...any} content
 */
export function foldPanel(id, title, ...content) {
  const narrow = typeof window.matchMedia === 'function' && window.matchMedia('(max-width: 700px)').matches;
  return h('details', { class: 'panel fold', open: !narrow },
    h('summary', null, h('h2', { id, style: { display: 'inline' } }, title)),
    ...content);
}
