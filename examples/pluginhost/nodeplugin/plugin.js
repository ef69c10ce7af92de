#!/usr/bin/env node
/*
 * The Node plugin of the pluginhost example: a client of the unmodified Node package
 * @crussell52/socket-ipc 0.4.0 that introduces itself to the Go host and does number jobs.
 *
 * The host (examples/pluginhost) starts it; it can also be run by hand against a running host:
 *
 *   node examples/pluginhost/nodeplugin/plugin.js --socket /tmp/host.sock [--name N] [--max-jobs N]
 *
 * It uses the copy of the package installed for the interop tests, so run
 * `cd test/node && npm ci` (or scripts/test) once first.
 *
 * The conversation is the same as the Go plugin's (see goplugin/main.go):
 *
 *   plugin -> host  hello   {"topic":"hello","message":{"name":"node-plugin","capabilities":["sum","wordcount"],"pid":1234}}
 *   host -> plugin  job     {"id":8,"op":"sum","input":[1,2,3]}
 *   plugin -> host  result  {"id":8,"output":6}   (or {"id":8,"error":"..."})
 *   host -> plugin  request "status", answered with {"runtime":"node v20...","jobs":3}
 *   host -> plugin  shutdown
 *
 * It exits on "shutdown", when its stdin closes (the host went away), on SIGINT/SIGTERM, or
 * after --max-jobs jobs.
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
const maxJobs = parseInt(arg('max-jobs', '0'), 10) || 0;
if (!socketFile) {
    console.error('node plugin: --socket is required');
    process.exit(2);
}

const ops = {
    sum(input) {
        if (!Array.isArray(input) || !input.every((n) => typeof n === 'number')) {
            throw new Error('sum wants an array of numbers');
        }
        return input.reduce((a, b) => a + b, 0);
    },
    wordcount(input) {
        if (typeof input !== 'string') {
            throw new Error('wordcount wants a string');
        }
        return input.split(/\s+/).filter((w) => w !== '').length;
    },
};

const say = (text) => console.log(text);

// Retry quickly: the host may not be listening yet, and after a disconnect it is probably
// already back.
const client = new Client({socketFile, retryDelay: 100, reconnectDelay: 100});
let connected = false;
let done = 0;
let quitting = false;

client.on('connect', () => {
    connected = true;
    say('connected; saying hello');
    client.send('hello', {name, capabilities: Object.keys(ops), pid: process.pid});
});
client.on('disconnect', () => {
    connected = false;
    say('lost the host; reconnecting');
});
client.on('message.job', (job) => {
    if (quitting) {
        return; // the host will give it to someone else
    }
    const result = {id: job.id};
    try {
        if (!Object.hasOwn(ops, job.op)) {
            throw new Error(`node-plugin can't "${job.op}"`);
        }
        result.output = ops[job.op](job.input);
    } catch (err) {
        result.error = err.message;
    }
    client.send('result', result);
    done++;
    if (maxJobs > 0 && done >= maxJobs) {
        quit(`did ${done} jobs, retiring`);
    }
});
// The host's requests follow socketipc's convention (docs/ADVANCED.md): a request comes as topic
// "$req.<topic>" with {id, data}; the answer goes back on "$res" with the same id and the result
// as data (or {error: {message}}). This plugin answers "status" and no other.
client.on('message', (msg, topic) => {
    if (!topic.startsWith('$req.')) {
        return;
    }
    if (topic === '$req.status') {
        client.send('$res', {id: msg.id, data: {runtime: `node ${process.version}`, jobs: done}});
    } else {
        client.send('$res', {id: msg.id, error: {message: `node-plugin does not answer ${topic.slice(5)}`}});
    }
});
client.on('message.shutdown', () => quit('the host says shut down'));
client.on('error', (err) => say(`error: ${err.message}`));
// 'close' follows client.close() once the connection has ended (what was written is flushed).
client.on('close', () => process.exit(0));

function quit(why) {
    if (quitting) {
        return;
    }
    quitting = true;
    say(`${why}; bye`);
    client.close();
    // The Node client emits no 'close' when it is not connected; don't wait for one then.
    if (!connected) {
        process.exit(0);
    }
    setTimeout(() => process.exit(0), 2000);
}

process.stdin.on('end', () => quit('the host went away (stdin closed)'));
process.stdin.on('error', () => quit('the host went away (stdin error)'));
process.stdin.resume();
process.on('SIGINT', () => quit('got SIGINT'));
process.on('SIGTERM', () => quit('got SIGTERM'));

client.connect();
