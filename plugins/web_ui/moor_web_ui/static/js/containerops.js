// Container actions shared by the list and the detail page: one Docker API call each, with confirmation
// where an action loses data or kills processes.

import { docker } from './api.js';
import { h, confirmDialog, promptDialog, field, uid } from './ui.js';

/**
 * The actions, by name: label, whether it applies to a container in a state, and the call.
 * `confirm` actions ask first (remove asks whether to remove anonymous volumes too).
 */
export const ACTIONS = {
  start: { label: 'Start', when: (s) => s === 'created' || s === 'exited' || s === 'dead', call: (id) => docker(`/containers/${id}/start`, { method: 'POST' }) },
  stop: { label: 'Stop', when: (s) => s === 'running' || s === 'restarting' || s === 'paused', call: (id) => docker(`/containers/${id}/stop`, { method: 'POST' }) },
  restart: { label: 'Restart', when: (s) => s !== 'removing' && s !== 'dead', call: (id) => docker(`/containers/${id}/restart`, { method: 'POST' }) },
  kill: { label: 'Kill', when: (s) => s === 'running' || s === 'restarting' || s === 'paused', danger: true, call: (id) => docker(`/containers/${id}/kill`, { method: 'POST' }) },
  pause: { label: 'Pause', when: (s) => s === 'running', call: (id) => docker(`/containers/${id}/pause`, { method: 'POST' }) },
  unpause: { label: 'Resume', when: (s) => s === 'paused', call: (id) => docker(`/containers/${id}/unpause`, { method: 'POST' }) },
  remove: { label: 'Remove', when: () => true, danger: true, call: (id, opts = {}) => docker(`/containers/${id}`, { method: 'DELETE', query: { force: 1, v: opts.volumes ? 1 : '' } }) },
};

/** The action names that apply to a container in state. */
export function actionsFor(state) {
  return Object.keys(ACTIONS).filter((name) => ACTIONS[name].when(state));
}

/**
 * Ask before a destructive action on some containers; resolves the options to pass to the call, or null.
 * @param {string} action @param {string[]} names
 */
export async function confirmAction(action, names) {
  const what = names.length === 1 ? `the container ${names[0]}` : `${names.length} containers`;
  if (action === 'remove') {
    const volumes = h('input', { type: 'checkbox', id: uid('rmvol') });
    const ok = await confirmDialog(`Remove ${what}? Running containers are killed first.`, {
      title: 'Remove containers', confirmLabel: 'Remove', body: field('Also remove their anonymous volumes', volumes),
    });
    return ok ? { volumes: volumes.checked } : null;
  }
  if (action === 'kill') {
    const ok = await confirmDialog(`Kill ${what}? Their processes get SIGKILL.`, { title: 'Kill containers', confirmLabel: 'Kill' });
    return ok ? {} : null;
  }
  return {};
}

/** Ask for a new name and rename; resolves the new name or null. */
export async function renameContainer(id, current) {
  const name = await promptDialog('New name', { title: `Rename ${current}`, value: current, confirmLabel: 'Rename' });
  if (!name || name === current) return null;
  await docker(`/containers/${id}/rename`, { method: 'POST', query: { name } });
  return name;
}
