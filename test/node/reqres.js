// Request/reply with socketipc's Go side, for an unmodified @crussell52/socket-ipc 0.4.0
// Server or Client (`node`). docs/ADVANCED.md shows this file; test/interop runs it.
'use strict';

// Answer requests: handlers[topic](data, clientId) returns the result, or a Promise of it.
function answerRequests(node, handlers) {
    node.on('message', (msg, topic, clientId) => {
        if (!topic.startsWith('$req.')) return;
        const name = topic.slice('$req.'.length);
        const reply = (body) => node.send('$res', Object.assign({id: msg.id}, body), clientId);
        if (!handlers[name]) return reply({error: {message: `no handler for request topic "${name}"`}});
        Promise.resolve().then(() => handlers[name](msg.data, clientId)).then(
            (data) => reply({data}),
            (err) => reply({error: {message: String((err && err.message) || err)}}));
    });
}

// Make requests: returns request(topic, data[, clientId[, timeoutMs]]), a Promise of the result.
function requester(node) {
    const pending = new Map();
    let next = 0;
    node.on('message.$res', (msg) => {
        const p = pending.get(msg.id);
        if (!p) return; // a late reply: its request timed out
        pending.delete(msg.id);
        clearTimeout(p.timer);
        if (msg.error) p.reject(new Error(msg.error.message));
        else p.resolve(msg.data);
    });
    return (topic, data, clientId, timeoutMs = 5000) => new Promise((resolve, reject) => {
        const id = `node-${++next}`;
        const timer = setTimeout(() => pending.delete(id) && reject(new Error('timeout')), timeoutMs);
        pending.set(id, {resolve, reject, timer});
        node.send(`$req.${topic}`, {id, data}, clientId);
    });
}

module.exports = {answerRequests, requester};
