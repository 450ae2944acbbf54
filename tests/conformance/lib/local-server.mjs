// Starts the project's local server (the same handlers as the Lambda) on a free
// loopback port and stops it again. Every suite here talks to it over real HTTP.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const CONFORMANCE_DIR = path.resolve(here, '..');

// Fixed, test-only credentials: the peers verify with the same pair.
export const API_KEY = 'APIconformance';
export const API_SECRET = 'conformance-secret-not-for-production-0123456789';
export const LIVEKIT_URL = 'wss://conformance.example.com';
export const ALLOWED_AGENT = 'test-agent';

export function localServerBin() {
  const bin = process.env.LOCAL_SERVER_BIN
    ? path.resolve(process.env.LOCAL_SERVER_BIN)
    : path.resolve(CONFORMANCE_DIR, '../../target/debug/local-server');
  if (!existsSync(bin)) {
    throw new Error(`local server binary not found at ${bin}: run \`cargo build -p local-server\` or set LOCAL_SERVER_BIN`);
  }
  return bin;
}

const ANSI = /\x1b\[[0-9;]*m/g;

/**
 * @param {{allowedOrigins?: string[], env?: Record<string,string>}} opts
 * @returns {Promise<{url: string, logs: () => string[], stop: () => Promise<void>}>}
 */
export async function startLocalServer({ allowedOrigins = [], env = {} } = {}) {
  const child = spawn(localServerBin(), [], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      PORT: '0',
      NO_COLOR: '1',
      LOG_LEVEL: 'info',
      ALLOWED_ORIGINS: allowedOrigins.join(','),
      ALLOWED_AGENT_NAMES: ALLOWED_AGENT,
      LIVEKIT_API_KEY: API_KEY,
      LIVEKIT_API_SECRET: API_SECRET,
      LIVEKIT_URL,
      ...env,
    },
  });
  const lines = [];
  let buffered = '';
  const onData = (chunk) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop();
    for (const line of parts) lines.push(line.replace(ANSI, ''));
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('local server did not report its port within 15 s')), 15_000);
    const poll = setInterval(() => {
      for (const line of lines) {
        const m = /local server listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(line);
        if (m) {
          clearInterval(poll);
          clearTimeout(timer);
          resolve(m[1]);
          return;
        }
      }
    }, 20);
    function fail(err) {
      clearInterval(poll);
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${err.message}\n--- server output ---\n${lines.join('\n')}`));
    }
    child.once('exit', (code) => fail(new Error(`local server exited early with ${code}`)));
  });

  return {
    url,
    logs: () => lines.slice(),
    /** Request log lines: {method, route, status, error_code}. */
    requests: () =>
      lines
        .map((l) => /method=(\S+) route="([^"]*)" status=(\d+).*?error_code="([^"]*)"/.exec(l))
        .filter(Boolean)
        .map(([, method, route, status, error_code]) => ({ method, route, status: Number(status), error_code })),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }),
  };
}
