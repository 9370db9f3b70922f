'use strict';
// The /breakglass slash command written the way a Bolt for JavaScript app would write it: the peer the
// load harness (../slack-load.py, ../compare.sh, ../../load.sh) measures BreakGlassBot against.
//
//   SLACK_SIGNING_SECRET=... PORT=3101 node app.js        (HOST defaults to 127.0.0.1)
//
// POST /slack/events   Bolt's HTTPReceiver: verifies X-Slack-Signature (v0, HMAC-SHA256 over "v0:{ts}:{body}")
//                      and refuses a timestamp older than 5 minutes (401 either way); then /breakglass stores
//                      {user_id, channel_id, text, at} in memory and acks 200 with an ephemeral message.
// GET  /bench/records  {"count": N}, the number stored so far: the harness checks every 2xx ran the handler.
//
// No outbound call: the token is a placeholder, token verification is off and the bot's ids are given, so Bolt
// never calls auth.test (neither at start nor on the first request).
const { App, LogLevel } = require('@slack/bolt');

const signingSecret = process.env.SLACK_SIGNING_SECRET;
if (!signingSecret) {
  console.error('bolt-peer: set SLACK_SIGNING_SECRET');
  process.exit(2);
}
const host = process.env.HOST || '127.0.0.1';
const port = Number.parseInt(process.env.PORT || '3101', 10);

const stored = [];

const app = new App({
  signingSecret,
  signatureVerification: true,
  token: 'xoxb-placeholder-for-loopback-benchmarks',
  tokenVerificationEnabled: false,
  botId: 'B00BOLTPEER',
  botUserId: 'U00BOLTPEER',
  logLevel: LogLevel.WARN,
  customRoutes: [
    {
      path: '/bench/records',
      method: 'GET',
      handler(_req, res) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ count: stored.length }));
      },
    },
  ],
});

app.command('/breakglass', async ({ command, ack }) => {
  stored.push({ user_id: command.user_id, channel_id: command.channel_id, text: command.text, at: Date.now() });
  await ack({ response_type: 'ephemeral', text: `Break-glass request received: ${command.text}` });
});

function stop(signal) {
  console.log(`bolt-peer: ${stored.length} requests stored; ${signal}, exiting`);
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));

app
  .start({ port, host })
  .then(() => console.log(`bolt-peer: pid ${process.pid}, POST http://${host}:${port}/slack/events`))
  .catch((err) => {
    console.error('bolt-peer: could not start:', err);
    process.exit(1);
  });
