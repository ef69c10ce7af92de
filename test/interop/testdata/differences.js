// differences.js: shows, with the real @crussell52/socket-ipc 0.4.0, the behaviours that
// docs/PORTING.md lists as different in Go. Run by TestNodeBehaviourThatGoChanges with the
// socket path as its argument; prints one JSON object with what happened.
'use strict';

const {Server, Client} = require('@crussell52/socket-ipc');
const socketFile = process.argv[process.argv.length - 1];
const result = {};
const finish = () => {
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exit(0);
};
setTimeout(() => { result.timedOut = true; finish(); }, 5000);

// 1. close() before listen() throws.
try {
    new Server({socketFile}).close();
    result.closeBeforeListen = 'returned';
} catch (err) {
    result.closeBeforeListen = err.name;
}

// 2. An 'error' event nobody listens to throws out of the call that emitted it.
try {
    new Server({socketFile}).send('t', 1, 'nobody');
    result.unheardError = 'returned';
} catch (err) {
    result.unheardError = err.constructor.name + ": " + err.message;
}

// 3. A message listener that throws destroys the connection the message came on, with the
// thrown error; the library gives the server's socket no 'error' listener, so the socket's
// error event throws too, uncaught: without this handler the Node process would exit.
process.on('uncaughtException', err => { result.uncaught = err.message; });
const server = new Server({socketFile});
server.on('error', err => { result.serverError = err.message; });
server.on('message.boom', () => { throw new Error('boom'); });
server.on('listening', () => {
    const client = new Client({socketFile, retryDelay: 50, reconnectDelay: 5000});
    client.on('error', () => {});
    client.on('connect', () => client.send('boom', null));
    client.on('disconnect', () => {
        result.afterThrow = 'disconnect';
        client.close();
        server.close();
        finish();
    });
    client.connect();
});
server.listen();
