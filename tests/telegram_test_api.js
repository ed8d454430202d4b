// Runs telegram-test-api (https://github.com/jehy/telegram-test-api, MIT), the npm Bot API
// emulator, on 127.0.0.1:PORT for tests/test_telegram.py, which installs the package and starts
// this script. Usage: node telegram_test_api.js NODE_MODULES_DIR PORT
//
// Two gaps of the emulator against the Bot API are filled here, because python-telegram-bot
// cannot start or read a button press without them: getMe answers without `is_bot`, and a
// callback query comes without `chat_instance`. Everything else is the package as published,
// including what the bot has to live with: a sent message is echoed with its form fields as
// strings (`link_preview_options`), an edit answers `null`, getUpdates does not long-poll.
const path = require('path');

const TelegramServer = require(path.join(process.argv[2], 'telegram-test-api'));
const port = Number(process.argv[3]);
const server = new TelegramServer({ port, host: '127.0.0.1', storeTimeout: 600 });

const formatUpdate = TelegramServer.formatUpdate;
TelegramServer.formatUpdate = (update) => {
  const formatted = formatUpdate(update);
  if (formatted.callback_query) formatted.callback_query.chat_instance = 'telegram-test-api';
  return formatted;
};

const stack = server.webServer._router.stack;
const before = stack.length;
server.webServer.all('/bot:token/getMe', (req, res) => {
  res.json({ ok: true, result: { id: 666, is_bot: true, first_name: 'Test First name', username: 'TestNameBot' } });
});
const added = stack.splice(before);
stack.splice(stack.findIndex((layer) => layer.route), 0, ...added); // ahead of the package's routes

server.start().then(() => console.log(`listening on ${port}`));
process.on('SIGTERM', () => server.stop().then(() => process.exit(0)));
