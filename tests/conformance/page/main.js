// The test page: livekit-client, bundled by esbuild, used exactly as an app would.
// browser.test.mjs drives it through window.conformance and checks what comes back.
import { Room, TokenSource, decodeTokenPayload, version } from 'livekit-client';

const sources = new Map();
const log = (entry) => {
  document.getElementById('log').textContent += JSON.stringify(entry) + '\n';
  return entry;
};
const failure = (e) => ({ ok: false, name: e?.name ?? 'Error', message: String(e?.message ?? e) });
/** What the page learnt from a TokenSource reply. */
const accepted = (response) => ({
  ok: true,
  keys: Object.keys(response).sort(),
  serverUrl: response.serverUrl,
  participantToken: response.participantToken,
  // What the SDK itself makes of the token (its own JWT decoding).
  sdkPayload: JSON.parse(JSON.stringify(decodeTokenPayload(response.participantToken))),
});

window.conformance = {
  version,

  /** TokenSource.endpoint(url, endpointOptions), kept under `id` so its cache survives calls. */
  createEndpointSource(id, url, endpointOptions = {}) {
    sources.set(id, TokenSource.endpoint(url, endpointOptions));
    return true;
  },

  /**
   * Calls source.fetch(...) once per step. `options` is built once in the page; a step
   * with copy: true passes a structural copy instead of the same object (the SDK's cache
   * compares participantAttributes by reference). force is fetch()'s second argument.
   */
  async fetchSteps(id, options, steps = [{}]) {
    const source = sources.get(id);
    const results = [];
    for (const step of steps) {
      const opts = step.copy ? structuredClone(options) : options;
      try {
        results.push(accepted(await source.fetch(opts, step.force)));
      } catch (e) {
        results.push(failure(e));
      }
    }
    return log(results);
  },

  /**
   * A guest's join page (room links, docs/room-links.md): the link is this page's URL
   * fragment, where ROOM_LINK_URL puts it (a fragment never reaches a server log), unless
   * `link` is given. The guest has no account and sends no Authorization header: the
   * official call, TokenSource.endpoint, with the link in the URL's `link` parameter.
   */
  async guestJoin(guestTokenUrl, options = {}, link = decodeURIComponent(location.hash.slice(1))) {
    const url = `${guestTokenUrl}?${new URLSearchParams({ link })}`;
    try {
      return log({ ...accepted(await TokenSource.endpoint(url).fetch(options)), link });
    } catch (e) {
      return log({ ...failure(e), link });
    }
  },

  /** The seed contract: GET /token?room&participant, then values for new Room().connect(url, token). */
  async seed(tokenUrl, room, participant) {
    try {
      const query = new URLSearchParams({ room, participant });
      const response = await fetch(`${tokenUrl}?${query}`);
      const body = await response.json();
      const { url, token } = body;
      const roomObject = new Room();
      const ready =
        typeof url === 'string' &&
        ['wss:', 'ws:'].includes(new URL(url).protocol) &&
        typeof token === 'string' &&
        decodeTokenPayload(token).video?.room === room &&
        typeof roomObject.connect === 'function' &&
        roomObject.state === 'disconnected';
      return log({ ok: true, status: response.status, body, connectReady: ready, roomState: roomObject.state });
    } catch (e) {
      return log(failure(e));
    }
  },
};
document.getElementById('log').textContent = `livekit-client ${version} loaded\n`;
