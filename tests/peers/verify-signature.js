// Reads {signingSecret, timestamp, signature, bodyBase64} lines (JSON) on stdin and prints, per line,
// what Customer.io's own SDK says: true or false.
const { verifyRequestSignature } = require('customerio-node');
const lines = require('fs').readFileSync(0, 'utf8').split('\n').filter(Boolean);
for (const line of lines) {
  const c = JSON.parse(line);
  const body = Buffer.from(c.bodyBase64, 'base64');
  let ok;
  try {
    ok = verifyRequestSignature({ signingSecret: c.signingSecret, timestamp: c.timestamp, signature: c.signature, body });
  } catch (e) {
    ok = 'error: ' + e.message;
  }
  console.log(JSON.stringify(ok));
}
