// Compose stacks: the list (stored stacks and the projects moord runs from elsewhere), a new stack from the
// editor or uploaded files, and one stack's page: its services and their containers, the compose and env
// editors, deploy / stop / take down / remove with the compose output streamed live.
//
// The lists follow the event stream (container events of compose projects), never a timer. Leaving the page
// closes the streams; an operation under way then finishes on the server.

import { api, events, postStream, query, ApiError } from '../api.js';
import {
  h, replace, table, button, toast, errorBox, loading, pageHeader, field, uid, badge, stateBadge, shortId,
  confirmDialog, debounce, errorMessage,
} from '../ui.js';

const NAME_PATTERN = '[a-z0-9][a-z0-9_-]*';
const NAME_RE = new RegExp(`^${NAME_PATTERN}$`);
const STATUS_KINDS = { running: 'ok', partial: 'warn', stopped: 'muted', 'not deployed': 'muted' };
const EXAMPLE = `services:
  web:
    image: busybox
    command: ["httpd", "-f", "-p", "8080"]
    ports:
      - "127.0.0.1:8080:8080"
`;

/** A status badge for a stack ("running", "partial", "stopped", "not deployed"). */
export function stackBadge(status) {
  return badge(status || 'unknown', STATUS_KINDS[status] || 'muted');
}

/** Whether name is a valid stack (compose project) name. */
export function validName(name) {
  return NAME_RE.test(name) && name.length <= 63;
}

/** Follow the container events of compose projects (one project when name is given): onChange, debounced. */
function followEvents(onChange, name) {
  const label = name ? `com.docker.compose.project=${name}` : 'com.docker.compose.project';
  const filters = { type: ['container'], label: [label] };
  const changed = debounce(onChange, 400);
  return events(`/api/streams/events${query({ filters })}`, changed);
}

/** A monospace editor with a file upload that loads a file into it. */
function editor({ label, value, rows, upload, accept, name }) {
  const area = h('textarea', {
    id: uid(name), name, rows, spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off',
    class: 'code-editor', wrap: 'off', value,
  });
  const file = h('input', { type: 'file', id: uid(`${name}-file`), accept, class: 'file-input' });
  file.addEventListener('change', async () => {
    const chosen = file.files && file.files[0];
    if (!chosen) return;
    if (chosen.size > 1024 * 1024) {
      toast(`${chosen.name} is larger than 1 MiB`, 'error');
      file.value = '';
      return;
    }
    area.value = await chosen.text();
    area.dispatchEvent(new Event('input', { bubbles: true }));
    toast(`${chosen.name} loaded into the editor`, 'info');
    file.value = '';
  });
  const wrap = h('div', { class: 'stack-editor' },
    field(label, area),
    field(upload, file));
  return { wrap, area };
}

/** A live output box: lines appended as they come, scrolled to the end. */
function outputBox() {
  const pre = h('pre', {
    class: 'logs progress-log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Compose output', tabindex: '0',
  });
  const status = h('p', { class: 'muted', role: 'status' });
  return {
    el: h('div', { class: 'panel stack-output' }, h('h2', null, 'Output'), status, pre),
    start(title) {
      replace(pre);
      status.textContent = `${title}…`;
    },
    line(text) {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.append(`${text}\n`);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    },
    end(title, error) {
      status.textContent = error ? `${title} failed: ${error}` : `${title}: done.`;
      if (error) pre.append(`${error}\n`);
    },
  };
}

/** Run one streamed stack operation; resolves the error message or null. */
function runOperation(streams, output, title, url, body) {
  output.start(title);
  const stream = postStream(url, body || {}, (msg) => {
    if (msg && typeof msg.line === 'string') output.line(msg.line);
  }, { onEnd: (error) => output.end(title, error) });
  streams.add(stream);
  return stream.done.finally(() => streams.delete(stream));
}

// ---- the list ------------------------------------------------------------------------------------------

async function renderList(root) {
  const streams = new Set();
  const listEl = h('div', null, loading());
  const newPanel = h('div');
  let closed = false;

  const load = async () => {
    try {
      const stacks = await api.get('/api/stacks');
      if (closed) return;
      replace(listEl, table([
        { label: 'Name', render: (s) => [h('a', { href: `#/stacks/${encodeURIComponent(s.name)}` }, s.name),
          s.error ? h('div', { class: 'form-error' }, s.error) : null] },
        { label: 'Status', render: (s) => stackBadge(s.status) },
        { label: 'Services', render: (s) => `${s.running}/${s.services} running` },
        { label: 'Files', render: (s) => (s.external ? h('span', { class: 'muted' }, 'elsewhere') : 'stored here') },
      ], stacks, { empty: 'No stacks yet: make one with “New stack”.', caption: 'Stacks', rowAttrs: (s) => ({ dataset: { stack: s.name } }) }));
    } catch (err) {
      if (!closed) replace(listEl, errorBox(err));
    }
  };

  const showNew = () => {
    if (newPanel.firstChild) {
      newPanel.querySelector('input').focus();
      return;
    }
    const nameInput = h('input', {
      type: 'text', required: true, pattern: NAME_PATTERN, maxlength: '63', autocomplete: 'off',
      placeholder: 'my-app', spellcheck: 'false',
    });
    const compose = editor({ label: 'compose.yaml', value: EXAMPLE, rows: 16, upload: 'Upload a compose file',
      accept: '.yml,.yaml,text/yaml,application/yaml', name: 'compose' });
    const env = editor({ label: '.env (variables for interpolation)', value: '', rows: 4,
      upload: 'Upload an env file', accept: '.env,text/plain', name: 'env' });
    const problem = h('div', { class: 'form-error', role: 'alert' });
    const save = async (deploy) => {
      replace(problem);
      const name = nameInput.value.trim();
      if (!validName(name)) {
        replace(problem, 'The name must be lowercase letters, digits, “-” and “_”, starting with a letter or digit.');
        nameInput.focus();
        return;
      }
      try {
        await api.put(`/api/stacks/${encodeURIComponent(name)}`, { compose: compose.area.value, env: env.area.value });
      } catch (err) {
        replace(problem, errorMessage(err));
        return;
      }
      toast(`Stack ${name} saved`, 'success');
      window.location.hash = `#/stacks/${encodeURIComponent(name)}${deploy ? '?deploy=1' : ''}`;
    };
    const form = h('form', { class: 'panel stack-new', 'aria-labelledby': 'stack-new-title', novalidate: true,
      onsubmit: (ev) => { ev.preventDefault(); save(false); } },
    h('h2', { id: 'stack-new-title' }, 'New stack'),
    field('Stack name', nameInput, 'The compose project name: lowercase letters, digits, “-” and “_”.'),
    compose.wrap,
    env.wrap,
    problem,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'btn' }, 'Save'),
      button('Save and deploy', () => save(true), { kind: 'primary' }),
      button('Cancel', () => replace(newPanel), { kind: 'ghost' })));
    replace(newPanel, form);
    nameInput.focus();
  };

  root.append(pageHeader('Stacks', button('New stack', showNew, { kind: 'primary' })), newPanel, listEl);
  await load();
  const followed = followEvents(load);
  return () => {
    closed = true;
    followed.close();
    for (const stream of streams) stream.close();
  };
}

// ---- one stack -----------------------------------------------------------------------------------------

async function renderStack(root, name, params) {
  const streams = new Set();
  const output = outputBox();
  const statusEl = h('span');
  const servicesEl = h('div', null, loading());
  const notice = h('div');
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': 'Stack actions' });
  const problem = h('div', { class: 'form-error', role: 'alert' });
  const dirty = h('span', { class: 'muted', role: 'status' });
  const base = `/api/stacks/${encodeURIComponent(name)}`;
  let closed = false;
  let busy = false;
  let stored = false;
  let saved = { compose: '', env: '' };

  const compose = editor({ label: 'compose.yaml', value: '', rows: 18, upload: 'Upload a compose file',
    accept: '.yml,.yaml,text/yaml,application/yaml', name: 'compose' });
  const env = editor({ label: '.env (variables for interpolation)', value: '', rows: 5,
    upload: 'Upload an env file', accept: '.env,text/plain', name: 'env' });
  const markDirty = () => {
    const changed = compose.area.value !== saved.compose || env.area.value !== saved.env;
    dirty.textContent = changed ? 'Unsaved changes.' : '';
  };
  compose.area.addEventListener('input', markDirty);
  env.area.addEventListener('input', markDirty);

  const buttons = {
    deploy: button('Deploy', () => operate('up', 'Deploy'), { kind: 'primary' }),
    stop: button('Stop', () => operate('stop', 'Stop')),
    down: button('Take down', () => takeDown()),
    remove: button('Remove', () => removeStack(), { kind: 'danger' }),
    save: button('Save', () => saveFiles(false)),
    saveDeploy: button('Save and deploy', () => saveFiles(true), { kind: 'primary' }),
  };
  const setBusy = (value) => {
    busy = value;
    for (const b of Object.values(buttons)) b.disabled = value;
    if (!value) buttons.deploy.disabled = !stored;
  };

  const showServices = (stack) => {
    replace(statusEl, stackBadge(stack.status));
    const rows = [];
    for (const service of stack.services) {
      if (!service.containers.length) rows.push({ service: service.service, container: null });
      for (const container of service.containers) rows.push({ service: service.service, container });
    }
    replace(servicesEl, table([
      { label: 'Service', render: (r) => r.service },
      { label: 'Container', render: (r) => (r.container
        ? h('a', { href: `#/containers/${encodeURIComponent(r.container.id)}` }, r.container.name)
        : h('span', { class: 'muted' }, 'none')) },
      { label: 'State', render: (r) => (r.container ? stateBadge(r.container.state) : stackBadge('not deployed')) },
      { label: 'Status', render: (r) => (r.container ? r.container.status : '') },
      { label: 'ID', render: (r) => (r.container ? h('code', null, shortId(r.container.id)) : '') },
    ], rows, { empty: 'This stack has no services.', caption: `Services of ${name}`,
      rowAttrs: (r) => ({ dataset: { service: r.service } }) }));
  };

  const refresh = async () => {
    try {
      const stack = await api.get(base);
      if (closed) return null;
      stored = !stack.external;
      showServices(stack);
      replace(notice, stack.external
        ? h('p', { class: 'form-info' }, 'moord runs this compose project from files kept elsewhere: it can be stopped,',
          ' taken down or removed here. Saving files below makes it a stack kept by the UI.')
        : null,
      stack.error ? h('p', { class: 'form-error', role: 'alert' }, stack.error) : null);
      if (!busy) buttons.deploy.disabled = !stored;
      return stack;
    } catch (err) {
      if (closed) return null;
      if (err instanceof ApiError && err.status === 404) {
        replace(servicesEl, h('p', { class: 'muted' }, 'This stack no longer exists.'));
        replace(statusEl);
        stored = false;
        buttons.deploy.disabled = true;
        return null;
      }
      replace(servicesEl, errorBox(err));
      return null;
    }
  };

  const operate = async (what, title, body) => {
    if (busy) return null;
    setBusy(true);
    try {
      const error = await runOperation(streams, output, title, `${base}/${what}`, body);
      if (closed) return error;
      if (error && error !== 'cancelled') toast(`${title} of ${name} failed: ${error}`, 'error');
      else if (!error) toast(`${title} of ${name}: done`, 'success');
      await refresh();
      return error;
    } finally {
      if (!closed) setBusy(false);
    }
  };

  const volumesChoice = () => {
    const box = h('input', { type: 'checkbox', id: uid('volumes') });
    return { box, el: field('Also remove the named volumes of the stack', box) };
  };

  const takeDown = async () => {
    const choice = volumesChoice();
    const ok = await confirmDialog(`Stop and remove the containers and networks of ${name}? Its files are kept.`,
      { title: `Take down ${name}`, confirmLabel: 'Take down', body: choice.el });
    if (ok) await operate('down', 'Take down', { volumes: choice.box.checked });
  };

  const removeStack = async () => {
    const choice = volumesChoice();
    const ok = await confirmDialog(`Take down ${name} and delete its compose and env files?`,
      { title: `Remove ${name}`, confirmLabel: 'Remove', body: choice.el });
    if (!ok || busy) return;
    setBusy(true);
    output.start('Remove');
    try {
      await api.del(base, { volumes: choice.box.checked });
      if (closed) return;
      output.end('Remove', null);
      toast(`Stack ${name} removed`, 'success');
      window.location.hash = '#/stacks';
    } catch (err) {
      output.end('Remove', errorMessage(err));
      toast(errorMessage(err), 'error');
      if (!closed) setBusy(false);
    }
  };

  const saveFiles = async (deploy) => {
    replace(problem);
    if (busy) return;
    try {
      await api.put(base, { compose: compose.area.value, env: env.area.value });
    } catch (err) {
      replace(problem, errorMessage(err));
      compose.area.focus();
      return;
    }
    saved = { compose: compose.area.value, env: env.area.value };
    markDirty();
    stored = true;
    toast(`Stack ${name} saved`, 'success');
    await refresh();
    if (deploy) await operate('up', 'Deploy');
  };

  actions.append(buttons.deploy, buttons.stop, buttons.down, buttons.remove);
  root.append(
    pageHeader(h('span', null, 'Stack ', h('span', { class: 'stack-name' }, name), ' ', statusEl), actions),
    h('p', null, h('a', { href: '#/stacks' }, '← All stacks')),
    notice,
    h('div', { class: 'panel' }, h('h2', null, 'Services'), servicesEl),
    output.el,
    h('form', { class: 'panel', 'aria-labelledby': 'stack-files-title', novalidate: true,
      onsubmit: (ev) => { ev.preventDefault(); saveFiles(false); } },
    h('h2', { id: 'stack-files-title' }, 'Files'),
    compose.wrap, env.wrap, problem,
    h('div', { class: 'actions' }, buttons.save, buttons.saveDeploy, dirty)));

  const stack = await refresh();
  if (stack) {
    saved = { compose: stack.compose || '', env: stack.env || '' };
    compose.area.value = saved.compose;
    env.area.value = saved.env;
  } else if (!closed) {
    compose.area.value = EXAMPLE;
    markDirty();
  }
  const followed = followEvents(() => { if (!closed) refresh(); }, name);
  if (params.deploy && stored) {
    history.replaceState(null, '', `#/stacks/${encodeURIComponent(name)}`);
    operate('up', 'Deploy');
  }
  return () => {
    closed = true;
    followed.close();
    for (const stream of streams) stream.close();
  };
}

export async function render(root, params) {
  if (params && params.name) {
    if (!validName(params.name)) {
      root.append(pageHeader('Stack'), errorBox(new Error(`“${params.name}” is not a valid stack name.`)),
        h('p', null, h('a', { href: '#/stacks' }, '← All stacks')));
      return null;
    }
    return renderStack(root, params.name, params);
  }
  return renderList(root);
}
