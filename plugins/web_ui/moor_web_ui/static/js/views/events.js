// Events: moord's event stream, live (the last hour first, then as they happen), newest on top, with the
// acting user of each change (the `moor.actor` attribute the UI's requests leave), filters by type and
// text, pause and clear. Leaving the view closes the stream.

import { events } from '../api.js';
import { h, replace, table, button, pageHeader, field, uid, select, badge, fmtDate, shortId, debounce } from '../ui.js';

/** How many events the page keeps (older ones drop off). */
export const KEEP = 500;
const TYPES = [['', 'All types'], ['container', 'Container'], ['image', 'Image'], ['network', 'Network'],
  ['volume', 'Volume'], ['daemon', 'Daemon'], ['builder', 'Builder']];
const SINCE = [['0', 'From now on'], ['600', 'Last 10 minutes'], ['3600', 'Last hour'], ['86400', 'Last day']];

/** An event's time in milliseconds (timeNano when given, else time in seconds). */
export function eventTime(ev) {
  if (ev.timeNano) return Math.floor(Number(ev.timeNano) / 1e6);
  return Number(ev.time || 0) * 1000;
}

/** The name of the object an event is about (its name attribute, else a short id). */
export function eventObject(ev) {
  const actor = ev.Actor || {};
  const attrs = actor.Attributes || {};
  return attrs.name || attrs.image || (actor.ID ? (actor.ID.length > 24 ? shortId(actor.ID) : actor.ID) : '');
}

/** The attributes worth showing (not name, not the acting user). */
export function eventDetails(ev) {
  const attrs = (ev.Actor && ev.Actor.Attributes) || {};
  return Object.entries(attrs).filter(([k]) => k !== 'name' && k !== 'moor.actor')
    .map(([k, v]) => `${k}=${v}`).join(', ');
}

/** What tells one event from another (its time to the nanosecond, type, action and object). */
export function eventKey(ev) {
  return [ev.timeNano || ev.time, ev.Type || ev.type, ev.Action || ev.status, (ev.Actor && ev.Actor.ID) || ev.id].join('|');
}

/** A time in milliseconds as moord's `since`: "seconds.nanoseconds". */
export function sinceArg(ms) {
  const whole = Math.floor(ms);
  return `${Math.floor(whole / 1000)}.${String((whole % 1000) * 1e6).padStart(9, '0')}`;
}

/** Whether an event matches the type filter and search words. */
export function eventMatches(ev, type, text) {
  if (type && (ev.Type || ev.type) !== type) return false;
  const q = String(text || '').trim().toLowerCase();
  if (!q) return true;
  const attrs = (ev.Actor && ev.Actor.Attributes) || {};
  const hay = [ev.Type, ev.Action, ev.Actor && ev.Actor.ID, ...Object.entries(attrs).map(([k, v]) => `${k}=${v}`)]
    .join(' ').toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

export async function render(root, params) {
  let closed = false;
  let paused = false;
  /** @type {any[]} newest first */
  let list = [];
  let pending = [];
  let stream = null;

  const typeFilter = select(TYPES, params.type || '', { id: uid('type') });
  const sinceSelect = select(SINCE, params.since || '3600', { id: uid('since') });
  const search = h('input', { type: 'search', id: uid('search'), placeholder: 'Action, name, id, attribute or user', value: params.q || '' });
  const status = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const listEl = h('div');
  const pauseButton = button('Pause', () => {
    paused = !paused;
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    pauseButton.setAttribute('aria-pressed', String(paused));
    if (!paused) {
      list = [...pending.reverse(), ...list].slice(0, KEEP);
      pending = [];
      renderList();
    }
    showStatus();
  });
  pauseButton.setAttribute('aria-pressed', 'false');
  const clearButton = button('Clear', () => { list = []; pending = []; renderList(); showStatus(); });

  let live = false;
  let ended = '';
  const showStatus = () => {
    const state = ended ? `Stream ended: ${ended}` : live ? (paused ? `Paused (${pending.length} waiting)` : 'Live') : 'Connecting…';
    replace(status, badge(state, ended ? 'bad' : live && !paused ? 'ok' : 'warn'), ` ${list.length} event${list.length === 1 ? '' : 's'}`);
  };

  const renderList = () => {
    const shown = list.filter((ev) => eventMatches(ev, typeFilter.value, search.value));
    replace(listEl, table([
      { label: 'Time', class: 'nowrap', render: (ev) => h('time', { datetime: new Date(eventTime(ev)).toISOString() }, fmtDate(eventTime(ev))) },
      { label: 'Type', render: (ev) => ev.Type || ev.type || '' },
      { label: 'Action', render: (ev) => h('strong', null, ev.Action || ev.status || '') },
      { label: 'Object', class: 'mono', render: (ev) => {
        const name = eventObject(ev);
        const type = ev.Type || ev.type;
        const id = ev.Actor && ev.Actor.ID;
        if (type === 'container' && id && ev.Action !== 'destroy') return h('a', { href: `#/containers/${encodeURIComponent(id)}` }, name);
        return name;
      } },
      { label: 'By', render: (ev) => ((ev.Actor && ev.Actor.Attributes && ev.Actor.Attributes['moor.actor']) || h('span', { class: 'muted' }, '–')) },
      { label: 'Details', class: 'mono', render: (ev) => eventDetails(ev) },
    ], shown, { caption: 'Events', empty: list.length ? 'No event matches.' : 'No events yet: they appear here as they happen.' }));
    listEl.querySelector('table').classList.add('stack');
  };

  /** @type {Set<string>} the events shown or waiting, so that a stream that reconnects repeats none */
  let seen = new Set();
  const connect = () => {
    if (stream) stream.close();
    live = false;
    ended = '';
    list = [];
    pending = [];
    seen = new Set();
    // Always a `since` (now, for "from now on"): when the browser reconnects a dropped stream, moord replays
    // what happened meanwhile, and the keys below drop what was shown already.
    const query = new URLSearchParams({ since: sinceArg(Date.now() - Number(sinceSelect.value) * 1000) });
    const redraw = debounce(() => { if (!closed) { renderList(); showStatus(); } }, 100);
    stream = events(`/api/streams/events?${query}`, (ev) => {
      const key = eventKey(ev);
      if (seen.has(key)) return;
      seen.add(key);
      live = true;
      if (paused) pending.push(ev);
      else list.unshift(ev);
      if (list.length > KEEP) list.length = KEEP;
      if (pending.length > KEEP) pending.splice(0, pending.length - KEEP);
      if (seen.size > 4 * KEEP) seen = new Set([...list, ...pending].map(eventKey));
      redraw();
    }, {
      retry: true,
      onOpen: () => { live = true; showStatus(); },
      onEnd: (error) => { if (!closed) { live = false; ended = error || 'closed'; showStatus(); } },
    });
    renderList();
    showStatus();
  };

  const reconnect = button('Reconnect', () => connect(), { ariaLabel: 'Reconnect to the event stream' });
  root.append(
    pageHeader('Events', pauseButton, clearButton, reconnect),
    h('div', { class: 'toolbar' },
      h('div', { class: 'grow' }, field('Search events', search)),
      field('Type', typeFilter),
      field('Show', sinceSelect),
      status),
    listEl);

  const saveFilters = () => {
    const q = new URLSearchParams();
    if (search.value.trim()) q.set('q', search.value.trim());
    if (typeFilter.value) q.set('type', typeFilter.value);
    if (sinceSelect.value !== '3600') q.set('since', sinceSelect.value);
    const hash = `#/events${q.toString() ? `?${q}` : ''}`;
    if (window.location.hash !== hash) history.replaceState(null, '', hash);
  };
  search.addEventListener('input', debounce(() => { saveFilters(); renderList(); }, 150));
  typeFilter.addEventListener('change', () => { saveFilters(); renderList(); });
  sinceSelect.addEventListener('change', () => { saveFilters(); connect(); });

  connect();
  return () => {
    closed = true;
    if (stream) stream.close();
  };
}
