// Create (and start) a container from a form covering the common `docker run` flags: image, name, command,
// environment, ports, volumes, network, restart policy, memory and CPU limits, labels, TTY, auto-remove.
// A missing image is pulled first (with its progress shown) when "Pull the image if missing" is checked.

import { docker, postStream, ApiError } from '../api.js';
import { h, replace, clear, button, field, select, uid, toast, pageHeader, errorMessage } from '../ui.js';
import { navigate } from '../app.js';

/** Split a command line as a POSIX shell would split words (quotes and backslashes; no expansion). */
export function shellSplit(text) {
  const words = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (quote === "'") {
      if (c === "'") quote = '';
      else word += c;
    } else if (quote === '"') {
      if (c === '"') quote = '';
      else if (c === '\\' && i + 1 < text.length && '"\\$`\n'.includes(text[i + 1])) word += text[(i += 1)];
      else word += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[(i += 1)];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated ${quote === '"' ? 'double' : 'single'} quote in the command`);
  if (inWord) words.push(word);
  return words;
}

/** "512m" -> bytes (Docker's units: b, k, m, g, t, powers of 1024); '' -> 0. Throws on bad input. */
export function parseMemory(text) {
  const t = String(text || '').trim().toLowerCase();
  if (!t) return 0;
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/.exec(t);
  if (!m) throw new Error(`invalid memory size "${text}": use a number with b, k, m or g (e.g. 512m)`);
  const mult = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[m[2]];
  const bytes = Math.floor(parseFloat(m[1]) * mult);
  if (bytes > 0 && bytes < 6 * 1024 * 1024) throw new Error('the memory limit must be at least 6 MiB');
  return bytes;
}

/** Lines "KEY=value" (blank lines and # comments left out); a line without "=" is an error for labels. */
export function parseLines(text, { requireEquals = false, what = 'line' } = {}) {
  const out = [];
  String(text || '').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    if (requireEquals && !line.includes('=')) throw new Error(`${what} ${i + 1}: "${line}" has no "="`);
    if (line.startsWith('=')) throw new Error(`${what} ${i + 1}: "${line}" has no name`);
    out.push(line);
  });
  return out;
}

function portNumber(text, what) {
  const t = String(text || '').trim();
  if (!t) return '';
  if (!/^\d+(-\d+)?$/.test(t)) throw new Error(`${what} "${text}" is not a port number`);
  for (const p of t.split('-')) if (Number(p) < 1 || Number(p) > 65535) throw new Error(`${what} ${p} is out of range (1-65535)`);
  return t;
}

/**
 * The body of POST /containers/create from the form's values.
 * @param {object} v the form's values (see readForm)
 */
export function buildBody(v) {
  const body = { Image: v.image.trim(), Tty: !!v.tty, OpenStdin: !!v.interactive, AttachStdin: false, AttachStdout: true, AttachStderr: true };
  if (!body.Image) throw new Error('an image is required');
  const cmd = shellSplit(v.command || '');
  if (cmd.length) body.Cmd = cmd;
  const entrypoint = shellSplit(v.entrypoint || '');
  if (entrypoint.length) body.Entrypoint = entrypoint;
  if (v.workdir && v.workdir.trim()) body.WorkingDir = v.workdir.trim();
  if (v.user && v.user.trim()) body.User = v.user.trim();
  const env = parseLines(v.env, { what: 'environment line' });
  if (env.length) body.Env = env;
  const labels = {};
  for (const line of parseLines(v.labels, { requireEquals: true, what: 'label line' })) {
    const at = line.indexOf('=');
    labels[line.slice(0, at).trim()] = line.slice(at + 1);
  }
  if (Object.keys(labels).length) body.Labels = labels;
  const host = { NetworkMode: v.network || 'bridge' };
  const exposed = {};
  const bindings = {};
  for (const p of v.ports || []) {
    const containerPort = portNumber(p.container, 'container port');
    const hostPort = portNumber(p.host, 'host port');
    if (!containerPort) {
      if (hostPort || (p.ip && p.ip.trim())) throw new Error('a published port needs its container port');
      continue;
    }
    const key = `${containerPort}/${p.proto || 'tcp'}`;
    exposed[key] = {};
    (bindings[key] = bindings[key] || []).push({ HostIp: (p.ip || '').trim(), HostPort: hostPort });
  }
  if (Object.keys(exposed).length) {
    body.ExposedPorts = exposed;
    host.PortBindings = bindings;
  }
  const binds = [];
  const anonymous = {};
  for (const m of v.volumes || []) {
    const target = (m.target || '').trim();
    const source = (m.source || '').trim();
    if (!target) {
      if (source) throw new Error(`the volume "${source}" needs a path in the container`);
      continue;
    }
    if (!target.startsWith('/')) throw new Error(`the container path "${target}" must be absolute`);
    if (source) binds.push(`${source}:${target}${m.readonly ? ':ro' : ''}`);
    else anonymous[target] = {};
  }
  if (binds.length) host.Binds = binds;
  if (Object.keys(anonymous).length) body.Volumes = anonymous;
  if (v.restart && v.restart !== 'no') {
    host.RestartPolicy = { Name: v.restart, MaximumRetryCount: v.restart === 'on-failure' ? Number(v.retries || 0) : 0 };
  }
  const memory = parseMemory(v.memory);
  if (memory) host.Memory = memory;
  if (v.cpus && String(v.cpus).trim()) {
    const cpus = Number(v.cpus);
    if (!Number.isFinite(cpus) || cpus <= 0) throw new Error(`invalid number of CPUs "${v.cpus}"`);
    host.NanoCpus = Math.round(cpus * 1e9);
  }
  if (v.autoRemove) {
    host.AutoRemove = true;
    if (host.RestartPolicy) throw new Error('auto-remove and a restart policy cannot be used together');
  }
  body.HostConfig = host;
  return body;
}

/** A list editor: rows of inputs with "Add" and "Remove" buttons. */
function rowsEditor(legend, makeRow, addLabel) {
  const rows = h('div', { class: 'rows' });
  const entries = [];
  const add = () => {
    const entry = makeRow();
    const row = h('div', { class: 'row' }, entry.nodes,
      button('Remove', () => {
        entries.splice(entries.indexOf(entry), 1);
        row.remove();
      }, { ariaLabel: `Remove this ${addLabel}`, kind: 'ghost' }));
    entries.push(entry);
    rows.appendChild(row);
    const first = row.querySelector('input, select');
    return first;
  };
  const addBtn = button(`Add ${addLabel}`, () => { const first = add(); if (first) first.focus(); });
  return {
    node: h('fieldset', null, h('legend', null, legend), rows, addBtn),
    values: () => entries.map((e) => e.value()),
    add,
  };
}

export async function render(root, params) {
  let pullStream = null;
  const image = h('input', { type: 'text', required: true, placeholder: 'busybox:latest', value: params.image || '', autocapitalize: 'none', spellcheck: 'false', name: 'image' });
  const name = h('input', { type: 'text', placeholder: 'optional', name: 'name', pattern: '[a-zA-Z0-9][a-zA-Z0-9_.-]*', autocapitalize: 'none', spellcheck: 'false' });
  const command = h('input', { type: 'text', placeholder: 'the image’s default (e.g. sh -c "echo hi")', name: 'command', spellcheck: 'false' });
  const entrypoint = h('input', { type: 'text', placeholder: 'the image’s default', name: 'entrypoint', spellcheck: 'false' });
  const workdir = h('input', { type: 'text', placeholder: 'the image’s default', name: 'workdir' });
  const user = h('input', { type: 'text', placeholder: 'the image’s default', name: 'user' });
  const env = h('textarea', { rows: 4, placeholder: 'KEY=value', name: 'env', spellcheck: 'false' });
  const labels = h('textarea', { rows: 3, placeholder: 'com.example.team=web', name: 'labels', spellcheck: 'false' });
  const network = select([['bridge', 'bridge']], 'bridge', { name: 'network' });
  const restart = select([['no', 'No'], ['always', 'Always'], ['unless-stopped', 'Unless stopped'], ['on-failure', 'On failure']], 'no', { name: 'restart' });
  const retries = h('input', { type: 'number', min: '0', value: '0', name: 'retries' });
  const memory = h('input', { type: 'text', placeholder: 'e.g. 256m (none)', name: 'memory' });
  const cpus = h('input', { type: 'number', min: '0', step: '0.1', placeholder: 'e.g. 0.5 (no limit)', name: 'cpus' });
  const tty = h('input', { type: 'checkbox', name: 'tty' });
  const interactive = h('input', { type: 'checkbox', name: 'interactive' });
  const autoRemove = h('input', { type: 'checkbox', name: 'autoRemove' });
  const start = h('input', { type: 'checkbox', name: 'start', checked: true });
  const pull = h('input', { type: 'checkbox', name: 'pull', checked: true });
  const retriesField = field('Maximum retries', retries);
  retriesField.hidden = true;
  restart.addEventListener('change', () => { retriesField.hidden = restart.value !== 'on-failure'; });

  const ports = rowsEditor('Published ports', () => {
    const hostPort = h('input', { type: 'text', inputmode: 'numeric', placeholder: 'any', size: 6 });
    const containerPort = h('input', { type: 'text', inputmode: 'numeric', placeholder: '80', size: 6 });
    const proto = select([['tcp', 'TCP'], ['udp', 'UDP'], ['sctp', 'SCTP']], 'tcp');
    const ip = h('input', { type: 'text', placeholder: 'all addresses', size: 12 });
    return {
      nodes: [field('Host port', hostPort), field('Container port', containerPort), field('Protocol', proto), field('Host address', ip)],
      value: () => ({ host: hostPort.value, container: containerPort.value, proto: proto.value, ip: ip.value }),
    };
  }, 'port');
  const volumes = rowsEditor('Volumes and bind mounts', () => {
    const source = h('input', { type: 'text', placeholder: 'volume name, host path, or empty' });
    const target = h('input', { type: 'text', placeholder: '/data' });
    const ro = h('input', { type: 'checkbox' });
    return {
      nodes: [field('Volume or host path', source), field('Path in the container', target), field('Read-only', ro)],
      value: () => ({ source: source.value, target: target.value, readonly: ro.checked }),
    };
  }, 'volume');

  const error = h('p', { class: 'form-error', role: 'alert' });
  const progress = h('pre', { class: 'logs progress-log', hidden: true, 'aria-label': 'Pull progress' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create');
  start.addEventListener('change', () => { submit.textContent = start.checked ? 'Create and start' : 'Create'; });
  submit.textContent = 'Create and start';

  const form = h('form', { class: 'create-form', 'aria-labelledby': 'create-title', novalidate: true },
    h('fieldset', null, h('legend', null, 'Container'),
      h('div', { class: 'form-grid' },
        field('Image', image, 'name[:tag], e.g. busybox or nginx:1.25'),
        field('Name', name),
        field('Command', command, 'words split as a shell does; quotes keep spaces'),
        field('Entrypoint', entrypoint),
        field('Working directory', workdir),
        field('User', user))),
    h('fieldset', null, h('legend', null, 'Environment and labels'),
      h('div', { class: 'form-grid' },
        field('Environment variables', env, 'one KEY=value a line'),
        field('Labels', labels, 'one key=value a line'))),
    ports.node,
    volumes.node,
    h('fieldset', null, h('legend', null, 'Network, restart and resources'),
      h('div', { class: 'form-grid' },
        field('Network', network),
        h('div', null, field('Restart policy', restart), retriesField),
        field('Memory limit', memory),
        field('CPUs', cpus))),
    h('fieldset', null, h('legend', null, 'Options'),
      field('Allocate a terminal (TTY, -t)', tty),
      field('Keep standard input open (-i)', interactive),
      field('Remove the container when it exits (--rm)', autoRemove),
      field('Pull the image if it is missing', pull),
      field('Start the container after creating it', start)),
    error,
    progress,
    h('div', { class: 'actions' }, submit, h('a', { href: '#/containers', class: 'btn' }, 'Cancel')));

  root.append(pageHeader('New container'), form);
  const titleEl = root.querySelector('h1');
  titleEl.id = 'create-title';

  docker('/networks').then((list) => {
    const names = list.map((n) => n.Name).sort((a, b) => (a === 'bridge' ? -1 : b === 'bridge' ? 1 : a.localeCompare(b)));
    replace(network, names.map((n) => h('option', { value: n, selected: n === 'bridge' }, n)));
  }).catch(() => {});

  const readForm = () => ({
    image: image.value, name: name.value, command: command.value, entrypoint: entrypoint.value, workdir: workdir.value,
    user: user.value, env: env.value, labels: labels.value, network: network.value, restart: restart.value,
    retries: retries.value, memory: memory.value, cpus: cpus.value, tty: tty.checked, interactive: interactive.checked,
    autoRemove: autoRemove.checked, ports: ports.values(), volumes: volumes.values(),
  });

  const pullImage = (ref) => new Promise((resolve, reject) => {
    progress.hidden = false;
    clear(progress);
    const lines = new Map();
    let order = 0;
    pullStream = postStream('/api/images/pull', { image: ref }, (msg) => {
      const text = (msg.errorDetail && msg.errorDetail.message) || msg.error || [msg.status, msg.progress].filter(Boolean).join(' ');
      if (!text) return;
      lines.set(msg.id ? String(msg.id) : `#${order += 1}`, text);
      replace(progress, [...lines.entries()].map(([k, t]) => `${k.startsWith('#') ? '' : `${k}: `}${t}\n`));
      progress.scrollTop = progress.scrollHeight;
    }, { onEnd: (err) => { pullStream = null; if (err) reject(new Error(`pull ${ref}: ${err}`)); else resolve(); } });
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    replace(error);
    let body;
    try {
      body = buildBody(readForm());
      if (name.value.trim() && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name.value.trim())) {
        throw new Error('a name starts with a letter or digit and has only letters, digits, "_", "." and "-"');
      }
    } catch (err) {
      replace(error, errorMessage(err));
      return;
    }
    submit.disabled = true;
    try {
      const q = { name: name.value.trim() };
      let created;
      try {
        created = await docker('/containers/create', { method: 'POST', body, query: q });
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404 && pull.checked && /image/i.test(err.message))) throw err;
        replace(error, '');
        await pullImage(body.Image);
        created = await docker('/containers/create', { method: 'POST', body, query: q });
      }
      for (const warning of created.Warnings || []) toast(warning, 'info', 8000);
      if (start.checked) await docker(`/containers/${created.Id}/start`, { method: 'POST' });
      toast(`Container ${q.name || created.Id.slice(0, 12)} ${start.checked ? 'started' : 'created'}.`, 'success');
      navigate(`#/containers/${encodeURIComponent(created.Id)}${start.checked ? '?tab=logs' : ''}`);
    } catch (err) {
      replace(error, errorMessage(err));
    } finally {
      submit.disabled = false;
    }
  });
  image.focus();
  return () => { if (pullStream) pullStream.close(); };
}
