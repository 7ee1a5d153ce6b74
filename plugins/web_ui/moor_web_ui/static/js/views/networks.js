// Networks: the list with driver, subnets and the containers on each; create (name, driver, subnet,
// gateway, internal, attachable, labels), inspect, remove and prune. The list follows the event stream.

import { docker } from '../api.js';
import { followList } from '../live.js';
import {
  h, replace, table, button, toast, loading, pageHeader, field, uid, confirmDialog, select, shortId,
  errorMessage, badge, containerName,
} from '../ui.js';
import { containersByNetwork, containerLinks, inspectPanel, parseKeyValues, foldPanel } from '../objects.js';

/** The networks every engine makes itself: they cannot be removed. */
export const PREDEFINED = new Set(['bridge', 'host', 'none']);
/** Networks a container cannot be connected to after its creation. */
const NO_CONNECT = new Set(['host', 'none']);

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

  let shown = null; // the network whose detail is open, shown again after each load
  const closeDetail = () => { shown = null; replace(detail); };
  const inspect = async (n, focus = true) => {
    const [data, containers] = await Promise.all([
      docker(`/networks/${encodeURIComponent(n.Id)}`),
      docker('/containers/json', { query: { all: 1 } }).catch(() => []),
    ]);
    if (closed) return;
    shown = n.Id;
    const panel = inspectPanel(`Network ${n.Name}`, data, closeDetail, focus);
    if (!NO_CONNECT.has(n.Name)) panel.insertBefore(membersPanel(n, data, containers), panel.querySelector('pre'));
    replace(detail, panel);
  };

  /** The containers on network n (with their addresses), Disconnect for each, and a form to connect one. */
  const membersPanel = (n, data, containers) => {
    const on = containersByNetwork(containers)[n.Name] || [];
    const addresses = data.Containers || {};
    const onIds = new Set(on.map((c) => c.id));
    const others = containers.filter((c) => !onIds.has(c.Id));
    const choice = select(others.map((c) => [c.Id, containerName(c)]), '', { id: uid('connect') });
    const alias = h('input', { type: 'text', id: uid('alias'), autocomplete: 'off', spellcheck: 'false', placeholder: 'db' });
    const connect = h('form', { class: 'toolbar', 'aria-label': `Connect a container to ${n.Name}` },
      h('div', { class: 'grow' }, field('Container to connect', choice)),
      field('Alias', alias),
      h('button', { type: 'submit', class: 'btn btn-primary', disabled: !others.length }, 'Connect'));
    connect.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (!choice.value) return;
      const body = { Container: choice.value };
      if (alias.value.trim()) body.EndpointConfig = { Aliases: [alias.value.trim()] };
      try {
        await docker(`/networks/${encodeURIComponent(n.Id)}/connect`, { method: 'POST', body });
        toast(`Connected ${choice.selectedOptions[0].textContent} to ${n.Name}.`, 'success');
        await load();
        await inspect(n, false);
      } catch (err) {
        toast(`Connect: ${errorMessage(err)}`, 'error', 8000);
      }
    });
    const disconnect = async (c) => {
      const ok = await confirmDialog(`Disconnect ${c.name} from ${n.Name}?`, { title: 'Disconnect', confirmLabel: 'Disconnect' });
      if (!ok) return;
      await docker(`/networks/${encodeURIComponent(n.Id)}/disconnect`, { method: 'POST', body: { Container: c.id } });
      toast(`Disconnected ${c.name} from ${n.Name}.`, 'success');
      await load();
      await inspect(n, false);
    };
    return h('div', { class: 'members' },
      h('h3', null, 'Containers'),
      table([
        { label: 'Container', render: (c) => h('a', { href: `#/containers/${encodeURIComponent(c.id)}` }, c.name) },
        { label: 'State', render: (c) => c.state || '' },
        { label: 'Address', class: 'mono', render: (c) => (addresses[c.id] && addresses[c.id].IPv4Address) || '–' },
        { label: 'Actions', render: (c) => {
          const b = button('Disconnect', () => disconnect(c), { ariaLabel: `Disconnect ${c.name}` });
          b.classList.add('btn-small');
          return b;
        } },
      ], on, { caption: `Containers on ${n.Name}`, empty: 'No container is on this network.',
        rowAttrs: (c) => ({ dataset: { member: c.name } }) }),
      connect);
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
    const open = networks.find((n) => n.Id === shown);
    if (open && !detail.contains(document.activeElement)) inspect(open, false).catch(() => {});
    else if (shown && !open) closeDetail();
  };

  root.append(pageHeader('Networks', button('Prune', prune, { ariaLabel: 'Prune unused networks' })),
    foldPanel('net-create-title', 'Create a network', form), detail, listEl);

  docker('/info').then((info) => {
    const drivers = ((info && info.Plugins && info.Plugins.Network) || []).filter((d) => !['host', 'null', 'none'].includes(d));
    if (!closed && drivers.length) replace(driver, drivers.map((d) => h('option', { value: d, selected: d === 'bridge' }, d)));
  }).catch(() => {});

  const stream = await followList(listEl, ['network', 'container'], load);
  return () => {
    closed = true;
    stream.close();
  };
}
