// The page's shell: session check, login and first-run setup, the navigation and the hash router.
//
// Each view is an ES module under views/ exporting render(root, params) that may return a cleanup function
// (or a promise of one); the router calls the cleanup before the next view renders, so every stream a view
// opened is closed when the user leaves it. A view module that is missing shows "not available".

import { api, setCsrf, onSessionExpired, ApiError } from './api.js';
import { h, clear, replace, button, toast, loading, errorBox, errorMessage } from './ui.js';

/**
 * The route table: a hash pattern (segments, ":name" captures one) and the view module's name.
 * More specific patterns come first.
 */
export const ROUTES = [
  { pattern: 'dashboard', view: 'dashboard', title: 'Dashboard' },
  { pattern: 'containers/new', view: 'create', title: 'New container' },
  { pattern: 'containers/:id', view: 'container', title: 'Container' },
  { pattern: 'containers', view: 'containers', title: 'Containers' },
  { pattern: 'images', view: 'images', title: 'Images' },
  { pattern: 'networks', view: 'networks', title: 'Networks' },
  { pattern: 'volumes', view: 'volumes', title: 'Volumes' },
  { pattern: 'stacks/:name', view: 'stacks', title: 'Stack' },
  { pattern: 'stacks', view: 'stacks', title: 'Stacks' },
  { pattern: 'events', view: 'events', title: 'Events' },
];

/** The navigation's entries: [hash, label, the route views that light it]. */
const NAV = [
  ['#/dashboard', 'Dashboard', ['dashboard']],
  ['#/containers', 'Containers', ['containers', 'container', 'create']],
  ['#/images', 'Images', ['images']],
  ['#/networks', 'Networks', ['networks']],
  ['#/volumes', 'Volumes', ['volumes']],
  ['#/stacks', 'Stacks', ['stacks']],
  ['#/events', 'Events', ['events']],
];

const DEFAULT_ROUTE = '#/dashboard';

/**
 * Match a hash ("#/containers/abc?x=1") against the route table.
 * @returns {{route: object, params: object} | null}
 */
export function matchRoute(hash) {
  const raw = String(hash || '').replace(/^#\/?/, '');
  const [pathPart, queryPart] = raw.split('?', 2);
  const segments = pathPart.split('/').filter(Boolean);
  const query = Object.fromEntries(new URLSearchParams(queryPart || ''));
  for (const route of ROUTES) {
    const want = route.pattern.split('/');
    if (want.length !== segments.length) continue;
    const params = { ...query };
    let ok = true;
    for (let i = 0; i < want.length; i += 1) {
      if (want[i].startsWith(':')) {
        try {
          params[want[i].slice(1)] = decodeURIComponent(segments[i]);
        } catch {
          ok = false;
          break;
        }
      } else if (want[i] !== segments[i]) {
        ok = false;
        break;
      }
    }
    if (ok) return { route, params };
  }
  return null;
}

const state = {
  user: '',
  /** @type {null | (() => void)} */
  cleanup: null,
  renderSeq: 0,
  loggedIn: false,
  /** views shown since the last login (the first one leaves the focus where the page load put it) */
  shown: 0,
};

function runCleanup() {
  const fn = state.cleanup;
  state.cleanup = null;
  if (typeof fn === 'function') {
    try {
      fn();
    } catch (err) {
      console.error('view cleanup failed', err);
    }
  }
}

function viewRoot() {
  return document.getElementById('view');
}

function updateNav(viewName) {
  for (const a of document.querySelectorAll('#nav a[data-views]')) {
    const active = a.dataset.views.split(' ').includes(viewName);
    if (active) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

/** Render the view of the current hash into #view. */
async function route() {
  if (!state.loggedIn) return;
  const seq = ++state.renderSeq;
  runCleanup();
  const root = viewRoot();
  const match = matchRoute(window.location.hash);
  if (!match) {
    if (!window.location.hash || window.location.hash === '#' || window.location.hash === '#/') {
      window.location.replace(DEFAULT_ROUTE);
      return;
    }
    updateNav('');
    document.title = 'Not found · moor';
    replace(root, h('section', { class: 'view' }, h('h1', null, 'Page not found'),
      h('p', null, 'There is no page at this address. '), h('a', { href: DEFAULT_ROUTE }, 'Go to the dashboard')));
    return;
  }
  const { route: r, params } = match;
  updateNav(r.view);
  document.title = `${r.title} · moor`;
  replace(root, loading());
  let mod;
  try {
    mod = await import(`./views/${r.view}.js`);
  } catch (err) {
    if (seq !== state.renderSeq) return;
    console.error(err);
    replace(root, h('section', { class: 'view' }, h('h1', null, r.title),
      h('p', { class: 'not-available', role: 'status' }, 'This view is not available.')));
    return;
  }
  if (seq !== state.renderSeq) return;
  clear(root);
  const container = h('section', { class: 'view', 'data-view': r.view });
  root.appendChild(container);
  try {
    const cleanup = await mod.render(container, params);
    if (seq !== state.renderSeq) {
      if (typeof cleanup === 'function') cleanup();
      return;
    }
    state.cleanup = typeof cleanup === 'function' ? cleanup : null;
  } catch (err) {
    if (seq !== state.renderSeq) return;
    if (err instanceof ApiError && err.status === 401) return;
    console.error(err);
    replace(container, errorBox(err));
  }
  // After a navigation within the page (not the first view shown), move the focus to the new page's heading,
  // as a page load would put it at the top, unless the view put it somewhere itself (a form's first field).
  const heading = container.querySelector('h1');
  const active = document.activeElement;
  const navigated = state.shown > 0;
  state.shown += 1;
  if (navigated && heading && (!active || active === document.body || active.closest('#nav') || !active.isConnected)) {
    heading.setAttribute('tabindex', '-1');
    heading.focus({ preventScroll: true });
  }
}

/** Navigate to a hash route (e.g. navigate('#/containers/abc')). */
export function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

function renderShell() {
  const nav = document.getElementById('nav');
  replace(nav, h('ul', null, NAV.map(([href, label, views]) =>
    h('li', null, h('a', { href, dataset: { views: views.join(' ') } }, label)))));
  const user = document.getElementById('user');
  replace(user,
    h('span', { class: 'user-name', title: 'Signed in user' }, state.user),
    button('Log out', () => logout(), { kind: 'ghost' }));
  document.body.classList.remove('logged-out');
  document.body.classList.add('logged-in');
}

async function logout(message) {
  const text = typeof message === 'string' ? message : 'You are logged out.';
  state.loggedIn = false;
  runCleanup();
  try {
    await api.post('/api/logout', {});
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) toast(errorMessage(err), 'error');
  }
  setCsrf('');
  showLogin({ setup: false, message: text });
}

/** Show the login (or first-run setup) form in place of the app. */
async function showLogin(opts) {
  state.loggedIn = false;
  state.renderSeq += 1;
  runCleanup();
  document.body.classList.remove('logged-in');
  document.body.classList.add('logged-out');
  clear(document.getElementById('nav'));
  clear(document.getElementById('user'));
  document.title = opts.setup ? 'Set up · moor' : 'Log in · moor';
  const root = viewRoot();
  replace(root, loading());
  try {
    const mod = await import('./views/login.js');
    clear(root);
    const container = h('section', { class: 'view view-login' });
    root.appendChild(container);
    mod.render(container, { setup: !!opts.setup, message: opts.message || '', onLogin: loggedIn });
  } catch (err) {
    replace(root, errorBox(err));
  }
}

// ---- idle logout: the server ends a session after idle_timeout seconds without a request, but a page that
// follows live streams keeps making requests while nobody is there. The page itself logs out once the
// person using it has not touched the keyboard or the pointer for that long.

const IDLE_CHECK_MS = 15_000;
const idle = { timeoutMs: 1800 * 1000, lastInput: Date.now(), timer: null };

function noteInput() {
  idle.lastInput = Date.now();
}

for (const type of ['pointerdown', 'keydown', 'wheel', 'touchstart']) {
  if (typeof window !== 'undefined') window.addEventListener(type, noteInput, { passive: true, capture: true });
}

function watchIdle(seconds) {
  idle.timeoutMs = (Number(seconds) > 0 ? Number(seconds) : 1800) * 1000;
  idle.lastInput = Date.now();
  if (idle.timer) clearInterval(idle.timer);
  idle.timer = setInterval(() => {
    if (state.loggedIn && Date.now() - idle.lastInput >= idle.timeoutMs) {
      const minutes = Math.round(idle.timeoutMs / 60000);
      logout(`You were logged out after ${minutes} minute${minutes === 1 ? '' : 's'} without activity.`);
    }
  }, Math.min(IDLE_CHECK_MS, idle.timeoutMs));
}

/** Called by the login view with the session answer ({user, csrf, idle_timeout}). */
function loggedIn(session) {
  setCsrf(session.csrf);
  state.user = session.user;
  state.loggedIn = true;
  state.shown = 0;
  watchIdle(session.idle_timeout);
  renderShell();
  route();
}

async function boot() {
  onSessionExpired(() => {
    if (!state.loggedIn) return;
    showLogin({ setup: false, message: 'Your session ended. Log in again.' });
  });
  window.addEventListener('hashchange', route);
  try {
    const session = await api.get('/api/session');
    loggedIn(session);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showLogin({ setup: !!(err.data && err.data.setup) });
    } else {
      replace(viewRoot(), errorBox(err));
    }
  }
}

if (typeof window !== 'undefined' && document.getElementById('view')) {
  boot();
}
