// Sends one track event with Segment's own Node client to a stand-in at argv[3], write key argv[2];
// argv[4], optional, is maxRetries (default 0: one attempt).
const { Analytics } = require('@segment/analytics-node');
const maxRetries = process.argv[4] === undefined ? 0 : Number(process.argv[4]);
const analytics = new Analytics({ writeKey: process.argv[2], host: process.argv[3], path: '/v1/batch', flushInterval: 50, maxRetries });
analytics.track({
  userId: 'cool-person',
  messageId: 'cio-peer-1',
  event: 'Email Opened',
  timestamp: new Date('2021-06-16T13:04:06Z'),
  properties: { delivery_id: 'd1' },
  integrations: { 'Customer.io': false },
});
analytics.closeAndFlush({ timeout: 10000 }).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
