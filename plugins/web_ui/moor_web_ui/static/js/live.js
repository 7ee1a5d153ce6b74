// A view's list kept current by the event stream. The list is loaded again (debounced) on each event and each
// time the stream opens: events sent while it was not open (before its first connection, while it was down) are
// not replayed. Loads run one at a time, so that an older answer never replaces a newer one.
import { events } from './api.js';
import { debounce } from './ui.js';

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
