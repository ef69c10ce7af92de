#!/usr/bin/env node
/*
 * The Node plugin of the federation example: a client of the unmodified Node package
 * @crussell52/socket-ipc 0.4.0. Its host (examples/federation) starts it:
 *
 *   node examples/federation/nodeplugin/plugin.js --socket PATH --name node-plugin --host east
 *
 * It uses the copy of the package installed for the interop tests (`cd test/node && npm ci`).
 *
 *   plugin -> host   hello   {"name":"node-plugin"}
 *   host -> plugin   cmd     {"do":"news","text":"..."}  -> it sends "news" {"from":"east/node-plugin","text":"..."}
 *   NATS -> plugin   news    {"from":"west/go-plugin","text":"..."}  -> it reports it to its host
 *   anyone -> plugin request "describe" or "wordcount" (socketipc's $req/$res convention)
 *   plugin -> host   report  {"kind":"news"|"answered","text":"..."}
 *   host -> plugin   shutdown
 */

'use strict';

const path = require('path');

const pkgDir = path.join(__dirname, '..', '..', '..', 'test', 'node', 'node_modules', '@crussell52', 'socket-ipc');
let Client;
try {
    ({Client} = require(pkgDir));
} catch (err) {
    console.error(`node plugin: cannot load @crussell52/socket-ipc from ${pkgDir} (${err.code || err.message}).`);
    console.error('Run scripts/test, or `cd test/node && npm ci`, to install it.');
    process.exit(3);
}

function arg(name, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const socketFile = arg('socket');
const name = arg('name', 'node-plugin');
const me = `${arg('host', '?')}/${name}`;
if (!socketFile) {
    console.error('node plugin: --socket is required');
    process.exit(2);
}

const client = new Client({socketFile, retryDelay: 100, reconnectDelay: 100});
const report = (kind, text) => client.send('report', {kind, text});
let connected = false;

client.on('connect', () => {
    connected = true;
    client.send('hello', {name});
});
client.on('disconnect', () => {
    connected = false;
});
client.on('message.cmd', (cmd) => {
    if (cmd.do === 'news') {
        client.send('news', {from: me, text: cmd.text});
    }
});
client.on('message.news', (n) => report('news', `got news from ${n.from}: ${JSON.stringify(n.text)}`));

// Requests follow socketipc's convention (docs/ADVANCED.md): topic "$req.<topic>" with {id, data};
// the answer goes back on "$res" with the same id and the result as data, or {error: {message}}.
const handlers = {
    describe(req) {
        report('answered', `answered describe for the ${req && req.asker}`);
        return {who: me, runtime: `node ${process.version}`};
    },
    wordcount(text) {
        report('answered', `answered wordcount(${JSON.stringify(text)})`);
        return String(text).split(/\s+/).filter((w) => w !== '').length;
    },
};
client.on('message', (msg, topic) => {
    if (!topic.startsWith('$req.')) {
        return;
    }
    const t = topic.slice(5);
    if (Object.hasOwn(handlers, t)) {
        client.send('$res', {id: msg.id, data: handlers[t](msg.data)});
    } else {
        client.send('$res', {id: msg.id, error: {message: `${me} does not answer ${t}`}});
    }
});
client.on('error', (err) => console.log(`error: ${err.message}`));
client.on('close', () => process.exit(0));

let quitting = false;
function quit() {
    if (quitting) {
        return;
    }
    quitting = true;
    client.close();
    if (!connected) {
        process.exit(0);
    }
    setTimeout(() => process.exit(0), 2000);
}
client.on('message.shutdown', quit);
process.stdin.on('end', quit);
process.stdin.on('error', quit);
process.stdin.resume();
process.on('SIGINT', quit);
process.on('SIGTERM', quit);

client.connect();
