// Shared stdin/stdout plumbing for the peer scripts. The Rust tests spawn one
// process per call, write one JSON object and read one JSON object back, so a
// malformed request must fail loudly (exit 2) rather than produce a result the
// test could mistake for a verdict about a token.

export async function readRequest(required) {
  let text = '';
  for await (const chunk of process.stdin) text += chunk;
  let req;
  try {
    req = JSON.parse(text);
  } catch (e) {
    badInput(`stdin is not JSON: ${e.message}`);
  }
  if (req === null || typeof req !== 'object' || Array.isArray(req)) {
    badInput('stdin must be one JSON object');
  }
  for (const [field, type] of Object.entries(required)) {
    const ok = type === 'array' ? Array.isArray(req[field]) : typeof req[field] === type;
    if (!ok) badInput(`field "${field}" must be a ${type}`);
  }
  return req;
}

export function reply(obj) {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

export function badInput(message) {
  process.stderr.write(`bad input: ${message}\n`);
  process.exit(2);
}
