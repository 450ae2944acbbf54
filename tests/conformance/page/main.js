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

  /**
   * A guest's page at the waiting room (docs/waiting-room.md): a TokenSource.custom whose
   * function knocks (POST /guest/lobby with the link from this page's URL fragment and the
   * guest's name), waits (POST /guest/lobby/{request} every retry_after seconds while the
   * answer is 202) and returns the token once a moderator admits; a refusal rejects it.
   * What the page saw on the way is kept in `lobbyStates`.
   */
  lobbyStates: [],
  async lobbyJoin(apiBase, name, link = decodeURIComponent(location.hash.slice(1))) {
    const states = window.conformance.lobbyStates;
    const post = (path, body) =>
      fetch(`${apiBase}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const source = TokenSource.custom(async () => {
      let response = await post('/guest/lobby', { link, name });
      let body = await response.json();
      if (response.status !== 202) throw new Error(`knock refused: ${response.status} ${body.error?.code}`);
      states.push({ state: 'knocked', moderatorsPresent: body.moderators_present });
      const request = body.request_id;
      for (;;) {
        await new Promise((resolve) => setTimeout(resolve, (body.retry_after ?? 2) * 1000));
        response = await post(`/guest/lobby/${request}`, {});
        body = await response.json();
        if (response.status === 202) {
          states.push({ state: 'waiting' });
          continue;
        }
        if (response.status === 201) {
          states.push({ state: 'admitted' });
          return { serverUrl: body.server_url, participantToken: body.participant_token };
        }
        states.push({ state: body.error?.code });
        throw new Error(`waiting room: ${response.status} ${body.error?.code}`);
      }
    });
    try {
      return log({ ...accepted(await source.fetch({})), states });
    } catch (e) {
      return log({ ...failure(e), states });
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
