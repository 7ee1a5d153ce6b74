// Networks: the list with driver, subnets and the containers on each; create (name, driver, subnet,
// gateway, internal, attachable, labels), inspect, remove and prune. The list follows the event stream.

import { docker, events } from '../api.js';
import {
  h, replace, table, button, toast, errorBox, loading, pageHeader, field, uid, confirmDialog, select,
  shortId, debounce, errorMessage, badge,
} from '../ui.js';
import { containersByNetwork, containerLinks, inspectPanel, parseKeyValues, foldPanel } from '../objects.js';

/** The networks every engine makes itself: they cannot be removed. */
export const PREDEFINED = new Set(['bridge', 'host', 'none']);

/** A network's subnets and gateways as text ("172.18.0.0/16 via 172.18.0.1"). */
export function subnetsOf(network) {
  const configs = (network.IPAM && network.IPAM.Config) || [];
  return configs.map((c) => [c.Subnet, c.Gateway ? `via ${c.Gateway}` : ''].filter(Boolean).join(' ')).join(', ');
}

/** The body of POST /networks/create from the form's values. */
export function createBody(values) {
  const body = { Name: values.name.trim(), Driver: values.driver || 'bridge', CheckDuplicate: true };
  if (values.subnet.trim()) {
    const config = { Subnet: values.subnet.trim() };
    if (values.gateway.trim()) config.Gateway = values.gateway.trim();
    if (values.range && values.range.trim()) config.IPRange = values.range.trim();
    body.IPAM = { Driver: 'default', Config: [config] };
  } else if (values.gateway.trim()) {
    throw new Error('a gateway needs a subnet');
  }
  if (values.internal) body.Internal = true;
  if (values.attachable) body.Attachable = true;
  const labels = parseKeyValues(values.labels);
  if (Object.keys(labels).length) body.Labels = labels;
  const options = parseKeyValues(values.options);
  if (Object.keys(options).length) body.Options = options;
  return body;
}

export async function render(root, _params) {
  let closed = false;
  let networks = [];
  let users = {};
  const listEl = h('div', null, loading());
  const detail = h('div');

  const name = h('input', { type: 'text', id: uid('netname'), required: true, autocomplete: 'off', spellcheck: 'false',
    pattern: '[a-zA-Z0-9][a-zA-Z0-9_.\\-]*', placeholder: 'backend' });
  const driver = select([['bridge', 'bridge']], 'bridge', { id: uid('netdriver') });
  const subnet = h('input', { type: 'text', id: uid('subnet'), autocomplete: 'off', placeholder: '172.30.0.0/16' });
  const gateway = h('input', { type: 'text', id: uid('gateway'), autocomplete: 'off', placeholder: '172.30.0.1' });
  const range = h('input', { type: 'text', id: uid('iprange'), autocomplete: 'off', placeholder: '172.30.5.0/24' });
  const internal = h('input', { type: 'checkbox', id: uid('internal') });
  const attachable = h('input', { type: 'checkbox', id: uid('attachable') });
  const labels = h('textarea', { id: uid('netlabels'), rows: 2, spellcheck: 'false', placeholder: 'team=web', style: { 'min-height': '4rem' } });
  const options = h('textarea', { id: uid('netopts'), rows: 2, spellcheck: 'false', placeholder: 'com.docker.network.bridge.name=br-backend', style: { 'min-height': '4rem' } });
  const createButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Create network');
  const form = h('form', { 'aria-labelledby': 'net-create-title' },
    h('div', { class: 'form-grid' },
      field('Name', name),
      field('Driver', driver),
      field('Subnet', subnet, 'Optional, CIDR; chosen by moord when empty'),
      field('Gateway', gateway, 'Optional, an address in the subnet'),
      field('IP range', range, 'Optional: where container addresses come from'),
      field('Labels', labels, 'KEY=value, one a line'),
      field('Driver options', options, 'KEY=value, one a line')),
    h('div', { class: 'form-grid' },
      field('Internal (no route outside)', internal),
      field('Attachable', attachable)),
    h('div', { class: 'actions' }, createButton));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    let body;
    try {
      body = createBody({ name: name.value, driver: driver.value, subnet: subnet.value, gateway: gateway.value,
        range: range.value, internal: internal.checked, attachable: attachable.checked, labels: labels.value,
        options: options.value });
    } catch (err) {
      toast(errorMessage(err), 'error');
      return;
    }
    createButton.disabled = true;
    try {
      await docker('/networks/create', { method: 'POST', body });
      toast(`Created the network ${body.Name}.`, 'success');
      form.reset();
      await load();
    } catch (err) {
      toast(`Create ${body.Name}: ${errorMessage(err)}`, 'error', 8000);
    } finally {
      createButton.disabled = false;
    }
  });

  const closeDetail = () => replace(detail);
  const inspect = async (n) => {
    const data = await docker(`/networks/${encodeURIComponent(n.Id)}`);
    if (closed) return;
    replace(detail, inspectPanel(`Network ${n.Name}`, data, closeDetail));
  };

  const remove = async (n) => {
    const on = users[n.Name] || [];
    const ok = await confirmDialog(on.length
      ? `Remove the network ${n.Name}? ${on.length} container${on.length === 1 ? ' is' : 's are'} connected: moord refuses while any runs.`
      : `Remove the network ${n.Name}?`, { title: 'Remove network', confirmLabel: 'Remove' });
    if (!ok) return;
    await docker(`/networks/${encodeURIComponent(n.Id)}`, { method: 'DELETE' });
    toast(`Removed the network ${n.Name}.`, 'success');
    await load();
  };

  const prune = async () => {
    const ok = await confirmDialog('Remove every network that no container uses (the predefined ones stay)?',
      { title: 'Prune networks', confirmLabel: 'Prune' });
    if (!ok) return;
    const answer = await docker('/networks/prune', { method: 'POST' });
    const gone = (answer && answer.NetworksDeleted) || [];
    toast(gone.length ? `Removed ${gone.join(', ')}.` : 'No unused network.', 'success');
    await load();
  };

  const renderList = () => {
    replace(listEl, table([
      { label: 'Name', render: (n) => h('div', null, h('span', null, n.Name), ' ',
        PREDEFINED.has(n.Name) ? badge('predefined', 'muted') : null,
        n.Internal ? badge('internal', 'warn') : null,
        h('div', { class: 'muted mono' }, shortId(n.Id))) },
      { label: 'Driver', render: (n) => n.Driver || '' },
      { label: 'Scope', render: (n) => n.Scope || '' },
      { label: 'Subnet', class: 'mono', render: (n) => subnetsOf(n) || '–' },
      { label: 'Containers', render: (n) => containerLinks(users[n.Name]) },
      { label: 'Actions', render: (n) => h('div', { class: 'actions row-actions' }, [
        button('Inspect', () => inspect(n), { ariaLabel: `Inspect ${n.Name}` }),
        PREDEFINED.has(n.Name) ? null : button('Remove', () => remove(n), { kind: 'danger', ariaLabel: `Remove ${n.Name}` }),
      ].filter(Boolean).map((b) => { b.classList.add('btn-small'); return b; })) },
    ], networks, { caption: 'Networks', empty: 'No networks.',
      rowAttrs: (n) => ({ dataset: { id: n.Id, name: n.Name } }) }));
    listEl.querySelector('table').classList.add('stack');
  };

  const load = async () => {
    const [list, containers] = await Promise.all([
      docker('/networks'),
      docker('/containers/json', { query: { all: 1 } }).catch(() => []),
    ]);
    if (closed) return;
    networks = list.sort((a, b) => a.Name.localeCompare(b.Name));
    users = containersByNetwork(containers);
    renderList();
  };

  root.append(pageHeader('Networks', button('Prune', prune, { ariaLabel: 'Prune unused networks' })),
    foldPanel('net-create-title', 'Create a network', form), detail, listEl);

  docker('/info').then((info) => {
    const drivers = ((info && info.Plugins && info.Plugins.Network) || []).filter((d) => !['host', 'null', 'none'].includes(d));
    if (!closed && drivers.length) replace(driver, drivers.map((d) => h('option', { value: d, selected: d === 'bridge' }, d)));
  }).catch(() => {});

  try {
    await load();
  } catch (err) {
    replace(listEl, errorBox(err));
  }
  const refresh = debounce(() => { load().catch((err) => toast(errorMessage(err), 'error')); }, 400);
  const stream = events(`/api/streams/events?filters=${encodeURIComponent(JSON.stringify({ type: ['network', 'container'] }))}`,
    () => refresh());
  return () => {
    closed = true;
    stream.close();
  };
}
