// Volumes: the list with driver, mount point and the containers using each; create (name, driver, driver
// options, labels), inspect, remove and prune. The list follows the event stream.

import { docker } from '../api.js';
import { followList } from '../live.js';
import {
  h, replace, table, button, toast, loading, pageHeader, field, uid, confirmDialog, select, fmtAgo, debounce,
  errorMessage,
} from '../ui.js';
import { containersByVolume, containerLinks, inspectPanel, parseKeyValues, foldPanel } from '../objects.js';

/** The body of POST /volumes/create from the form's values. */
export function createBody(values) {
  const body = { Driver: values.driver || 'local' };
  if (values.name.trim()) body.Name = values.name.trim();
  const opts = parseKeyValues(values.options);
  if (Object.keys(opts).length) body.DriverOpts = opts;
  const labels = parseKeyValues(values.labels);
  if (Object.keys(labels).length) body.Labels = labels;
  return body;
}

/** Whether a volume matches the search words (name, driver, labels). */
export function volumeMatches(v, text) {
  const q = String(text || '').trim().toLowerCase();
  if (!q) return true;
  const hay = [v.Name, v.Driver, ...Object.entries(v.Labels || {}).map(([k, val]) => `${k}=${val}`)].join(' ').toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

export async function render(root, params) {
  let closed = false;
  let volumes = [];
  let users = {};
  const listEl = h('div', null, loading());
  const detail = h('div');
  const search = h('input', { type: 'search', id: uid('search'), placeholder: 'Name, driver or label', value: params.q || '' });
  const count = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });

  const name = h('input', { type: 'text', id: uid('volname'), autocomplete: 'off', spellcheck: 'false',
    pattern: '[a-zA-Z0-9][a-zA-Z0-9_.\\-]*', placeholder: 'data' });
  const driver = select([['local', 'local']], 'local', { id: uid('voldriver') });
  const options = h('textarea', { id: uid('volopts'), rows: 3, spellcheck: 'false', placeholder: 'type=tmpfs\ndevice=tmpfs\no=size=64m', style: { 'min-height': '5rem' } });
  const labels = h('textarea', { id: uid('vollabels'), rows: 2, spellcheck: 'false', placeholder: 'backup=daily', style: { 'min-height': '5rem' } });
  const createButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create volume');
  const form = h('form', { 'aria-labelledby': 'vol-create-title' },
    h('div', { class: 'form-grid' },
      field('Name', name, 'Optional: moord names it when empty'),
      field('Driver', driver),
      field('Driver options', options, 'KEY=value, one a line'),
      field('Labels', labels, 'KEY=value, one a line')),
    h('div', { class: 'actions' }, createButton));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let body;
    try {
      body = createBody({ name: name.value, driver: driver.value, options: options.value, labels: labels.value });
    } catch (err) {
      toast(errorMessage(err), 'error');
      return;
    }
    createButton.disabled = true;
    try {
      const made = await docker('/volumes/create', { method: 'POST', body });
      toast(`Created the volume ${(made && made.Name) || body.Name}.`, 'success');
      form.reset();
      await load();
    } catch (err) {
      toast(`Create volume: ${errorMessage(err)}`, 'error', 8000);
    } finally {
      createButton.disabled = false;
    }
  });

  const closeDetail = () => replace(detail);
  const inspect = async (v) => {
    const data = await docker(`/volumes/${encodeURIComponent(v.Name)}`);
    if (closed) return;
    replace(detail, inspectPanel(`Volume ${v.Name}`, data, closeDetail));
  };

  const remove = async (v) => {
    const on = users[v.Name] || [];
    const force = h('input', { type: 'checkbox', id: uid('force') });
    const ok = await confirmDialog(on.length
      ? `Remove the volume ${v.Name}? ${on.length} container${on.length === 1 ? ' uses' : 's use'} it: moord refuses while any exists.`
      : `Remove the volume ${v.Name} and everything in it?`,
    { title: 'Remove volume', confirmLabel: 'Remove', body: field('Force', force) });
    if (!ok) return;
    await docker(`/volumes/${encodeURIComponent(v.Name)}`, { method: 'DELETE', query: { force: force.checked ? 1 : '' } });
    toast(`Removed the volume ${v.Name}.`, 'success');
    await load();
  };

  const prune = async () => {
    const all = h('input', { type: 'checkbox', id: uid('pruneall') });
    const ok = await confirmDialog('Remove the anonymous volumes that no container uses?', {
      title: 'Prune volumes', confirmLabel: 'Prune', body: field('Named volumes too', all),
    });
    if (!ok) return;
    const filters = all.checked ? JSON.stringify({ all: ['true'] }) : '';
    const answer = await docker('/volumes/prune', { method: 'POST', query: { filters } });
    const gone = (answer && answer.VolumesDeleted) || [];
    toast(gone.length ? `Removed ${gone.length} volume${gone.length === 1 ? '' : 's'}.` : 'No unused volume.', 'success');
    await load();
  };

  const renderList = () => {
    const shown = volumes.filter((v) => volumeMatches(v, search.value));
    replace(count, `${shown.length} of ${volumes.length} shown`);
    replace(listEl, table([
      { label: 'Name', render: (v) => h('span', { class: 'mono' }, v.Name) },
      { label: 'Driver', render: (v) => v.Driver || '' },
      { label: 'Mount point', class: 'mono', render: (v) => v.Mountpoint || '' },
      { label: 'Created', class: 'nowrap', render: (v) => fmtAgo(v.CreatedAt) },
      { label: 'Used by', render: (v) => containerLinks(users[v.Name]) },
      { label: 'Actions', render: (v) => h('div', { class: 'actions row-actions' }, [
        button('Inspect', () => inspect(v), { ariaLabel: `Inspect ${v.Name}` }),
        button('Remove', () => remove(v), { kind: 'danger', ariaLabel: `Remove ${v.Name}` }),
      ].map((b) => { b.classList.add('btn-small'); return b; })) },
    ], shown, { caption: 'Volumes', empty: volumes.length ? 'No volume matches.' : 'No volumes yet.',
      rowAttrs: (v) => ({ dataset: { name: v.Name } }) }));
    listEl.querySelector('table').classList.add('stack');
  };

  const load = async () => {
    const [answer, containers] = await Promise.all([
      docker('/volumes'),
      docker('/containers/json', { query: { all: 1 } }).catch(() => []),
    ]);
    if (closed) return;
    volumes = ((answer && answer.Volumes) || []).sort((a, b) => a.Name.localeCompare(b.Name));
    users = containersByVolume(containers);
    renderList();
  };

  root.append(
    pageHeader('Volumes', button('Prune', prune, { ariaLabel: 'Prune unused volumes' })),
    foldPanel('vol-create-title', 'Create a volume', form), detail,
    h('div', { class: 'toolbar' }, h('div', { class: 'grow' }, field('Search volumes', search)), count),
    listEl);

  search.addEventListener('input', debounce(renderList, 150));
  docker('/info').then((info) => {
    const drivers = (info && info.Plugins && info.Plugins.Volume) || [];
    if (!closed && drivers.length) replace(driver, drivers.map((d) => h('option', { value: d, selected: d === 'local' }, d)));
  }).catch(() => {});

  const stream = await followList(listEl, ['volume', 'container'], load);
  return () => {
    closed = true;
    stream.close();
  };
}
