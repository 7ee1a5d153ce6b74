// The containers list: state, health, image, ports as links; search and a state filter; the actions for
// one container (a menu per row) and for the selected ones (bulk). The list follows the event stream.

import { docker } from '../api.js';
import { followList } from '../live.js';
import {
  h, replace, table, button, linkButton, toast, loading, pageHeader, select, field, uid, stateBadge,
  healthBadge, healthOf, fmtPorts, fmtAgo, containerName, shortId, debounce, errorMessage,
} from '../ui.js';
import { ACTIONS, actionsFor, confirmAction, renameContainer } from '../containerops.js';

const STATES = [['', 'All states'], ['running', 'Running'], ['paused', 'Paused'], ['restarting', 'Restarting'],
  ['exited', 'Exited'], ['created', 'Created'], ['dead', 'Dead'], ['unhealthy', 'Unhealthy']];

/** The compose project (stack) a container belongs to, or ''. */
export function stackOf(c) {
  return (c.Labels && c.Labels['com.docker.compose.project']) || '';
}

/** Whether container c matches the search text and state filter. */
export function matches(c, text, state) {
  if (state === 'unhealthy') {
    if (healthOf(c) !== 'unhealthy') return false;
  } else if (state && c.State !== state) {
    return false;
  }
  const q = (text || '').trim().toLowerCase();
  if (!q) return true;
  const hay = [containerName(c), c.Image, c.Id, c.Command, c.Status,
    ...Object.entries(c.Labels || {}).map(([k, v]) => `${k}=${v}`)].join(' ').toLowerCase();
  return q.split(/\s+/).every((word) => hay.includes(word));
}

export async function render(root, params) {
  const selected = new Set();
  let all = [];
  let closed = false;

  const search = h('input', { type: 'search', placeholder: 'Name, image, id or label', value: params.q || '', id: uid('search') });
  const stateFilter = select(STATES, params.state || '', { id: uid('state') });
  const count = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const bulk = h('div', { class: 'actions', role: 'group', 'aria-label': 'Actions on the selected containers' });
  const listEl = h('div', null, loading());

  root.append(
    pageHeader('Containers', linkButton('New container', '#/containers/new', { kind: 'primary' })),
    h('div', { class: 'toolbar' },
      h('div', { class: 'grow' }, field('Search', search)),
      field('State', stateFilter),
      count),
    bulk,
    listEl);

  const visible = () => all.filter((c) => matches(c, search.value, stateFilter.value));

  const saveFilters = () => {
    const q = new URLSearchParams();
    if (search.value.trim()) q.set('q', search.value.trim());
    if (stateFilter.value) q.set('state', stateFilter.value);
    const hash = `#/containers${q.toString() ? `?${q}` : ''}`;
    if (window.location.hash !== hash) history.replaceState(null, '', hash);
  };

  const runOn = async (action, containers) => {
    if (!containers.length) return;
    const opts = await confirmAction(action, containers.map(containerName));
    if (!opts) return;
    const results = await Promise.allSettled(containers.map((c) => ACTIONS[action].call(c.Id, opts)));
    const failed = results.map((r, i) => [r, containers[i]]).filter(([r]) => r.status === 'rejected');
    for (const [r, c] of failed) toast(`${ACTIONS[action].label} ${containerName(c)}: ${errorMessage(r.reason)}`, 'error', 8000);
    const done = containers.length - failed.length;
    if (done) toast(`${ACTIONS[action].label}: ${done} container${done === 1 ? '' : 's'} done.`, 'success');
    if (action === 'remove') for (const c of containers) selected.delete(c.Id);
    await load();
  };

  const rowMenu = (c) => {
    const name = containerName(c);
    const items = actionsFor(c.State).map((a) => button(ACTIONS[a].label, () => runOn(a, [c]),
      { kind: ACTIONS[a].danger ? 'danger' : null, ariaLabel: `${ACTIONS[a].label} ${name}` }));
    items.splice(items.length - 1, 0, button('Rename', async () => {
      const renamed = await renameContainer(c.Id, name);
      if (renamed) {
        toast(`Renamed to ${renamed}.`, 'success');
        await load();
      }
    }, { ariaLabel: `Rename ${name}` }));
    return h('div', { class: 'actions row-actions' }, items.map((b) => { b.classList.add('btn-small'); return b; }));
  };

  const renderBulk = () => {
    const chosen = all.filter((c) => selected.has(c.Id));
    const n = chosen.length;
    replace(bulk,
      h('span', { class: 'muted' }, n ? `${n} selected:` : 'Select containers for bulk actions.'),
      n ? Object.keys(ACTIONS).map((a) => {
        const applicable = chosen.filter((c) => ACTIONS[a].when(c.State));
        return button(`${ACTIONS[a].label}${applicable.length !== n ? ` (${applicable.length})` : ''}`,
          () => runOn(a, applicable), { kind: ACTIONS[a].danger ? 'danger' : null, disabled: !applicable.length,
            ariaLabel: `${ACTIONS[a].label} ${applicable.length} selected containers` });
      }) : null);
  };

  const renderList = () => {
    const rows = visible();
    for (const id of [...selected]) if (!all.some((c) => c.Id === id)) selected.delete(id);
    const allBox = h('input', { type: 'checkbox', 'aria-label': 'Select all shown containers',
      checked: rows.length > 0 && rows.every((c) => selected.has(c.Id)),
      indeterminate: rows.some((c) => selected.has(c.Id)) && !rows.every((c) => selected.has(c.Id)),
      onchange: (ev) => {
        for (const c of rows) {
          if (ev.target.checked) selected.add(c.Id);
          else selected.delete(c.Id);
        }
        renderList();
      } });
    replace(count, `${rows.length} of ${all.length} shown`);
    replace(listEl, table([
      { label: allBox, class: 'check', render: (c) => h('input', { type: 'checkbox', checked: selected.has(c.Id),
        'aria-label': `Select ${containerName(c)}`, onchange: (ev) => {
          if (ev.target.checked) selected.add(c.Id);
          else selected.delete(c.Id);
          renderList();
        } }) },
      { label: 'Name', render: (c) => h('div', null,
        h('a', { href: `#/containers/${encodeURIComponent(c.Id)}` }, containerName(c)),
        h('div', { class: 'muted mono' }, shortId(c.Id)),
        stackOf(c) ? h('div', { class: 'muted' }, 'stack ', h('a', { href: `#/stacks/${encodeURIComponent(stackOf(c))}` }, stackOf(c))) : null) },
      { label: 'State', class: 'nowrap', render: (c) => h('div', null, stateBadge(c.State), ' ', healthBadge(healthOf(c)),
        h('div', { class: 'muted' }, c.Status || '')) },
      { label: 'Image', render: (c) => c.Image },
      { label: 'Ports', render: (c) => fmtPorts(c.Ports) },
      { label: 'Created', class: 'nowrap', render: (c) => fmtAgo(c.Created) },
      { label: 'Actions', render: rowMenu },
    ], rows, { empty: all.length ? 'No container matches.' : 'No containers yet.', caption: 'Containers',
      rowAttrs: (c) => ({ dataset: { id: c.Id, name: containerName(c) } }) }));
    listEl.querySelector('table').classList.add('stack');
    renderBulk();
  };

  const load = async () => {
    const list = await docker('/containers/json', { query: { all: 1 } });
    if (closed) return;
    // newest first, as `docker ps` lists them
    all = list.sort((a, b) => (b.Created - a.Created) || containerName(a).localeCompare(containerName(b)));
    renderList();
  };

  search.addEventListener('input', debounce(() => { saveFilters(); renderList(); }, 150));
  stateFilter.addEventListener('change', () => { saveFilters(); renderList(); });

  const stream = await followList(listEl, ['container'], load, { quiet: true });
  return () => {
    closed = true;
    stream.close();
  };
}
