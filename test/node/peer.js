#!/usr/bin/env node
/*
 * peer.js: a scriptable Node peer of @crussell52/socket-ipc, for the socketipc interop tests.
 *
 *   node peer.js server --socket PATH [--legacy]
 *   node peer.js client --socket PATH [--legacy] [--retry MS|MIN:MAX] [--reconnect MS|MIN:MAX]
 *
 * --legacy uses @crussell52/socket-ipc 0.2.0 (installed as "socket-ipc-legacy"; "%EOM%" framing)
 * instead of 0.4.0 ("\0\0" framing).
 *
 * Commands come as JSON lines on stdin; every event of the Node Server/Client (and a few of the
 * peer's own) goes out as one JSON line on stdout. See README.md beside this file for the
 * protocol. Nothing a command does may crash the peer: failures are reported as cmdError, and
 * exceptions thrown from inside the Node package (it has some) as uncaughtException.
 * The peer exits on {"cmd":"exit"} or when stdin closes (the test process went away).
 */

'use strict';

const crypto = require('crypto');

// Strings longer than this are reported as length + sha256 instead of text.
const BIG_STRING = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Output: one JSON line per write, in order. process.stdout keeps the order of writes and never
// splits one write among others; exit() waits for everything queued to be flushed.

let exiting = false;

function out(obj) {
    let line;
    try {
        line = JSON.stringify(obj);
    } catch (err) {
        line = JSON.stringify({event: 'peerError', error: 'cannot encode event: ' + err.message, about: String(obj && obj.event)});
    }
    process.stdout.write(line + '\n');
}

function exit(code) {
    if (exiting) {
        return;
    }
    exiting = true;
    // The callback of the last write runs once every earlier write has been flushed.
    process.stdout.write('', () => process.exit(code));
    // Should stdout be gone (EPIPE), do not hang around.
    setTimeout(() => process.exit(code), 5000).unref();
}

process.stdout.on('error', () => process.exit(1));

function describeError(err) {
    const o = {};
    if (err === null || err === undefined) {
        o.error = String(err);
        return o;
    }
    if (typeof err !== 'object') {
        o.error = String(err);
        o.name = typeof err;
        return o;
    }
    o.error = err.message !== undefined ? String(err.message) : String(err);
    o.name = (err.constructor && err.constructor.name) || err.name || 'Error';
    if (err.code !== undefined) o.code = err.code;
    if (err.sentTopic !== undefined) o.sentTopic = err.sentTopic;
    if ('sentMessage' in err) Object.assign(o, describeMessage(err.sentMessage, 'sentMessage', true));
    if (err.clientId !== undefined) o.errClientId = err.clientId;
    if (err.rawData !== undefined) o.rawData = String(err.rawData);
    return o;
}

function sha256(s) {
    return crypto.createHash('sha256').update(s, 'utf8').digest('hex');
}

// Describes a message value under `key`: the value itself; keyMissing when undefined (a frame
// without the message key); keyLength + keySha256 for a big string; with check, keyUnencodable
// (why) for a value JSON cannot carry (what failed to send).
function describeMessage(value, key, check) {
    key = key || 'message';
    const o = {};
    if (check && value !== undefined) {
        try {
            JSON.stringify(value);
        } catch (err) {
            o[key + 'Unencodable'] = err.message;
            return o;
        }
    }
    if (value === undefined) {
        o[key + 'Missing'] = true;
    } else if (typeof value === 'string' && value.length > BIG_STRING) {
        o[key + 'Length'] = value.length;
        o[key + 'Sha256'] = sha256(value);
    } else {
        o[key] = value;
    }
    return o;
}

// ---------------------------------------------------------------------------------------------
// Arguments.

function usage(msg) {
    process.stderr.write((msg ? msg + '\n' : '') +
        'usage: node peer.js server --socket PATH [--legacy]\n' +
        '       node peer.js client --socket PATH [--legacy] [--retry MS|MIN:MAX] [--reconnect MS|MIN:MAX]\n');
    process.exit(2);
}

function parseDelay(s, flag) {
    const m = /^(\d+)(?::(\d+))?$/.exec(s || '');
    if (!m) {
        usage(`bad ${flag} value: ${s}`);
    }
    if (m[2] === undefined) {
        return parseInt(m[1], 10);
    }
    return {min: parseInt(m[1], 10), max: parseInt(m[2], 10)};
}

const argv = process.argv.slice(2);
const role = argv.shift();
if (role !== 'server' && role !== 'client') {
    usage(`unknown role: ${role}`);
}
const opts = {legacy: false};
while (argv.length) {
    const a = argv.shift();
    switch (a) {
        case '--socket':
            opts.socket = argv.shift();
            break;
        case '--legacy':
            opts.legacy = true;
            break;
        case '--retry':
            opts.retry = parseDelay(argv.shift(), a);
            break;
        case '--reconnect':
            opts.reconnect = parseDelay(argv.shift(), a);
            break;
        default:
            usage(`unknown argument: ${a}`);
    }
}
if (opts.socket === undefined) {
    usage('--socket is required');
}

const pkgName = opts.legacy ? 'socket-ipc-legacy' : '@crussell52/socket-ipc';
const ipc = require(pkgName);
const pkgVersion = require(`${pkgName}/package.json`).version;

// ---------------------------------------------------------------------------------------------
// Quiet mode: count the messages of a topic instead of reporting each one, checking that each
// client's messages are `${prefix}${i}` for i = 0, 1, 2, ...

const quiet = new Map(); // topic -> state

function quietReport(topic, st) {
    const o = {
        event: 'count',
        topic,
        count: st.count,
        inOrder: st.firstBad === null,
        clients: st.perClient.size,
        bytes: st.bytes,
    };
    if (st.count > 0) Object.assign(o, describeMessage(st.last, 'lastMessage'));
    if (st.firstBad !== null) o.firstBad = st.firstBad;
    if (st.expect !== undefined) o.expect = st.expect;
    return o;
}

function quietCount(st, message, clientId) {
    const key = clientId === undefined ? '' : clientId;
    const next = st.perClient.get(key) || 0;
    st.perClient.set(key, next + 1);
    st.count++;
    st.last = message;
    if (typeof message === 'string') st.bytes += message.length;
    if (st.firstBad === null && message !== `${st.prefix}${next}`) {
        st.firstBad = Object.assign({index: next, clientId}, describeMessage(message, 'got'));
    }
}

// ---------------------------------------------------------------------------------------------
// The Node Server/Client, with every event it emits reported.

let node;
try {
    if (role === 'server') {
        node = new ipc.Server({socketFile: opts.socket});
    } else {
        const o = {socketFile: opts.socket};
        if (opts.retry !== undefined) o.retryDelay = opts.retry;
        if (opts.reconnect !== undefined) o.reconnectDelay = opts.reconnect;
        node = new ipc.Client(o);
    }
} catch (err) {
    out(Object.assign({event: 'constructError'}, describeError(err)));
    exit(3);
    return;
}

// Sockets seen in `connection` (server, by client id) / `connect` (client), for sendRaw and drop.
const sockets = new Map();
let clientSocket = null;

function watchSocket(socket, clientId) {
    const tag = clientId === undefined ? {} : {clientId};
    socket.on('end', () => out(Object.assign({event: 'socketEnd'}, tag)));
    socket.on('close', (hadError) => {
        if (clientId !== undefined) {
            sockets.delete(clientId);
        } else if (clientSocket === socket) {
            clientSocket = null;
        }
        out(Object.assign({event: 'socketClose', hadError: !!hadError}, tag));
    });
}

function reportEvent(name, args) {
    const ev = {event: name};
    if (name === 'message' || name.startsWith('message.')) {
        let message, topic, clientId;
        if (name === 'message') {
            [message, topic, clientId] = args;
        } else {
            [message, clientId] = args;
            topic = name.slice('message.'.length);
        }
        const st = quiet.get(topic);
        if (st) {
            if (name === 'message') {
                quietCount(st, message, clientId);
                if (st.expect !== undefined && st.count === st.expect) {
                    out(quietReport(topic, st));
                }
            }
            return;
        }
        ev.topic = topic;
        Object.assign(ev, describeMessage(message));
        if (clientId !== undefined) ev.clientId = clientId;
    } else if (name === 'connection') {
        ev.clientId = args[0];
        if (args[1]) {
            sockets.set(args[0], args[1]);
            watchSocket(args[1], args[0]);
        }
    } else if (name === 'connect') {
        if (args[0]) {
            clientSocket = args[0];
            watchSocket(args[0]);
        }
    } else if (name === 'error' || name === 'connectError') {
        Object.assign(ev, describeError(args[0]));
        if (args[1] !== undefined) ev.clientId = args[1];
    } else if (args.length) {
        // An event we do not know: report what can be reported.
        ev.args = args.map((a) => (a && typeof a === 'object' && a.constructor && a.constructor.name !== 'Object'
            ? `[${a.constructor.name}]` : a));
    }
    out(ev);
}

const origEmit = node.emit;
node.emit = function (name, ...args) {
    try {
        reportEvent(String(name), args);
    } catch (err) {
        out(Object.assign({event: 'peerError', about: String(name)}, describeError(err)));
    }
    return origEmit.call(this, name, ...args);
};
// Without an `error` listener, EventEmitter throws the error.
node.on('error', () => {});

// Exceptions thrown from inside the Node package (e.g. its DecodeError constructor throws a
// ReferenceError on a frame that is not JSON) would kill a normal Node process. Report them.
process.on('uncaughtException', (err) => {
    out(Object.assign({event: 'uncaughtException'}, describeError(err)));
});
process.on('unhandledRejection', (err) => {
    out(Object.assign({event: 'unhandledRejection'}, describeError(err)));
});

// ---------------------------------------------------------------------------------------------
// Request/reply by the convention of reqres.js (what docs/ADVANCED.md shows).

const reqres = require('./reqres.js');
const handlerKinds = {
    echo: (data) => data,
    fail: (data) => { throw new Error(String(data)); },
    slow: (data) => new Promise((resolve) => setTimeout(() => resolve(data), 50)),
    silent: () => new Promise(() => {}), // never answers
};
const answering = {}; // topic -> handler, shared by every `answer` command
let answerInstalled = false;
let request = null;

// ---------------------------------------------------------------------------------------------
// Commands.

function need(cmd, key, type) {
    const v = cmd[key];
    if (type === 'integer' ? !Number.isInteger(v) || v < 0 : typeof v !== type) {
        throw new Error(`"${key}" must be ${type === 'integer' ? 'a non-negative integer' : 'a ' + type}`);
    }
    return v;
}

function serverOnly(cmd) {
    if (role !== 'server') throw new Error(`"${cmd.cmd}" is a server command`);
}

function clientOnly(cmd) {
    if (role !== 'client') throw new Error(`"${cmd.cmd}" is a client command`);
}

// The message of a send/broadcast: absent key means undefined (Node omits it on the wire);
// "special" makes values JSON cannot carry, to provoke encode errors.
function messageOf(cmd) {
    switch (cmd.special) {
        case undefined:
            return cmd.message;
        case 'undefined':
            return undefined;
        case 'circular': {
            const o = {};
            o.self = o;
            return o;
        }
        case 'bigint':
            return BigInt(1);
        case 'function':
            return () => {};
        default:
            throw new Error(`unknown special: ${cmd.special}`);
    }
}

// send one message: server to cmd.clientId (or to all with cmd.broadcast), client to the server.
function sendOne(cmd, topic, message) {
    if (role === 'server') {
        if (cmd.broadcast) {
            node.broadcast(topic, message);
        } else {
            node.send(topic, message, cmd.clientId);
        }
    } else {
        node.send(topic, message);
    }
}

function socketFor(cmd) {
    if (role === 'server') {
        const s = sockets.get(cmd.clientId) || (node._clientLookup && node._clientLookup.get(cmd.clientId));
        if (!s) throw new Error(`no socket for client id ${cmd.clientId}`);
        return s;
    }
    const s = clientSocket || node._socket;
    if (!s) throw new Error('not connected');
    return s;
}

const commands = {
    listen(cmd) {
        serverOnly(cmd);
        node.listen();
    },
    connect(cmd) {
        clientOnly(cmd);
        node.connect();
    },
    send(cmd) {
        const topic = cmd.topic;
        sendOne(cmd, topic, messageOf(cmd));
    },
    broadcast(cmd) {
        serverOnly(cmd);
        node.broadcast(cmd.topic, messageOf(cmd));
    },
    sendMany(cmd) {
        const count = need(cmd, 'count', 'integer');
        const prefix = cmd.prefix === undefined ? '' : String(cmd.prefix);
        for (let i = 0; i < count; i++) {
            sendOne(cmd, cmd.topic, `${prefix}${i}`);
        }
        return {count};
    },
    sendBig(cmd) {
        const size = need(cmd, 'size', 'integer');
        const ch = cmd.char === undefined ? 'a' : String(cmd.char);
        if (ch.length !== 1) throw new Error('"char" must be one character');
        const s = ch.repeat(size);
        sendOne(cmd, cmd.topic, s);
        return {size, sha256: sha256(s)};
    },
    sendRaw(cmd) {
        const data = Buffer.from(need(cmd, 'data', 'string'), 'base64');
        socketFor(cmd).write(data);
        return {bytes: data.length};
    },
    drop(cmd) {
        // End (graceful: true) or destroy a connection behind the library's back.
        const s = socketFor(cmd);
        if (cmd.graceful) {
            s.end();
        } else {
            s.destroy();
        }
    },
    close() {
        node.close();
    },
    quiet(cmd) {
        const topic = need(cmd, 'topic', 'string');
        if (cmd.off) {
            const st = quiet.get(topic);
            quiet.delete(topic);
            return st ? {final: quietReport(topic, st)} : {};
        }
        const st = {
            prefix: cmd.prefix === undefined ? '' : String(cmd.prefix),
            count: 0,
            bytes: 0,
            last: undefined,
            firstBad: null,
            perClient: new Map(),
        };
        if (cmd.expect !== undefined) st.expect = need(cmd, 'expect', 'integer');
        quiet.set(topic, st);
    },
    report(cmd) {
        const topics = cmd.topic === undefined ? [...quiet.keys()] : [cmd.topic];
        for (const t of topics) {
            const st = quiet.get(t);
            if (!st) throw new Error(`topic ${t} is not quiet`);
            out(quietReport(t, st));
        }
        return {topics: topics.length};
    },
    answer(cmd) {
        const handlers = cmd.handlers || {};
        for (const topic of Object.keys(handlers)) {
            const fn = handlerKinds[handlers[topic]];
            if (!fn) throw new Error(`unknown handler kind: ${handlers[topic]}`);
            answering[topic] = fn;
        }
        if (!answerInstalled) {
            answerInstalled = true;
            reqres.answerRequests(node, answering);
        }
    },
    request(cmd) {
        if (!request) request = reqres.requester(node);
        const topic = need(cmd, 'topic', 'string');
        const id = cmd.id;
        request(topic, cmd.data, cmd.clientId, cmd.timeoutMs === undefined ? 5000 : cmd.timeoutMs).then(
            (data) => out(Object.assign({event: 'reply', id}, describeMessage(data, 'data'))),
            (err) => out({event: 'replyError', id, error: String(err.message)}));
    },
    ping(cmd) {
        return {};
    },
    exit(cmd) {
        out({event: 'exiting'});
        exit(Number.isInteger(cmd.code) ? cmd.code : 0);
    },
};

function runCommand(line) {
    if (exiting || line.trim() === '') {
        return;
    }
    let cmd;
    try {
        cmd = JSON.parse(line);
        if (cmd === null || typeof cmd !== 'object' || Array.isArray(cmd)) throw new Error('not an object');
    } catch (err) {
        out({event: 'cmdError', error: `bad command line: ${err.message}`, line});
        return;
    }
    const id = cmd.id === undefined ? {} : {id: cmd.id};
    const fn = Object.prototype.hasOwnProperty.call(commands, cmd.cmd) ? commands[cmd.cmd] : null;
    if (!fn) {
        out(Object.assign({event: 'cmdError', cmd: cmd.cmd, error: `unknown command: ${cmd.cmd}`}, id));
        return;
    }
    try {
        const extra = fn(cmd);
        if (cmd.cmd !== 'exit') {
            out(Object.assign({event: 'done', cmd: cmd.cmd}, id, extra || {}));
        }
    } catch (err) {
        out(Object.assign({event: 'cmdError', cmd: cmd.cmd}, id, describeError(err)));
    }
}

// Split stdin into lines by hand (readline would be fine too, but this has no surprises with
// very long lines and keeps commands strictly in order).
let inBuf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
    inBuf += chunk;
    let nl;
    while ((nl = inBuf.indexOf('\n')) >= 0) {
        const line = inBuf.slice(0, nl);
        inBuf = inBuf.slice(nl + 1);
        runCommand(line);
    }
});
process.stdin.on('end', () => {
    if (inBuf !== '') runCommand(inBuf);
    out({event: 'stdinClosed'});
    exit(0);
});

out({
    event: 'ready',
    role,
    legacy: opts.legacy,
    version: pkgVersion,
    pid: process.pid,
    node: process.version,
    socket: opts.socket,
});
