#!/usr/bin/env node
/*
 * peer.js: implementation (b) of the socketipc benchmark, the Node package
 * @crussell52/socket-ipc 0.4.0 (the copy installed in test/node by `npm ci`),
 * as a server or as client(s), one role per process. It speaks the protocol of the Go
 * peers (internal/benchmark/bench): same command line, same JSON lines on stdout,
 * "FAIL: ..." on stderr and exit status 1 when anything is lost, duplicated or reordered.
 *
 *   node peer.js server|client -scenario s1|s2|s3|s3r|s4|s4b|s4c|s5|s6|s7 -socket PATH -n N
 *       [-clients K] [-warmup W] [-size B] [-inflight F]
 */

'use strict';

const path = require('path');

const PKG = path.join(__dirname, '..', '..', '..', 'test', 'node', 'node_modules', '@crussell52', 'socket-ipc');
let ipc;
try {
    ipc = require(PKG);
} catch (err) {
    process.stderr.write(`FAIL: cannot load ${PKG} (run scripts/test, or npm ci in test/node): ${err.message}\n`);
    process.exit(1);
}

const TOPIC = 'hello';
const ACK_TOPIC = 'done';
const RAND_LEN = 32;

function fail(msg) {
    process.stderr.write('FAIL: ' + msg + '\n');
    process.exit(1);
}

function emit(event, fields) {
    process.stdout.write(JSON.stringify(Object.assign({event}, fields || {})) + '\n');
}

function finish(result) {
    emit('result', result);
    // The callback of the last write runs once everything before it is flushed.
    process.stdout.write('', () => process.exit(0));
}

function parseArgs(argv) {
    const role = argv[2];
    if (role !== 'server' && role !== 'client') {
        fail('usage: peer.js server|client -scenario s1|...|s7 -socket PATH -n N [-clients K] [-warmup W] [-size B] [-inflight F]');
    }
    const a = {role, scenario: '', socket: '', n: 0, clients: 8, warmup: 0, size: 1 << 20, inflight: 8};
    for (let i = 3; i < argv.length; i++) {
        let name = argv[i].replace(/^--?/, '');
        let value;
        const eq = name.indexOf('=');
        if (eq >= 0) {
            value = name.slice(eq + 1);
            name = name.slice(0, eq);
        } else {
            value = argv[++i];
        }
        switch (name) {
            case 'scenario': a.scenario = value; break;
            case 'socket': a.socket = value; break;
            case 'n': a.n = parseInt(value, 10); break;
            case 'clients': a.clients = parseInt(value, 10); break;
            case 'warmup': a.warmup = parseInt(value, 10); break;
            case 'size': a.size = parseInt(value, 10); break;
            case 'inflight': a.inflight = parseInt(value, 10); break;
            case 'cpuprofile': case 'memprofile': case 'listener': break; // Go peers only
            default: fail(`unknown flag -${name}`);
        }
    }
    if (!['s1', 's2', 's3', 's3r', 's4', 's4b', 's4c', 's5', 's6', 's7'].includes(a.scenario)) fail(`bad -scenario ${a.scenario}`);
    if (!a.socket) fail('-socket is required');
    if (!(a.n > 0)) fail('-n must be positive');
    if (!(a.clients > 0)) fail('-clients must be positive');
    if (!(a.size >= MIN_SIZE)) fail(`-size must be at least ${MIN_SIZE}`);
    if (!(a.inflight > 0)) fail('-inflight must be positive');
    return a;
}

// payloads returns n payloads "<i>:" + 32 random lower-case letters, made before timing.
function payloads(n) {
    const p = new Array(n);
    for (let i = 0; i < n; i++) {
        let r = '';
        for (let j = 0; j < RAND_LEN; j++) {
            r += String.fromCharCode(97 + Math.floor(Math.random() * 26));
        }
        p[i] = i + ':' + r;
    }
    return p;
}

// Sized payloads (S6, S7), as bench.SizedPayload and bench.PutIndex: the index
// as INDEX_WIDTH zero-padded digits, ':', then random lower-case letters.
const INDEX_WIDTH = 8;
const MIN_SIZE = INDEX_WIDTH + 2;

function sizedFiller(size) {
    let r = '';
    for (let j = INDEX_WIDTH + 1; j < size; j++) {
        r += String.fromCharCode(97 + Math.floor(Math.random() * 26));
    }
    return r;
}

function sizedPayload(i, filler) {
    return String(i).padStart(INDEX_WIDTH, '0') + ':' + filler;
}

// Seq checks that payloads arrive as 0, 1, 2, ... with nothing lost, duplicated or reordered.
class Seq {
    constructor(name, max, len) {
        this.name = name;
        this.next = 0;
        this.max = max; // how many are expected; one more is an error
        this.len = len || 0; // the whole payload's length (sized payloads); 0: "<i>:" + RAND_LEN letters
    }

    check(p) {
        if (this.next >= this.max) {
            fail(`${this.name}: a message after the ${this.max} expected ones: ${JSON.stringify(String(p).slice(0, 60))}`);
        }
        if (typeof p !== 'string') {
            fail(`${this.name}: message ${this.next}: payload is a ${typeof p}, not a string`);
        }
        const colon = p.indexOf(':');
        const digits = colon > 0 ? p.slice(0, colon) : '';
        if (!/^[0-9]+$/.test(digits)) {
            fail(`${this.name}: message ${this.next}: malformed payload ${JSON.stringify(p.slice(0, 60))}`);
        }
        const i = parseInt(digits, 10);
        if (i !== this.next) {
            const what = i < this.next ? 'duplicated or reordered' : 'out of order (an earlier one lost?)';
            fail(`${this.name}: expected message ${this.next}, got ${i}: ${what}`);
        }
        if (this.len === 0 && p.length - colon - 1 !== RAND_LEN) {
            fail(`${this.name}: message ${i}: random part of ${p.length - colon - 1} chars, want ${RAND_LEN}`);
        }
        if (this.len > 0 && p.length !== this.len) {
            fail(`${this.name}: message ${i}: ${p.length} chars, want ${this.len}`);
        }
        this.next++;
    }
}

// Orders (S4, S4b, S4c): the same objects as Order and MakeOrder in
// internal/benchmark/bench/order.go. Order i is template i % 1000 with
// its own id and created.
const ORDER_TOPIC = 'order';
const ORDER_TEMPLATES = 1000;
const CREATED_BASE = 1767225600000;
const CITIES = ['Springfield', 'Zürich', 'Lyon', 'Osaka', 'Porto'];
const CURRENCIES = ['EUR', 'USD', 'CHF'];
const PRODUCTS = ['Widget', 'Gadget', 'Sprocket', 'Gizmo'];

function orderTemplate(k) {
    const p1 = (100 + (k * 37) % 9000) / 100;
    const p2 = (500 + (k * 13) % 700) / 100;
    const q1 = 1 + k % 5;
    const q2 = 1 + k % 3;
    return {
        id: 0,
        customer: {name: 'Customer ' + k, email: 'customer' + k + '@example.com', city: CITIES[k % 5], zip: String(10000 + k * 7)},
        items: [
            {sku: 'SKU-' + (10000 + k * 3), name: PRODUCTS[k % 4], qty: q1, price: p1},
            {sku: 'SKU-' + (20000 + (k * 11) % 10000), name: PRODUCTS[(k + 1) % 4], qty: q2, price: p2},
        ],
        total: Math.round((q1 * p1 + q2 * p2) * 100) / 100,
        currency: CURRENCIES[k % 3],
        paid: k % 2 === 0,
        tags: ['express', 'gift'].slice(0, 1 + k % 2),
        note: 'Leave at the door & ring <twice>',
        created: 0,
    };
}

let templates;
function makeOrder(i) {
    if (!templates) {
        templates = [];
        for (let k = 0; k < ORDER_TEMPLATES; k++) templates.push(orderTemplate(k));
    }
    return Object.assign({}, templates[i % ORDER_TEMPLATES], {id: i, created: CREATED_BASE + i});
}

// OrderSeq checks that orders arrive in order, every field as expected.
class OrderSeq {
    constructor(name, max) {
        this.name = name;
        this.next = 0;
        this.max = max;
    }

    check(o) {
        if (this.next >= this.max) fail(`${this.name}: an order after the ${this.max} expected ones`);
        if (o === null || typeof o !== 'object') fail(`${this.name}: order ${this.next} is a ${typeof o}`);
        if (o.id !== this.next) {
            const what = o.id < this.next ? 'duplicated or reordered' : 'out of order (an earlier one lost?)';
            fail(`${this.name}: expected order ${this.next}, got ${o.id}: ${what}`);
        }
        const w = makeOrder(o.id);
        const c = o.customer || {};
        const items = o.items || [];
        const tags = o.tags || [];
        let ok = Object.keys(o).length === 9 && Object.keys(c).length === 4 &&
            o.total === w.total && o.currency === w.currency && o.paid === w.paid && o.note === w.note &&
            o.created === w.created && c.name === w.customer.name && c.email === w.customer.email &&
            c.city === w.customer.city && c.zip === w.customer.zip &&
            items.length === w.items.length && tags.length === w.tags.length;
        for (let j = 0; ok && j < items.length; j++) {
            const it = items[j] || {};
            const wi = w.items[j];
            ok = Object.keys(it).length === 4 && it.sku === wi.sku && it.name === wi.name && it.qty === wi.qty && it.price === wi.price;
        }
        for (let j = 0; ok && j < tags.length; j++) ok = tags[j] === w.tags[j];
        if (!ok) fail(`${this.name}: order ${o.id}: got ${JSON.stringify(o)}, want ${JSON.stringify(w)}`);
        this.next++;
    }
}

const now = () => process.hrtime.bigint();

// cpuNS is the CPU time (user + system) this process has used so far, in nanoseconds.
function cpuNS() {
    const u = process.cpuUsage();
    return (u.user + u.system) * 1000;
}

function runServer(a) {
    const server = new ipc.Server({socketFile: a.socket});
    server.on('error', err => fail(`server: error event: ${err && err.message}`));

    const expectClients = ['s2', 's5', 's7'].includes(a.scenario) ? a.clients : 1;
    let connected = 0;
    let gone = 0;
    let complete = clientId => false; // whether this client may leave now
    let onAllConnected = () => {};
    let onAllGone = () => {};
    server.on('connection', (id, socket) => {
        socket.on('close', () => {
            if (!complete(id)) {
                fail(`server: client ${id} disconnected before the scenario was complete`);
            }
            if (++gone === expectClients) {
                onAllGone();
            }
        });
        if (++connected === expectClients) {
            onAllConnected();
        }
    });
    server.on('listening', () => emit('ready'));

    const result = {role: 'server', impl: 'node'};
    const done = () => {
        server.close();
        finish(result);
    };

    switch (a.scenario) {
        case 's1': {
            const seq = new Seq('server', a.n);
            let first;
            complete = () => seq.next === a.n;
            server.on('message.' + TOPIC, (msg, clientId) => {
                if (seq.next === 0) first = now();
                seq.check(msg);
                if (seq.next === a.n) {
                    result.received = seq.next;
                    result.elapsed_ns = Number(now() - first);
                }
            });
            onAllGone = done;
            break;
        }
        case 's2': {
            const list = payloads(a.n);
            let acks = 0;
            let start;
            const ackedBy = new Set();
            // Each client leaves after its own ack, perhaps before the others'.
            complete = clientId => ackedBy.has(clientId);
            server.on('message.' + ACK_TOPIC, (msg, clientId) => {
                if (ackedBy.has(clientId)) fail(`server: client ${clientId} acked twice`);
                ackedBy.add(clientId);
                if (++acks === a.clients) {
                    result.elapsed_ns = Number(now() - start);
                    result.sent = a.n;
                    result.acks = acks;
                }
            });
            onAllConnected = () => setImmediate(() => {
                start = now();
                for (let i = 0; i < list.length; i++) {
                    server.broadcast(TOPIC, list[i]);
                }
            });
            onAllGone = done;
            break;
        }
        case 's4': case 's4b': case 's4c': {
            // Node has one way to receive: the parsed object, whose fields the listener reads.
            const seq = new OrderSeq('server', a.n);
            let first;
            complete = () => seq.next === a.n;
            server.on('message.' + ORDER_TOPIC, (msg, clientId) => {
                if (seq.next === 0) first = now();
                seq.check(msg);
                if (seq.next === a.n) {
                    result.received = seq.next;
                    result.elapsed_ns = Number(now() - first);
                }
            });
            onAllGone = done;
            break;
        }
        case 's5': case 's7': {
            // S5: every client sends 0, 1, ... N-1 at once; S7: one client of many does.
            const seqs = new Map();
            const want = a.scenario === 's5' ? a.n * a.clients : a.n;
            const len = a.scenario === 's7' ? a.size : 0;
            let total = 0;
            let first;
            let cpuFirst;
            complete = clientId => {
                const s = seqs.get(clientId);
                if (a.scenario === 's7') return !s || s.next === a.n; // idle clients may leave at any time
                return !!s && s.next === a.n;
            };
            server.on('message.' + TOPIC, (msg, clientId) => {
                if (total === 0) {
                    first = now();
                    cpuFirst = cpuNS();
                }
                let seq = seqs.get(clientId);
                if (!seq) {
                    seq = new Seq(`server, client ${clientId}`, a.n, len);
                    seqs.set(clientId, seq);
                    if (a.scenario === 's7' && seqs.size > 1) fail('server: S7 has one sender, and a second client sent');
                }
                seq.check(msg);
                if (++total === want) {
                    result.received = total;
                    result.elapsed_ns = Number(now() - first);
                    result.cpu_ns = cpuNS() - cpuFirst;
                }
            });
            onAllGone = done;
            break;
        }
        case 's6': {
            // Large messages echoed; the client keeps at most -inflight unanswered.
            const seq = new Seq('server', a.n, a.size);
            complete = () => seq.next === a.n;
            server.on('message.' + TOPIC, (msg, clientId) => {
                seq.check(msg);
                server.send(TOPIC, msg, clientId);
            });
            onAllGone = () => {
                result.echoed = seq.next;
                done();
            };
            break;
        }
        case 's3': {
            const seq = new Seq('server', a.warmup + a.n);
            complete = () => seq.next === a.warmup + a.n;
            server.on('message.' + TOPIC, (msg, clientId) => {
                seq.check(msg);
                server.send(TOPIC, msg, clientId);
            });
            onAllGone = () => {
                result.echoed = seq.next;
                done();
            };
            break;
        }
        case 's3r': {
            // Answers requests by socketipc's convention (docs/ADVANCED.md): "$req.<topic>"
            // {id, data} in, "$res" {id, data} out.
            const seq = new Seq('server', a.warmup + a.n);
            complete = () => seq.next === a.warmup + a.n;
            server.on('message.$req.' + TOPIC, (msg, clientId) => {
                seq.check(msg.data);
                server.send('$res', {id: msg.id, data: msg.data}, clientId);
            });
            onAllGone = () => {
                result.echoed = seq.next;
                done();
            };
            break;
        }
    }
    server.listen();
}

function newClient(a, name, onClose) {
    const client = new ipc.Client({socketFile: a.socket, retryDelay: 10});
    let closing = false;
    client.on('error', err => fail(`${name}: error event: ${err && err.message}`));
    client.on('disconnect', () => {
        if (!closing) fail(`${name}: disconnected`);
    });
    client.on('close', onClose);
    return {
        client,
        close() {
            closing = true;
            client.close();
        },
    };
}

function runClient(a) {
    const result = {role: 'client', impl: 'node'};
    switch (a.scenario) {
        case 's1': {
            const list = payloads(a.n);
            const c = newClient(a, 'client', () => {
                result.sent = a.n;
                finish(result);
            });
            c.client.on('connect', () => {
                for (let i = 0; i < list.length; i++) {
                    c.client.send(TOPIC, list[i]);
                }
                c.close();
            });
            c.client.connect();
            break;
        }
        case 's4': case 's4b': case 's4c': {
            // Node has one way to send: the object, which send() stringifies.
            makeOrder(0);
            const c = newClient(a, 'client', () => {
                result.sent = a.n;
                finish(result);
            });
            c.client.on('connect', () => {
                for (let i = 0; i < a.n; i++) {
                    c.client.send(ORDER_TOPIC, makeOrder(i));
                }
                c.close();
            });
            c.client.connect();
            break;
        }
        case 's5': case 's7': {
            // S5: every client sends the same N payloads, all at once; S7: the
            // first client sends, the others stay connected and idle.
            const list = a.scenario === 's5' ? payloads(a.n) : null;
            const filler = a.scenario === 's7' ? sizedFiller(a.size) : '';
            const clients = [];
            let connected = 0;
            let closed = 0;
            const sendAll = () => {
                if (a.scenario === 's5') {
                    for (let i = 0; i < a.n; i++) {
                        for (const c of clients) c.client.send(TOPIC, list[i]);
                    }
                    result.sent = a.n * a.clients;
                } else {
                    for (let i = 0; i < a.n; i++) clients[0].client.send(TOPIC, sizedPayload(i, filler));
                    result.sent = a.n;
                }
                clients.forEach(c => c.close());
            };
            for (let k = 0; k < a.clients; k++) {
                const c = newClient(a, `client ${k}`, () => {
                    if (++closed === a.clients) finish(result);
                });
                clients.push(c);
                c.client.once('connect', () => {
                    if (++connected === a.clients) sendAll();
                });
                c.client.connect();
            }
            break;
        }
        case 's6': {
            const filler = sizedFiller(a.size);
            const sent = new Array(a.inflight);
            const seq = new Seq('client', a.n, a.size);
            let next = 0;
            let start;
            const c = newClient(a, 'client', () => finish(result));
            const sendNext = () => {
                const p = sizedPayload(next, filler);
                sent[next % a.inflight] = p;
                next++;
                c.client.send(TOPIC, p);
            };
            c.client.on('connect', () => {
                start = now();
                while (next < a.n && next < a.inflight) sendNext();
            });
            c.client.on('message.' + TOPIC, msg => {
                const i = seq.next;
                seq.check(msg);
                if (msg !== sent[i % a.inflight]) fail(`client: echo ${i} is not the message sent`);
                if (seq.next === a.n) {
                    result.received = seq.next;
                    result.elapsed_ns = Number(now() - start);
                    c.close();
                    return;
                }
                if (next < a.n) sendNext();
            });
            c.client.connect();
            break;
        }
        case 's2': {
            const seqs = [];
            const clients = [];
            let finished = 0;
            let closed = 0;
            for (let k = 0; k < a.clients; k++) {
                const seq = new Seq(`client ${k}`, a.n);
                seqs.push(seq);
                const c = newClient(a, seq.name, () => {
                    if (++closed === a.clients) {
                        result.received = seqs.map(s => s.next);
                        finish(result);
                    }
                });
                clients.push(c);
                c.client.on('message.' + TOPIC, msg => {
                    seq.check(msg);
                    if (seq.next === a.n) {
                        c.client.send(ACK_TOPIC, true);
                        if (++finished === a.clients) {
                            clients.forEach(x => x.close());
                        }
                    }
                });
                c.client.connect();
            }
            break;
        }
        case 's3': {
            const total = a.warmup + a.n;
            const list = payloads(total);
            const lat = [];
            const seq = new Seq('client', total);
            let t0;
            const c = newClient(a, 'client', () => {
                result.latencies_ns = lat;
                finish(result);
            });
            c.client.on('connect', () => {
                t0 = now();
                c.client.send(TOPIC, list[0]);
            });
            c.client.on('message.' + TOPIC, msg => {
                const d = now() - t0;
                const i = seq.next;
                seq.check(msg);
                if (msg !== list[i]) fail(`client: reply ${i} is not the request echoed`);
                if (i >= a.warmup) lat.push(Number(d));
                if (seq.next === total) {
                    c.close();
                    return;
                }
                t0 = now();
                c.client.send(TOPIC, list[seq.next]);
            });
            c.client.connect();
            break;
        }
        case 's3r': {
            // A callback-based request, as a Node app would write one: an id, a table of
            // pending callbacks, a "$res" listener that completes them.
            const total = a.warmup + a.n;
            const list = payloads(total);
            const lat = [];
            const pending = new Map();
            let nextId = 0;
            const c = newClient(a, 'client', () => {
                result.latencies_ns = lat;
                finish(result);
            });
            const request = (data, cb) => {
                const id = String(++nextId);
                pending.set(id, cb);
                c.client.send('$req.' + TOPIC, {id, data});
            };
            c.client.on('message.$res', msg => {
                const cb = pending.get(msg.id);
                if (!cb) fail(`client: a reply to unknown request ${msg.id}`);
                pending.delete(msg.id);
                cb(msg.error, msg.data);
            });
            const one = i => {
                const t0 = now();
                request(list[i], (err, data) => {
                    const d = now() - t0;
                    if (err) fail(`client: request ${i} failed: ${JSON.stringify(err)}`);
                    if (data !== list[i]) fail(`client: reply ${i} is not the request echoed`);
                    if (i >= a.warmup) lat.push(Number(d));
                    if (i + 1 === total) {
                        c.close();
                        return;
                    }
                    one(i + 1);
                });
            };
            c.client.on('connect', () => one(0));
            c.client.connect();
            break;
        }
    }
}

process.on('uncaughtException', err => fail(`uncaught exception: ${err && err.stack}`));

const args = parseArgs(process.argv);
if (args.role === 'server') {
    runServer(args);
} else {
    runClient(args);
}
