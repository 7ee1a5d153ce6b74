// One container: overview and actions, live logs (follow, search), live stats charts, processes (top), an
// interactive console (xterm.js over a WebSocket to an exec with a TTY), the raw inspect JSON, and
// "recreate with a fresh pull". Each tab opens its stream when shown and closes it when hidden; leaving the
// page closes everything.

import { docker, events, postStream, csrf } from '../api.js';
import {
  h, replace, clear, button, toast, errorBox, loading, pageHeader, table, field, uid, confirmDialog,
  stateBadge, healthBadge, healthOf, fmtDate, fmtAgo, fmtBytes, fmtBytesBinary, shortId, errorMessage, debounce,
} from '../ui.js';
import { ACTIONS, actionsFor, confirmAction, renameContainer } from '../containerops.js';
import { LineChart } from '../chart.js';
import { navigate } from '../app.js';

const MAX_LOG_LINES = 5000;
const TABS = [['overview', 'Overview'], ['logs', 'Logs'], ['stats', 'Stats'], ['top', 'Processes'],
  ['console', 'Console'], ['inspect', 'Inspect']];

function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', null, k), h('dd', null, v instanceof Node ? v : String(v))]));
}

/** The published ports of an inspect answer as text lines ("8080/tcp → 0.0.0.0:80"). */
export function portLines(info) {
  const ports = (info.NetworkSettings && info.NetworkSettings.Ports) || {};
  const lines = [];
  for (const [port, bindings] of Object.entries(ports)) {
    if (!bindings || !bindings.length) lines.push(`${port} (not published)`);
    else for (const b of bindings) lines.push(`${b.HostIp || '0.0.0.0'}:${b.HostPort} → ${port}`);
  }
  return lines;
}

function portLinks(info) {
  const ports = (info.NetworkSettings && info.NetworkSettings.Ports) || {};
  const items = [];
  for (const [port, bindings] of Object.entries(ports)) {
    if (!bindings || !bindings.length) {
      items.push(h('span', { class: 'port' }, port));
      continue;
    }
    for (const b of bindings) {
      const ip = !b.HostIp || b.HostIp === '0.0.0.0' || b.HostIp === '::' ? window.location.hostname : b.HostIp;
      const hostPart = ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
      const text = `${b.HostPort}→${port}`;
      items.push(port.endsWith('/tcp')
        ? h('a', { class: 'port', href: `http://${hostPart}:${b.HostPort}/`, target: '_blank', rel: 'noopener noreferrer' }, text)
        : h('span', { class: 'port' }, text));
    }
  }
  return items.length ? h('span', { class: 'ports' }, items) : '–';
}

function overview(info) {
  const s = info.State || {};
  const cfg = info.Config || {};
  const host = info.HostConfig || {};
  const nets = (info.NetworkSettings && info.NetworkSettings.Networks) || {};
  const restart = host.RestartPolicy || {};
  return [
    h('div', { class: 'grid-2' },
      h('div', { class: 'panel' }, h('h2', null, 'Container'), kv([
        ['ID', h('span', { class: 'mono' }, info.Id)],
        ['Image', cfg.Image],
        ['Image ID', shortId(info.Image)],
        ['Command', [...(info.Path ? [info.Path] : []), ...(info.Args || [])].join(' ')],
        ['Created', `${fmtDate(info.Created)} (${fmtAgo(info.Created)})`],
        ['State', h('span', null, stateBadge(s.Status), ' ', healthBadge(healthOf(info)))],
        ['Started', s.Running || s.StartedAt ? fmtDate(s.StartedAt) : null],
        ['Finished', !s.Running && s.FinishedAt ? fmtDate(s.FinishedAt) : null],
        ['Exit code', !s.Running && s.Status === 'exited' ? s.ExitCode : null],
        ['Error', s.Error || null],
        ['Restart policy', restart.Name ? `${restart.Name}${restart.MaximumRetryCount ? `:${restart.MaximumRetryCount}` : ''}` : 'no'],
        ['Restarts', info.RestartCount],
        ['Auto-remove', host.AutoRemove ? 'yes' : null],
        ['TTY', cfg.Tty ? 'yes' : 'no'],
      ])),
      h('div', { class: 'panel' }, h('h2', null, 'Network and resources'), kv([
        ['Ports', portLinks(info)],
        ...Object.entries(nets).map(([name, n]) => [`Network ${name}`,
          [n.IPAddress, n.GlobalIPv6Address].filter(Boolean).join(', ') || '(no address)']),
        ['Memory limit', host.Memory ? fmtBytesBinary(host.Memory) : 'none'],
        ['CPUs', host.NanoCpus ? (host.NanoCpus / 1e9).toString() : 'no limit'],
        ['Working directory', cfg.WorkingDir],
        ['User', cfg.User],
      ]))),
    s.Health ? h('div', { class: 'panel' }, h('h2', null, 'Health checks'),
      h('p', null, healthBadge(s.Health.Status), ` ${s.Health.FailingStreak || 0} failing in a row`),
      table([
        { label: 'Started', class: 'nowrap', render: (c) => fmtDate(c.Start) },
        { label: 'Exit code', render: (c) => String(c.ExitCode) },
        { label: 'Output', render: (c) => h('span', { class: 'mono' }, String(c.Output || '').trim()) },
      ], [...(s.Health.Log || [])].reverse(), { empty: 'No check has run yet.', caption: 'Health checks' })) : null,
    h('div', { class: 'panel' }, h('h2', null, 'Mounts'), table([
      { label: 'Type', render: (m) => m.Type },
      { label: 'Source', render: (m) => m.Name || m.Source },
      { label: 'Destination', render: (m) => m.Destination },
      { label: 'Mode', render: (m) => (m.RW ? 'rw' : 'ro') },
    ], info.Mounts || [], { empty: 'No mounts.', caption: 'Mounts' })),
    h('div', { class: 'grid-2' },
      h('div', { class: 'panel' }, h('h2', null, 'Environment'),
        (cfg.Env || []).length ? h('pre', { class: 'code short', tabindex: '0', 'aria-label': 'Environment variables' }, (cfg.Env || []).join('\n')) : h('p', { class: 'muted' }, 'None.')),
      h('div', { class: 'panel' }, h('h2', null, 'Labels'), table([
        { label: 'Label', render: ([k]) => k },
        { label: 'Value', render: ([, v]) => v },
      ], Object.entries(cfg.Labels || {}), { empty: 'No labels.', caption: 'Labels' }))),
  ];
}

/** The logs tab: a stream of lines with follow (keep the newest in view) and search (filter and mark). */
function logsTab(panel, id) {
  const follow = h('input', { type: 'checkbox', checked: true });
  const stamps = h('input', { type: 'checkbox' });
  const search = h('input', { type: 'search', placeholder: 'Filter lines' });
  const tail = h('select', null, ['100', '200', '1000', 'all'].map((v) => h('option', { value: v, selected: v === '200' }, v === 'all' ? 'All' : `Last ${v}`)));
  const status = h('span', { class: 'muted', role: 'status' });
  const out = h('pre', { class: 'logs', tabindex: '0', 'aria-label': 'Log lines', 'aria-live': 'off' });
  let stream = null;
  let lines = 0;
  clear(panel);
  panel.append(
    h('div', { class: 'toolbar' },
      h('div', { class: 'grow' }, field('Search', search)),
      field('Lines', tail),
      field('Follow', follow),
      field('Timestamps', stamps),
      button('Clear', () => { clear(out); lines = 0; }),
      status),
    out);

  const matchesSearch = (text) => {
    const q = search.value.trim().toLowerCase();
    return !q || text.toLowerCase().includes(q);
  };

  const renderLine = (el) => {
    const text = el.dataset.text;
    const shown = stamps.checked && el.dataset.time ? `${el.dataset.time} ${text}` : text;
    const q = search.value.trim();
    clear(el);
    if (q) {
      const lower = shown.toLowerCase();
      const ql = q.toLowerCase();
      let at = 0;
      for (let i = lower.indexOf(ql); i >= 0; i = lower.indexOf(ql, at)) {
        el.append(shown.slice(at, i), h('mark', null, shown.slice(i, i + q.length)));
        at = i + q.length;
      }
      el.append(shown.slice(at));
    } else {
      el.append(shown);
    }
    el.append('\n');
    el.classList.toggle('hidden-line', !matchesSearch(text));
  };

  const scroll = () => { if (follow.checked) out.scrollTop = out.scrollHeight; };

  const open = () => {
    if (stream) stream.close();
    clear(out);
    lines = 0;
    replace(status, 'connecting…');
    const q = tail.value === 'all' ? 'all' : tail.value;
    stream = events(`/api/streams/containers/${encodeURIComponent(id)}/logs?tail=${q}`, (msg) => {
      const el = h('span', { class: ['log-line', msg.stream === 'stderr' ? 'stderr' : null], dataset: { text: msg.line || '', time: msg.time || '' } });
      renderLine(el);
      out.appendChild(el);
      lines += 1;
      if (lines > MAX_LOG_LINES) {
        out.removeChild(out.firstChild);
        lines -= 1;
      }
      scroll();
    }, {
      onOpen: () => replace(status, 'streaming'),
      onEnd: (error) => replace(status, error ? `ended: ${error}` : 'ended (the container stopped)'),
    });
  };

  search.addEventListener('input', debounce(() => {
    for (const el of out.children) renderLine(el);
    scroll();
  }, 150));
  stamps.addEventListener('change', () => { for (const el of out.children) renderLine(el); });
  follow.addEventListener('change', scroll);
  tail.addEventListener('change', open);
  out.addEventListener('scroll', () => {
    const atEnd = out.scrollHeight - out.scrollTop - out.clientHeight < 8;
    if (!atEnd && follow.checked && document.activeElement === out) follow.checked = false;
  });
  open();
  return () => { if (stream) stream.close(); stream = null; };
}

/** The stats tab: CPU, memory and network charts from the stats stream (one sample a second). */
function statsTab(panel, id) {
  const charts = {};
  const now = {};
  const make = (key, title, opts) => {
    const canvas = h('canvas', { class: 'chart-canvas', dataset: { chart: key } });
    now[key] = h('span', { class: 'now' }, '–');
    charts[key] = new LineChart(canvas, { ...opts, label: title });
    return h('div', { class: 'chart' }, h('h3', null, title, now[key]), canvas,
      opts.series.length > 1 ? h('div', { class: 'muted legend' }, opts.series.map((s) => h('span', { class: 'legend-item', dataset: { color: s.color } }, `■ ${s.label} `))) : null);
  };
  const status = h('p', { class: 'muted', role: 'status' }, 'connecting…');
  const pids = h('span', null, '–');
  clear(panel);
  panel.append(
    status,
    h('div', { class: 'charts' },
      make('cpu', 'CPU', { series: [{ label: 'CPU', color: '#1f6feb' }], format: (v) => `${v.toFixed(1)} %` }),
      make('mem', 'Memory', { series: [{ label: 'Memory', color: '#8e44ad' }], format: (v) => fmtBytesBinary(v) }),
      make('net', 'Network', { series: [{ label: 'Received', color: '#1b7f3b' }, { label: 'Sent', color: '#e67e22' }], format: (v) => `${fmtBytes(v)}/s` })),
    h('p', null, 'Processes: ', pids));
  // Colour swatches through CSSOM (no inline style attributes under the page's policy).
  for (const el of panel.querySelectorAll('.legend-item')) el.style.color = el.dataset.color;

  let prev = null;
  const stream = events(`/api/streams/containers/${encodeURIComponent(id)}/stats`, (s) => {
    replace(status, `live: ${new Date().toLocaleTimeString()}`);
    const t = s.time ? Date.parse(s.time) : Date.now();
    let rx = 0;
    let tx = 0;
    if (prev && t > prev.t) {
      const dt = (t - prev.t) / 1000;
      rx = Math.max(0, (s.net_rx - prev.rx) / dt);
      tx = Math.max(0, (s.net_tx - prev.tx) / dt);
    }
    prev = { t, rx: s.net_rx, tx: s.net_tx };
    charts.cpu.push([s.cpu_percent]);
    charts.mem.push([s.mem_usage]);
    charts.net.push([rx, tx]);
    replace(now.cpu, `${Number(s.cpu_percent).toFixed(1)} %`);
    replace(now.mem, `${fmtBytesBinary(s.mem_usage)}${s.mem_limit ? ` / ${fmtBytesBinary(s.mem_limit)} (${Number(s.mem_percent).toFixed(1)} %)` : ''}`);
    replace(now.net, `in ${fmtBytes(rx)}/s · out ${fmtBytes(tx)}/s`);
    replace(pids, String(s.pids));
  }, { onEnd: (error) => replace(status, error ? `ended: ${error}` : 'ended (the container is not running)') });
  const redraw = debounce(() => { for (const c of Object.values(charts)) c.draw(); }, 100);
  window.addEventListener('resize', redraw);
  return () => {
    stream.close();
    window.removeEventListener('resize', redraw);
  };
}

/** The processes tab: `top`, refreshed on request. */
function topTab(panel, id) {
  const body = h('div', null, loading());
  const psArgs = h('input', { type: 'text', value: '-ef', placeholder: 'ps options' });
  let closed = false;
  const load = async () => {
    try {
      const top = await docker(`/containers/${encodeURIComponent(id)}/top`, { query: { ps_args: psArgs.value.trim() } });
      if (closed) return;
      const titles = top.Titles || [];
      replace(body, table(titles.map((t, i) => ({ label: t, render: (row) => row[i] })), top.Processes || [],
        { empty: 'No processes.', caption: 'Processes' }));
    } catch (err) {
      if (!closed) replace(body, errorBox(err));
    }
  };
  clear(panel);
  const form = h('form', { class: 'toolbar' }, field('ps options', psArgs), h('button', { type: 'submit', class: 'btn' }, 'Refresh'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); load(); });
  panel.append(form, body);
  load();
  return () => { closed = true; };
}

let xtermModules = null;
/** Load xterm.js and its fit addon (vendored) and their stylesheet, once. */
async function loadXterm() {
  if (!xtermModules) {
    if (!document.querySelector('link[data-xterm]')) {
      document.head.appendChild(h('link', { rel: 'stylesheet', href: '/static/vendor/xterm/xterm.css', dataset: { xterm: '1' } }));
    }
    xtermModules = Promise.all([import('../../vendor/xterm/xterm.mjs'), import('../../vendor/xterm/addon-fit.mjs')]);
  }
  const [xterm, fit] = await xtermModules;
  return { Terminal: xterm.Terminal, FitAddon: fit.FitAddon };
}

/** The console tab: a command run with a TTY through the console WebSocket, drawn by xterm.js. */
function consoleTab(panel, id, running) {
  const cmd = h('input', { type: 'text', value: '/bin/sh', placeholder: '/bin/sh' });
  const status = h('span', { class: 'muted', role: 'status' }, running ? 'not connected' : 'the container is not running');
  const termEl = h('div', { class: 'terminal', 'aria-label': 'Terminal' });
  let socket = null;
  let term = null;
  let fit = null;
  let closed = false;
  const disconnect = () => {
    if (socket) socket.close();
    socket = null;
  };
  const resize = () => {
    if (!term || !fit) return;
    try { fit.fit(); } catch { return; }
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ resize: [term.cols, term.rows] }));
  };
  const connect = async () => {
    disconnect();
    const { Terminal, FitAddon } = await loadXterm();
    if (closed) return;
    if (!term) {
      term = new Terminal({ cursorBlink: true, convertEol: false, fontFamily: 'ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace', fontSize: 14, scrollback: 2000 });
      fit = new FitAddon();
      term.loadAddon(fit);
      clear(termEl);
      term.open(termEl);
      // Ctrl+] leaves the terminal (every other key, Tab and Escape included, goes to the program).
      term.attachCustomKeyEventHandler((ev) => {
        if (ev.type === 'keydown' && ev.ctrlKey && ev.key === ']') {
          ev.preventDefault();
          disconnectBtn.focus();
          return false;
        }
        return true;
      });
      term.onData((data) => { if (socket && socket.readyState === WebSocket.OPEN) socket.send(new TextEncoder().encode(data)); });
      term.onBinary((data) => {
        if (!socket || socket.readyState !== WebSocket.OPEN) return;
        const bytes = new Uint8Array(data.length);
        for (let i = 0; i < data.length; i += 1) bytes[i] = data.charCodeAt(i) & 0xff;
        socket.send(bytes);
      });
    }
    try { fit.fit(); } catch { /* not laid out yet */ }
    term.reset();
    const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    const q = new URLSearchParams({ cmd: cmd.value.trim() || '/bin/sh', csrf: csrf() });
    const ws = new WebSocket(`${scheme}//${window.location.host}/api/containers/${encodeURIComponent(id)}/console?${q}`);
    ws.binaryType = 'arraybuffer';
    socket = ws;
    replace(status, 'connecting…');
    ws.onopen = () => {
      replace(status, 'connected');
      panel.dataset.console = 'open';
      resize();
      term.focus();
    };
    ws.onmessage = (ev) => {
      if (typeof ev.data === 'string') {
        try {
          const msg = JSON.parse(ev.data);
          if (msg.error) term.write(`\r\n\x1b[31m${msg.error}\x1b[0m\r\n`);
        } catch { term.write(ev.data); }
        return;
      }
      term.write(new Uint8Array(ev.data));
    };
    ws.onclose = (ev) => {
      if (socket === ws) socket = null;
      panel.dataset.console = 'closed';
      replace(status, ev.reason ? `closed: ${ev.reason}` : 'closed');
      if (term) term.write('\r\n\x1b[2m[the session ended]\x1b[0m\r\n');
    };
  };
  clear(panel);
  const disconnectBtn = button('Disconnect', disconnect);
  const form = h('form', { class: 'toolbar' },
    h('div', { class: 'grow' }, field('Command', cmd)),
    h('button', { type: 'submit', class: 'btn btn-primary', disabled: !running }, 'Connect'),
    disconnectBtn,
    status);
  form.addEventListener('submit', (ev) => { ev.preventDefault(); connect().catch((err) => replace(status, errorMessage(err))); });
  panel.append(form, termEl,
    h('p', { class: 'muted', id: 'console-help' }, 'Keys typed in the terminal go to the program, Tab included: press Ctrl+] to leave the terminal.'));
  termEl.setAttribute('aria-describedby', 'console-help');
  const onResize = debounce(resize, 150);
  window.addEventListener('resize', onResize);
  if (running) connect().catch((err) => replace(status, errorMessage(err)));
  return () => {
    closed = true;
    window.removeEventListener('resize', onResize);
    disconnect();
    if (term) term.dispose();
    term = null;
  };
}

/**
 * Recreate the container with a fresh pull of its image, showing the pull's progress in a dialog.
 * Resolves to the new container's id, or null when cancelled or failed (the dialog shows the error).
 */
async function recreate(info) {
  const name = (info.Name || '').replace(/^\//, '');
  const ok = await confirmDialog(`Pull ${info.Config.Image} again and recreate ${name} from it with the same settings? The container is stopped and replaced.`,
    { title: 'Recreate with a fresh pull', confirmLabel: 'Recreate', danger: false });
  if (!ok) return null;
  const log = h('pre', { class: 'logs progress-log', 'aria-label': 'Pull progress' });
  const titleId = uid('dlg');
  const status = h('p', { role: 'status' }, 'Pulling…');
  const closeBtn = h('button', { type: 'button', class: 'btn' }, 'Cancel');
  const dialog = h('dialog', { class: 'dialog dialog-wide', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, `Recreating ${name}`), status, log, h('div', { class: 'dialog-actions' }, closeBtn));
  document.body.appendChild(dialog);
  dialog.showModal();
  const lines = new Map();
  let order = 0;
  const draw = () => {
    replace(log, [...lines.entries()].map(([k, v]) => `${k.startsWith('#') ? '' : `${k}: `}${v}\n`));
    log.scrollTop = log.scrollHeight;
  };
  let endData = null;
  const stream = postStream(`/api/containers/${encodeURIComponent(info.Id)}/recreate`, { pull: true }, (msg) => {
    const text = (msg.errorDetail && msg.errorDetail.message) || msg.error
      || [msg.status, msg.progress].filter(Boolean).join(' ') || msg.stream || msg.line || '';
    if (!text) return;
    lines.set(msg.id ? String(msg.id) : `#${order += 1}`, String(text).trim());
    draw();
  }, { onEnd: (_error, data) => { endData = data; } });
  const closed = new Promise((resolve) => {
    closeBtn.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => { stream.close(); dialog.remove(); resolve(); });
  });
  const error = await Promise.race([stream.done, closed.then(() => 'cancelled')]);
  if (error) {
    if (error !== 'cancelled') {
      replace(status, `Failed: ${error}`);
      closeBtn.textContent = 'Close';
      closeBtn.focus();
      await closed;
      toast(`Recreate ${name}: ${error}`, 'error', 8000);
    }
    return null;
  }
  dialog.close();
  await closed;
  const newId = endData && endData.id ? String(endData.id) : info.Id;
  toast(`${name} was recreated from a fresh pull.`, 'success');
  return newId;
}

export async function render(root, params) {
  const id = params.id;
  const cleanups = [];
  let tabCleanup = null;
  let info;
  try {
    info = await docker(`/containers/${encodeURIComponent(id)}/json`);
  } catch (err) {
    root.append(pageHeader('Container'), errorBox(err), h('p', null, h('a', { href: '#/containers' }, 'Back to the containers')));
    return () => {};
  }
  const name = (info.Name || '').replace(/^\//, '') || shortId(info.Id);
  const header = h('div');
  const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': 'Container sections' });
  const panels = {};
  const tabs = {};
  let current = '';

  const renderHeader = () => {
    const state = info.State.Status;
    const actions = actionsFor(state).map((a) => button(ACTIONS[a].label, async () => {
      const opts = await confirmAction(a, [name]);
      if (!opts) return;
      await ACTIONS[a].call(info.Id, opts);
      toast(`${ACTIONS[a].label}: ${name} done.`, 'success');
      if (a === 'remove') {
        navigate('#/containers');
        return;
      }
      await reload();
    }, { kind: ACTIONS[a].danger ? 'danger' : null }));
    actions.splice(actions.length - 1, 0,
      button('Rename', async () => {
        const renamed = await renameContainer(info.Id, (info.Name || '').replace(/^\//, ''));
        if (renamed) { toast(`Renamed to ${renamed}.`, 'success'); await reload(); }
      }),
      button('Recreate with a fresh pull', async () => {
        const newId = await recreate(info);
        if (!newId) return;
        if (newId !== info.Id) navigate(`#/containers/${encodeURIComponent(newId)}`);
        else await reload();
      }));
    replace(header, pageHeader(h('span', null, name, ' ', stateBadge(state), ' ', healthBadge(healthOf(info))), actions),
      h('p', null, h('a', { href: '#/containers' }, '← All containers'), ' · ', h('span', { class: 'muted' }, `${info.Config.Image} · ${shortId(info.Id)}`)));
  };

  const showTab = (key, focus = false) => {
    if (!panels[key]) key = 'overview';
    if (tabCleanup) { tabCleanup(); tabCleanup = null; }
    current = key;
    for (const [k, tab] of Object.entries(tabs)) {
      const on = k === key;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      panels[k].hidden = !on;
    }
    if (focus) tabs[key].focus();
    const panel = panels[key];
    const running = info.State.Running && !info.State.Paused;
    if (key === 'overview') replace(panel, overview(info));
    else if (key === 'inspect') replace(panel, h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Inspect JSON' }, JSON.stringify(info, null, 2)));
    else if (key === 'logs') tabCleanup = logsTab(panel, info.Id);
    else if (key === 'stats') tabCleanup = statsTab(panel, info.Id);
    else if (key === 'top') tabCleanup = topTab(panel, info.Id);
    else if (key === 'console') tabCleanup = consoleTab(panel, info.Id, running);
    const hash = `#/containers/${encodeURIComponent(id)}${key === 'overview' ? '' : `?tab=${key}`}`;
    if (window.location.hash !== hash) history.replaceState(null, '', hash);
  };

  TABS.forEach(([key, label], i) => {
    const tabId = uid('tab');
    const panelId = uid('panel');
    const tab = h('button', { type: 'button', role: 'tab', id: tabId, 'aria-controls': panelId, 'aria-selected': 'false', tabindex: '-1', dataset: { tab: key } }, label);
    tab.addEventListener('click', () => showTab(key));
    tab.addEventListener('keydown', (ev) => {
      const keys = TABS.map(([k]) => k);
      let next = null;
      if (ev.key === 'ArrowRight') next = keys[(i + 1) % keys.length];
      else if (ev.key === 'ArrowLeft') next = keys[(i - 1 + keys.length) % keys.length];
      else if (ev.key === 'Home') next = keys[0];
      else if (ev.key === 'End') next = keys[keys.length - 1];
      if (next) { ev.preventDefault(); showTab(next, true); }
    });
    tabs[key] = tab;
    tablist.appendChild(tab);
    panels[key] = h('div', { role: 'tabpanel', id: panelId, 'aria-labelledby': tabId, hidden: true, dataset: { panel: key } });
  });

  const reload = async () => {
    try {
      info = await docker(`/containers/${encodeURIComponent(id)}/json`);
    } catch (err) {
      if (err.status === 404) {
        replace(header, pageHeader(name), h('p', { role: 'status' }, 'This container was removed. ', h('a', { href: '#/containers' }, 'Back to the containers')));
        return;
      }
      throw err;
    }
    renderHeader();
    if (current === 'overview' || current === 'inspect') showTab(current);
  };

  root.append(header, tablist, ...Object.values(panels));
  renderHeader();
  showTab(params.tab || 'overview');

  // Follow this container's state changes (start, stop, die, pause...) from the event stream.
  const filters = JSON.stringify({ type: ['container'], container: [info.Id] });
  let lastState = info.State.Status;
  const refresh = debounce(async () => {
    try {
      await reload();
      if (info.State.Status !== lastState && (current === 'console' || current === 'stats' || current === 'logs')) showTab(current);
      lastState = info.State && info.State.Status;
    } catch (err) { toast(errorMessage(err), 'error'); }
  }, 400);
  const stream = events(`/api/streams/events?filters=${encodeURIComponent(filters)}`, (ev) => {
    const action = String(ev.Action || ev.status || '');
    if (action.startsWith('exec_') || action.startsWith('top')) return;
    if (ev.Actor && ev.Actor.ID && ev.Actor.ID !== info.Id) return;
    refresh();
  }, { retry: true });
  cleanups.push(() => stream.close());

  return () => {
    if (tabCleanup) tabCleanup();
    for (const fn of cleanups) fn();
  };
}
