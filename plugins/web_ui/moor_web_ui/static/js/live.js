// A view's list kept current by the event stream. The list is loaded again (debounced) on each event and each
// time the stream opens: events sent while it was not open (before its first connection, while it was down) are
// not replayed. Loads run one at a time, so that an older answer never replaces a newer one.
import { events } from './api.js';
import { debounce, errorBox, errorMessage, replace, toast } from './ui.js';

/**
 * Follow `url`'s events, calling `load` as said above; returns the stream ({close}).
 * @param {string} url an /api/streams/events URL (with its filters)
 * @param {() => Promise<unknown>} load fetches and renders the list
 * @param {{wait?: number, onError?: (err: unknown) => void}} [opts] the debounce in ms; what a failed load does
 */
export function followEvents(url, load, { wait = 400, onError = () => {} } = {}) {
  let running = false;
  let again = false;
  const run = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    try {
      do {
        again = false;
        try {
          await load();
        } catch (err) {
          onError(err);
        }
      } while (again);
    } finally {
      running = false;
    }
  };
  const refresh = debounce(run, wait);
  return events(url, () => refresh(), { retry: true, onOpen: () => refresh() });
}

/**
 * A list view's live part: its first load (a failure shown in `listEl`), then the events of `types` followed
 * (a failed reload says so in a toast, unless `quiet`); returns the stream ({close}).
 * @param {HTMLElement} listEl where the list is drawn
 * @param {string[]} types the event types that can change the list
 * @param {() => Promise<unknown>} load fetches and renders the list
 * @param {{quiet?: boolean}} [opts]
 */
export async function followList(listEl, types, load, { quiet = false } = {}) {
  try {
    await load();
  } catch (err) {
    replace(listEl, errorBox(err));
  }
  const url = `/api/streams/events?filters=${encodeURIComponent(JSON.stringify({ type: types }))}`;
  return followEvents(url, load, { onError: quiet ? () => {} : (err) => toast(errorMessage(err), 'error') });
}
