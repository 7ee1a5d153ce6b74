// The dashboard: counts of containers, images, networks and volumes, disk use from `system df`, and the
// engine's info. It refreshes when the event stream says something changed (debounced), never by polling.

import { api, docker } from '../api.js';
import { followEvents } from '../live.js';
import { h, replace, loading, errorBox, fmtBytes, fmtBytesBinary, pageHeader, table, stateBadge, containerName, fmtAgo, linkButton } from '../ui.js';

function card(href, label, value, detail) {
  return h('a', { class: 'card', href },
    h('div', { class: 'value' }, String(value)),
    h('div', { class: 'label' }, label),
    detail ? h('div', { class: 'detail' }, detail) : null);
}

function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', null, k), h('dd', null, String(v))]));
}

/** Disk use rows from /system/df. */
export function diskRows(df) {
  const images = df.Images || [];
  const containers = df.Containers || [];
  const volumes = df.Volumes || [];
  const cache = df.BuildCache || [];
  const imageShared = images.reduce((s, i) => s + Math.max(0, i.SharedSize || 0), 0);
  const imagesActive = images.filter((i) => (i.Containers || 0) > 0).length;
  const containersActive = containers.filter((c) => c.State === 'running').length;
  const volumeSize = volumes.reduce((s, v) => s + Math.max(0, (v.UsageData && v.UsageData.Size) || 0), 0);
  const volumesActive = volumes.filter((v) => v.UsageData && v.UsageData.RefCount > 0).length;
  return [
    { type: 'Images', total: images.length, active: imagesActive, size: df.LayersSize || images.reduce((s, i) => s + (i.Size || 0), 0) - imageShared },
    { type: 'Containers', total: containers.length, active: containersActive, size: containers.reduce((s, c) => s + (c.SizeRw || 0), 0) },
    { type: 'Local volumes', total: volumes.length, active: volumesActive, size: volumeSize },
    { type: 'Build cache', total: cache.length, active: cache.filter((b) => b.InUse).length, size: cache.reduce((s, b) => s + (b.Size || 0), 0) },
  ];
}

export async function render(root, _params) {
  const body = h('div', null, loading());
  root.append(pageHeader('Dashboard', linkButton('New container', '#/containers/new', { kind: 'primary' })), body);
  let closed = false;

  const load = async () => {
    const [info, df, networks, recent, stacks] = await Promise.all([
      docker('/info'),
      docker('/system/df').catch(() => null),
      docker('/networks').catch(() => []),
      docker('/containers/json', { query: { all: 1, limit: 5 } }).catch(() => []),
      api.get('/api/stacks').catch(() => null),
    ]);
    if (closed) return;
    const volumes = df ? (df.Volumes || []).length : '–';
    replace(body,
      h('div', { class: 'cards', role: 'list', 'aria-label': 'Counts' },
        card('#/containers', 'Containers', info.Containers,
          `${info.ContainersRunning} running · ${info.ContainersPaused} paused · ${info.ContainersStopped} stopped`),
        card('#/images', 'Images', info.Images),
        card('#/networks', 'Networks', networks.length),
        card('#/volumes', 'Volumes', volumes),
        card('#/stacks', 'Stacks', Array.isArray(stacks) ? stacks.length : '–',
          Array.isArray(stacks) ? `${stacks.filter((st) => st.status === 'running').length} running` : 'compose projects')),
      h('div', { class: 'grid-2' },
        h('div', { class: 'panel' }, h('h2', null, 'Disk use'),
          df ? table([
            { label: 'Type', render: (r) => r.type },
            { label: 'Total', render: (r) => String(r.total) },
            { label: 'Active', render: (r) => String(r.active) },
            { label: 'Size', render: (r) => fmtBytes(r.size) },
          ], diskRows(df), { caption: 'Disk use' }) : h('p', { class: 'muted' }, 'Disk use is not available.')),
        h('div', { class: 'panel' }, h('h2', null, 'Engine'),
          kv([
            ['Name', info.Name],
            ['Version', info.ServerVersion],
            ['Operating system', info.OperatingSystem],
            ['Kernel', info.KernelVersion],
            ['Architecture', info.Architecture],
            ['CPUs', info.NCPU],
            ['Memory', fmtBytesBinary(info.MemTotal)],
            ['Storage driver', info.Driver],
            ['Cgroup', info.CgroupVersion ? `v${info.CgroupVersion} (${info.CgroupDriver || ''})` : info.CgroupDriver],
            ['Root directory', info.DockerRootDir],
          ]))),
      h('div', { class: 'panel' }, h('h2', null, 'Recent containers'),
        table([
          { label: 'Name', render: (c) => h('a', { href: `#/containers/${encodeURIComponent(c.Id)}` }, containerName(c)) },
          { label: 'Image', render: (c) => c.Image },
          { label: 'State', render: (c) => stateBadge(c.State) },
          { label: 'Created', render: (c) => fmtAgo(c.Created) },
        ], recent, { empty: 'No containers yet.', caption: 'Recent containers' })));
  };

  try {
    await load();
  } catch (err) {
    replace(body, errorBox(err));
  }
  const stream = followEvents('/api/streams/events', load, { wait: 1000 });
  return () => {
    closed = true;
    stream.close();
  };
}
