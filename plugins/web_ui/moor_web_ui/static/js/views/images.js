// Images: the list (one row per tag, as `docker images`), search, pull with live progress, build from an
// uploaded Dockerfile or context (or one typed in) with live output, tag, history, remove and prune. The
// list follows the event stream; leaving the view closes it and any pull or build still streaming.

import { docker, postStream } from '../api.js';
import { followList } from '../live.js';
import {
  h, replace, table, button, toast, loading, pageHeader, field, uid, confirmDialog, promptDialog, fmtBytes,
  fmtAgo, shortId, debounce, containerName,
} from '../ui.js';
import { progressLog, refPath, splitTag, foldPanel, containerLinks, inspectPanel } from '../objects.js';

/** One row per repo:tag (an untagged image is one row "<none>:<none>"), newest first. */
export function imageRows(images) {
  const rows = [];
  for (const image of images || []) {
    const tags = (image.RepoTags || []).filter((t) => t && t !== '<none>:<none>');
    if (!tags.length) {
      const digest = (image.RepoDigests || [])[0] || '';
      rows.push({ image, ref: '', repo: digest ? digest.split('@')[0] : '<none>', tag: '<none>' });
    }
    for (const ref of tags) {
      const [repo, tag] = splitTag(ref);
      rows.push({ image, ref, repo, tag });
    }
  }
  return rows.sort((a, b) => (b.image.Created || 0) - (a.image.Created || 0) || a.repo.localeCompare(b.repo)
    || a.tag.localeCompare(b.tag));
}

/** Which containers each image runs: {imageId: [{id, name, state}]}, from the container list. */
export function containersByImage(containers) {
  const map = {};
  for (const c of containers || []) {
    if (!c.ImageID) continue;
    (map[c.ImageID] = map[c.ImageID] || []).push({ id: c.Id, name: containerName(c), state: c.State });
  }
  return map;
}

/** Whether a row matches the search words (repo, tag, id, labels). */
export function rowMatches(row, text) {
  const q = String(text || '').trim().toLowerCase();
  if (!q) return true;
  const hay = [row.repo, row.tag, row.image.Id,
    ...Object.entries(row.image.Labels || {}).map(([k, v]) => `${k}=${v}`)].join(' ').toLowerCase();
  return q.split(/\s+/).every((w) => hay.includes(w));
}

export async function render(root, params) {
  let closed = false;
  let rows = [];
  let users = {};
  /** @type {{close: () => void}[]} */
  const streams = [];

  const search = h('input', { type: 'search', id: uid('search'), placeholder: 'Repository, tag or id', value: params.q || '' });
  const count = h('span', { class: 'muted', role: 'status', 'aria-live': 'polite' });
  const listEl = h('div', null, loading());
  const detail = h('div');

  // ---- pull ----
  const pullInput = h('input', { type: 'text', id: uid('pull'), required: true, autocomplete: 'off',
    placeholder: 'busybox:latest or registry:5000/app:1', spellcheck: 'false' });
  const pullLog = progressLog('Pull progress');
  pullLog.el.hidden = true;
  const pullButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Pull');
  let pulling = null;
  // close() ends the stream without onEnd: the page and moord's pull stop here
  const pullCancel = button('Cancel', () => {
    if (!pulling) return;
    pulling.close();
    pulling = null;
    pullButton.disabled = false;
    pullCancel.hidden = true;
    pullLog.note('Pull cancelled.', 'error');
  }, { ariaLabel: 'Cancel the pull' });
  pullCancel.hidden = true;
  const pullUser = h('input', { type: 'text', id: uid('puser'), autocomplete: 'off', spellcheck: 'false' });
  const pullPassword = h('input', { type: 'password', id: uid('ppass'), autocomplete: 'off' });
  const pullForm = h('form', { 'aria-labelledby': 'pull-title' },
    h('div', { class: 'toolbar' }, h('div', { class: 'grow' }, field('Image to pull', pullInput, 'name[:tag], from Docker Hub or a registry')),
      pullButton, pullCancel),
    h('details', { class: 'pull-login' },
      h('summary', null, 'Registry login'),
      h('p', { class: 'hint' }, 'For a private registry; used for this pull only. Without it, the logins kept in the UI user\'s Docker config are used.'),
      h('div', { class: 'form-grid' }, field('Registry user name', pullUser), field('Registry password', pullPassword))),
    pullLog.el);
  pullForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const image = pullInput.value.trim();
    if (!image) return;
    pullLog.clear();
    pullLog.el.hidden = false;
    pullLog.note(`Pulling ${image}…`, 'aux');
    pullButton.disabled = true;
    pullCancel.hidden = false;
    const body = { image };
    if (pullUser.value.trim()) body.auth = { username: pullUser.value.trim(), password: pullPassword.value };
    const stream = postStream('/api/images/pull', body, (msg) => pullLog.add(msg), {
      onEnd: (error) => {
        pullButton.disabled = false;
        pullCancel.hidden = true;
        pulling = null;
        if (closed) return;
        if (error) {
          pullLog.note(`Pull failed: ${error}`, 'error');
          toast(`Pull of ${image} failed: ${error}`, 'error', 8000);
        } else {
          pullLog.note(`Pulled ${image}.`, 'done');
          toast(`Pulled ${image}.`, 'success');
          load().catch(() => {});
        }
      },
    });
    pulling = stream;
    streams.push(stream);
  });

  // ---- build ----
  const contextInput = h('input', { type: 'file', id: uid('ctx'), accept: '.tar,.tar.gz,.tgz,application/x-tar,application/gzip,text/plain,*/*' });
  const dockerfileText = h('textarea', { id: uid('dockerfile'), rows: 5, spellcheck: 'false',
    placeholder: 'FROM busybox\nRUN echo hello > /hello' });
  const tagInput = h('input', { type: 'text', id: uid('tag'), placeholder: 'myapp:latest', autocomplete: 'off', spellcheck: 'false' });
  const dockerfileName = h('input', { type: 'text', id: uid('dfname'), placeholder: 'Dockerfile', autocomplete: 'off', spellcheck: 'false' });
  const buildLog = progressLog('Build output');
  buildLog.el.hidden = true;
  const buildButton = h('button', { type: 'submit', class: 'btn btn-primary' }, 'Build');
  let building = null;
  const buildCancel = button('Cancel', () => {
    if (!building) return;
    building.close();
    building = null;
    buildButton.disabled = false;
    buildCancel.hidden = true;
    buildLog.note('Build cancelled.', 'error');
  }, { ariaLabel: 'Cancel the build' });
  buildCancel.hidden = true;
  const buildForm = h('form', { 'aria-labelledby': 'build-title' },
    h('div', { class: 'form-grid' },
      field('Dockerfile or context (.tar, .tar.gz)', contextInput, 'A single Dockerfile, or a tar archive of the build context'),
      field('Tag', tagInput, 'Optional: name[:tag] for the built image'),
      field('Dockerfile path in the context', dockerfileName, 'Optional, for a context archive')),
    field('Or write a Dockerfile', dockerfileText, 'Used when no file is chosen'),
    h('div', { class: 'actions' }, buildButton, buildCancel),
    buildLog.el);
  buildForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const file = contextInput.files && contextInput.files[0];
    const typed = dockerfileText.value;
    if (!file && !typed.trim()) {
      toast('Choose a Dockerfile or a context archive, or write a Dockerfile.', 'error');
      contextInput.focus();
      return;
    }
    const form = new FormData();
    if (file) form.append('context', file, file.name);
    else form.append('context', new Blob([typed], { type: 'text/plain' }), 'Dockerfile');
    if (tagInput.value.trim()) form.append('tag', tagInput.value.trim());
    if (dockerfileName.value.trim()) form.append('dockerfile', dockerfileName.value.trim());
    buildLog.clear();
    buildLog.el.hidden = false;
    buildButton.disabled = true;
    buildCancel.hidden = false;
    const stream = postStream('/api/images/build', form, (msg) => buildLog.add(msg), {
      onEnd: (error) => {
        buildButton.disabled = false;
        buildCancel.hidden = true;
        building = null;
        if (closed) return;
        const failure = error || buildLog.errors[0];
        if (failure) {
          buildLog.note(`Build failed: ${failure}`, 'error');
          toast(`Build failed: ${failure}`, 'error', 8000);
        } else {
          const name = tagInput.value.trim() || shortId(buildLog.lastId);
          buildLog.note(`Built ${name}.`, 'done');
          toast(`Built ${name}.`, 'success');
          load().catch(() => {});
        }
      },
    });
    building = stream;
    streams.push(stream);
  });

  // ---- list, history, tag, remove ----
  const closeDetail = () => replace(detail);

  const showHistory = async (row) => {
    const name = row.ref || row.image.Id;
    const history = await docker(`/images/${refPath(row.image.Id)}/history`);
    if (closed) return;
    const heading = h('h2', { tabindex: '-1' }, `History of ${row.ref || shortId(row.image.Id)}`);
    replace(detail, h('section', { class: 'panel', 'aria-label': `History of ${name}` },
      h('div', { class: 'page-header' }, heading,
        h('div', { class: 'actions' }, button('Close', closeDetail, { ariaLabel: 'Close the history' }))),
      table([
        { label: 'Layer', class: 'mono nowrap', render: (l) => (l.Id && l.Id !== '<missing>' ? shortId(l.Id) : '<missing>') },
        { label: 'Created', class: 'nowrap', render: (l) => fmtAgo(l.Created) },
        { label: 'Created by', class: 'mono', render: (l) => l.CreatedBy || '' },
        { label: 'Size', class: 'nowrap', render: (l) => fmtBytes(l.Size) },
        { label: 'Comment', render: (l) => l.Comment || '' },
      ], history || [], { caption: `History of ${name}` })));
    heading.focus();
  };

  const inspect = async (row) => {
    const data = await docker(`/images/${refPath(row.image.Id)}/json`);
    if (closed) return;
    replace(detail, inspectPanel(`Image ${row.ref || shortId(row.image.Id)}`, data, closeDetail));
  };

  const tagImage = async (row) => {
    const value = await promptDialog('New tag', { title: `Tag ${row.ref || shortId(row.image.Id)}`,
      placeholder: 'repository:tag', confirmLabel: 'Tag' });
    if (!value) return;
    const [repo, tag] = splitTag(value);
    await docker(`/images/${refPath(row.image.Id)}/tag`, { method: 'POST', query: { repo, tag } });
    toast(`Tagged ${repo}:${tag}.`, 'success');
    await load();
  };

  const removeImage = async (row) => {
    const name = row.ref || shortId(row.image.Id);
    const force = h('input', { type: 'checkbox', id: uid('force') });
    const ok = await confirmDialog(row.ref
      ? `Remove the tag ${name}? The image goes too when no other tag or container uses it.`
      : `Remove the image ${name}?`,
    { title: 'Remove image', confirmLabel: 'Remove', body: field('Force (even if a stopped container uses it)', force) });
    if (!ok) return;
    const answer = await docker(`/images/${refPath(row.ref || row.image.Id)}`, { method: 'DELETE', query: { force: force.checked ? 1 : '' } });
    const deleted = (answer || []).filter((e) => e.Deleted).length;
    toast(deleted ? `Removed ${name} (${deleted} deleted).` : `Untagged ${name}.`, 'success');
    await load();
  };

  const prune = async () => {
    const all = h('input', { type: 'checkbox', id: uid('pruneall') });
    const ok = await confirmDialog('Remove dangling images (untagged and unused)?', {
      title: 'Prune images', confirmLabel: 'Prune', body: field('Also every image no container uses', all),
    });
    if (!ok) return;
    const filters = all.checked ? JSON.stringify({ dangling: ['false'] }) : '';
    const answer = await docker('/images/prune', { method: 'POST', query: { filters } });
    const n = ((answer && answer.ImagesDeleted) || []).length;
    toast(`Pruned ${n} item${n === 1 ? '' : 's'}, ${fmtBytes((answer && answer.SpaceReclaimed) || 0)} reclaimed.`, 'success');
    await load();
  };

  const renderList = () => {
    const shown = rows.filter((r) => rowMatches(r, search.value));
    replace(count, `${shown.length} of ${rows.length} shown`);
    replace(listEl, table([
      { label: 'Repository', render: (r) => h('span', { class: 'mono' }, r.repo) },
      { label: 'Tag', render: (r) => h('span', { class: 'mono' }, r.tag) },
      { label: 'Image ID', class: 'nowrap', render: (r) => h('span', { class: 'mono', title: r.image.Id }, shortId(r.image.Id)) },
      { label: 'Created', class: 'nowrap', render: (r) => fmtAgo(r.image.Created) },
      { label: 'Size', class: 'nowrap', render: (r) => fmtBytes(r.image.Size) },
      { label: 'Containers', render: (r) => containerLinks(users[r.image.Id]) },
      { label: 'Actions', render: (r) => {
        const name = r.ref || shortId(r.image.Id);
        return h('div', { class: 'actions row-actions' }, [
          button('Inspect', () => inspect(r), { ariaLabel: `Inspect ${name}` }),
          button('History', () => showHistory(r), { ariaLabel: `History of ${name}` }),
          button('Tag', () => tagImage(r), { ariaLabel: `Tag ${name}` }),
          button('Remove', () => removeImage(r), { kind: 'danger', ariaLabel: `Remove ${name}` }),
        ].map((b) => { b.classList.add('btn-small'); return b; }));
      } },
    ], shown, { empty: rows.length ? 'No image matches.' : 'No images yet: pull or build one.', caption: 'Images',
      rowAttrs: (r) => ({ dataset: { id: r.image.Id, ref: r.ref || '' } }) }));
    listEl.querySelector('table').classList.add('stack');
  };

  const load = async () => {
    const [images, containers] = await Promise.all([
      docker('/images/json'),
      docker('/containers/json', { query: { all: 1 } }).catch(() => []),
    ]);
    if (closed) return;
    rows = imageRows(images);
    users = containersByImage(containers);
    renderList();
  };

  root.append(
    pageHeader('Images', button('Prune', prune, { ariaLabel: 'Prune unused images' })),
    h('div', { class: 'grid-2' }, foldPanel('pull-title', 'Pull an image', pullForm),
      foldPanel('build-title', 'Build an image', buildForm)),
    detail,
    h('div', { class: 'toolbar' }, h('div', { class: 'grow' }, field('Search images', search)), count),
    listEl);

  search.addEventListener('input', debounce(() => {
    const hash = search.value.trim() ? `#/images?q=${encodeURIComponent(search.value.trim())}` : '#/images';
    if (window.location.hash !== hash) history.replaceState(null, '', hash);
    renderList();
  }, 150));

  const stream = await followList(listEl, ['image', 'container'], load);
  return () => {
    closed = true;
    stream.close();
    for (const s of streams) s.close();
  };
}
