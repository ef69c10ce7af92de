package nodepeer

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

const wait = DefaultTimeout

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkJSON fails unless raw is the JSON encoding of a value equal to want (compared after
// decoding both, so key order and spacing do not matter).
func checkJSON(t *testing.T, what string, raw json.RawMessage, want any) {
	t.Helper()
	var got, exp any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: bad JSON %q: %v", what, raw, err)
	}
	b, _ := json.Marshal(want)
	_ = json.Unmarshal(b, &exp)
	if !reflect.DeepEqual(got, exp) {
		t.Fatalf("%s: got %s, want %s", what, raw, b)
	}
}

func rawFrames(frames ...string) string {
	return base64.StdEncoding.EncodeToString([]byte(strings.Join(frames, "")))
}

// startPair starts a listening Node server and a connected Node client on a fresh socket and
// returns them with the client's id as the server knows it.
func startPair(t *testing.T, args ...string) (srv, cli *Peer, sock, clientID string) {
	t.Helper()
	sock = TempSocket(t)
	srv = Start(t, "server", sock, args...)
	srv.Do(t, map[string]any{"cmd": "listen"})
	srv.Expect(t, "listening", wait)
	cli = Start(t, "client", sock, append([]string{"--retry", "50", "--reconnect", "50"}, args...)...)
	cli.Do(t, map[string]any{"cmd": "connect"})
	cli.Expect(t, "connect", wait)
	clientID = srv.Expect(t, "connection", wait).ClientID
	return srv, cli, sock, clientID
}

// expectMessage expects "message" then "message.<topic>" (in that order, nothing between them)
// carrying want, and returns the "message" event.
func expectMessage(t *testing.T, p *Peer, topic string, want any) Event {
	t.Helper()
	m := p.ExpectFunc(t, "message on "+topic, wait, func(e Event) bool { return e.Event == "message" && e.Topic == topic })
	mt := p.Expect(t, "message."+topic, wait)
	if mt.Seq != m.Seq+1 {
		t.Fatalf("message.%s is event #%d, message #%d: want it right after", topic, mt.Seq, m.Seq)
	}
	if mt.Topic != topic || mt.ClientID != m.ClientID {
		t.Fatalf("message.%s = %s, message = %s", topic, mt.Line, m.Line)
	}
	checkJSON(t, "message", m.Message, want)
	checkJSON(t, "message."+topic, mt.Message, want)
	return m
}

func TestConversation(t *testing.T) {
	t.Parallel()
	srv, cli, sock, id := startPair(t)
	if !uuidV4.MatchString(id) {
		t.Errorf("client id %q is not a v4 UUID", id)
	}

	// Client to server: message, then message.<topic>, with the client id.
	hello := map[string]any{"name": "node", "n": []any{1, 2.5, nil, true}, "s": "<&>\u2028é"}
	cli.Do(t, map[string]any{"cmd": "send", "topic": "hello", "message": hello})
	if m := expectMessage(t, srv, "hello", hello); m.ClientID != id {
		t.Errorf("message from client id %q, want %q", m.ClientID, id)
	}

	// A message of null, and one that is undefined (Node leaves the key out).
	cli.Do(t, map[string]any{"cmd": "send", "topic": "null", "message": nil})
	m := expectMessage(t, srv, "null", nil)
	if m.MessageMissing {
		t.Errorf("null message reported as missing: %s", m.Line)
	}
	cli.Do(t, map[string]any{"cmd": "send", "topic": "undef"})
	m = srv.Expect(t, "message", wait)
	if m.Topic != "undef" || !m.MessageMissing || m.Message != nil {
		t.Errorf("undefined message: %s", m.Line)
	}
	srv.Expect(t, "message.undef", wait)

	// Server to client.
	srv.Do(t, map[string]any{"cmd": "send", "topic": "reply", "message": "hi", "clientId": id})
	if m := expectMessage(t, cli, "reply", "hi"); m.ClientID != "" || m.Has("clientId") {
		t.Errorf("client-side message has a client id: %s", m.Line)
	}

	// Sending to an unknown client id is a BadClientError, emitted at once.
	srv.Do(t, map[string]any{"cmd": "send", "topic": "x", "message": 1, "clientId": "nobody"})
	if e := srv.Expect(t, "error", wait); e.Name != "BadClientError" {
		t.Errorf("send to unknown client: %s", e.Line)
	}

	// Broadcast reaches every client.
	cli2 := Start(t, "client", sock, "--retry", "50")
	cli2.Do(t, map[string]any{"cmd": "connect"})
	cli2.Expect(t, "connect", wait)
	id2 := srv.Expect(t, "connection", wait).ClientID
	if id2 == id {
		t.Fatalf("two clients got the same id %q", id)
	}
	srv.Do(t, map[string]any{"cmd": "broadcast", "topic": "all", "message": []any{42}})
	expectMessage(t, cli, "all", []any{42})
	expectMessage(t, cli2, "all", []any{42})

	// Client close: closed, then close; sending afterwards is a SendAfterCloseError.
	cli.Do(t, map[string]any{"cmd": "close"})
	c := cli.Expect(t, "closed", wait)
	if c2 := cli.Expect(t, "close", wait); c2.Seq != c.Seq+1 {
		t.Errorf("client close is event #%d, closed #%d", c2.Seq, c.Seq)
	}
	srv.ExpectFunc(t, "socketClose of client 1", wait, func(e Event) bool { return e.Event == "socketClose" && e.ClientID == id })
	cli.Do(t, map[string]any{"cmd": "send", "topic": "late", "message": 1})
	if e := cli.Expect(t, "error", wait); e.Name != "SendAfterCloseError" {
		t.Errorf("send after close: %s", e.Line)
	}

	// Server close ends the other client's connection (a disconnect for it) and emits
	// closed then close once every connection has ended.
	srv.Do(t, map[string]any{"cmd": "close"})
	cli2.Expect(t, "disconnect", wait)
	c = srv.Expect(t, "closed", wait)
	if c2 := srv.Expect(t, "close", wait); c2.Seq != c.Seq+1 {
		t.Errorf("server close is event #%d, closed #%d", c2.Seq, c.Seq)
	}
	srv.Do(t, map[string]any{"cmd": "broadcast", "topic": "late", "message": 1})
	if e := srv.Expect(t, "error", wait); e.Name != "SendAfterCloseError" {
		t.Errorf("broadcast after close: %s", e.Line)
	}
}

func TestBulkAndBig(t *testing.T) {
	t.Parallel()
	srv, cli, _, id := startPair(t)

	// Client to server: 1000 messages in a tight loop, counted in order.
	srv.Do(t, map[string]any{"cmd": "quiet", "topic": "bulk", "prefix": "x", "expect": 1000})
	if d := cli.Do(t, map[string]any{"cmd": "sendMany", "topic": "bulk", "count": 1000, "prefix": "x"}); d.Count != 1000 {
		t.Fatalf("sendMany: %s", d.Line)
	}
	c := srv.Expect(t, "count", wait)
	if c.Count != 1000 || !c.Bool("inOrder") || c.Str("lastMessage") != "x999" {
		t.Fatalf("server count: %s", c.Line)
	}
	// report gives the same numbers on demand.
	srv.Do(t, map[string]any{"cmd": "report", "topic": "bulk"})
	if c := srv.Expect(t, "count", wait); c.Count != 1000 || !c.Bool("inOrder") {
		t.Fatalf("report: %s", c.Line)
	}

	// Server to client, the other way round.
	cli.Do(t, map[string]any{"cmd": "quiet", "topic": "down", "expect": 1000})
	srv.Do(t, map[string]any{"cmd": "sendMany", "topic": "down", "count": 1000, "clientId": id})
	if c := cli.Expect(t, "count", wait); c.Count != 1000 || !c.Bool("inOrder") || c.Str("lastMessage") != "999" {
		t.Fatalf("client count: %s", c.Line)
	}

	// A big message is reported by length and hash.
	const size = 1 << 20
	d := cli.Do(t, map[string]any{"cmd": "sendBig", "topic": "big", "size": size})
	sum := sha256.Sum256([]byte(strings.Repeat("a", size)))
	if d.Str("sha256") != hex.EncodeToString(sum[:]) {
		t.Fatalf("sendBig reported %s", d.Line)
	}
	m := srv.Expect(t, "message", wait)
	if m.Topic != "big" || m.MessageLength != size || m.MessageSHA256 != d.Str("sha256") || m.Message != nil {
		t.Fatalf("big message: %s", m.Line)
	}
}

func TestRawFrames(t *testing.T) {
	t.Parallel()
	srv, cli, _, id := startPair(t)

	// Keys in either order, extra keys, no message key, several frames in one write.
	cli.Do(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(
		`{"message":{"b":1},"topic":"rev","extra":true}`+"\x00\x00",
		`{"topic":"nomsg"}`+"\x00\x00",
	)})
	expectMessage(t, srv, "rev", map[string]any{"b": 1})
	if m := srv.Expect(t, "message", wait); m.Topic != "nomsg" || !m.MessageMissing {
		t.Fatalf("frame without message: %s", m.Line)
	}

	// A frame split over two writes.
	cli.Do(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(`{"topic":"sp`)})
	cli.Do(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(`lit","message":7}` + "\x00\x00")})
	expectMessage(t, srv, "split", 7)

	// The server writes raw bytes to a client too.
	srv.Do(t, map[string]any{"cmd": "sendRaw", "clientId": id, "data": rawFrames(`{"topic":"down","message":"r"}` + "\x00\x00")})
	expectMessage(t, cli, "down", "r")

	// A frame that is not JSON: Node's DecodeError constructor throws (it refers to an
	// undefined clientId), so the exception escapes the package; the peer reports it. The
	// frames after it in the same chunk are lost; the connection still works.
	cli.Do(t, map[string]any{"cmd": "sendRaw", "data": rawFrames("not json\x00\x00", `{"topic":"lost","message":1}`+"\x00\x00")})
	if e := srv.Expect(t, "uncaughtException", wait); e.Name != "ReferenceError" {
		t.Fatalf("bad frame: %s", e.Line)
	}
	cli.Do(t, map[string]any{"cmd": "send", "topic": "after", "message": 2})
	expectMessage(t, srv, "after", 2)
	for _, e := range srv.Events() {
		if e.Topic == "lost" {
			t.Errorf("the frame after the bad one arrived: %s", e.Line)
		}
	}
}

func TestServerCrashReconnect(t *testing.T) {
	t.Parallel()
	srv, cli, sock, _ := startPair(t)

	srv.Kill()
	cli.Expect(t, "disconnect", wait)

	// The socket file of the killed server is stale: a new Node server reclaims it, and the
	// client (retrying every 50 ms) reconnects: connect, immediately followed by reconnect.
	srv2 := Start(t, "server", sock)
	srv2.Do(t, map[string]any{"cmd": "listen"})
	srv2.Expect(t, "listening", wait)
	c := cli.Expect(t, "connect", wait)
	if r := cli.Expect(t, "reconnect", wait); r.Seq != c.Seq+1 {
		t.Fatalf("reconnect is event #%d, connect #%d", r.Seq, c.Seq)
	}
	id := srv2.Expect(t, "connection", wait).ClientID

	srv2.Do(t, map[string]any{"cmd": "send", "topic": "again", "message": "back", "clientId": id})
	expectMessage(t, cli, "again", "back")
	cli.Do(t, map[string]any{"cmd": "send", "topic": "up", "message": 1})
	expectMessage(t, srv2, "up", 1)
}

func TestClientRetriesUntilServerListens(t *testing.T) {
	t.Parallel()
	sock := TempSocket(t)
	cli := Start(t, "client", sock, "--retry", "50")
	cli.Do(t, map[string]any{"cmd": "connect"})
	if e := cli.Expect(t, "connectError", wait); e.Code != "ENOENT" {
		t.Errorf("connectError without a socket file: %s", e.Line)
	}
	srv := Start(t, "server", sock)
	srv.Do(t, map[string]any{"cmd": "listen"})
	cli.Expect(t, "connect", wait)
	srv.Expect(t, "connection", wait)
	cli.Do(t, map[string]any{"cmd": "ping"})
	for _, e := range cli.Events() {
		if e.Event == "reconnect" {
			t.Errorf("first connect also reported reconnect")
		}
	}
}

func TestPeerRobustness(t *testing.T) {
	t.Parallel()
	sock := TempSocket(t)
	srv := Start(t, "server", sock)
	for _, bad := range []map[string]any{
		{"cmd": "nonsense"},
		{"cmd": "connect"},                     // a client command
		{"cmd": "sendMany", "topic": "t"},      // no count
		{"cmd": "sendRaw", "clientId": "nope"}, // no data
		{"cmd": "report", "topic": "unknown"},
	} {
		srv.Send(bad)
		if e := srv.Expect(t, "cmdError", wait); e.Error == "" {
			t.Errorf("%v: %s", bad, e.Line)
		}
	}
	srv.Do(t, map[string]any{"cmd": "listen"})
	srv.Expect(t, "listening", wait)
	// Node throws (rather than emitting, as its docs say) on a second listen.
	srv.Send(map[string]any{"cmd": "listen"})
	if e := srv.Expect(t, "cmdError", wait); !strings.Contains(e.Error, "listen twice") {
		t.Errorf("second listen: %s", e.Line)
	}
	// A message JSON cannot encode is an EncodeError.
	srv.Do(t, map[string]any{"cmd": "broadcast", "topic": "t", "special": "circular"})
	if e := srv.Expect(t, "error", wait); e.Name != "EncodeError" {
		t.Errorf("circular broadcast: %s", e.Line)
	}

	srv.Send(map[string]any{"cmd": "exit", "code": 0})
	srv.Expect(t, "exiting", wait)
	select {
	case <-srv.Done():
	case <-time.After(wait):
		t.Fatal("peer did not exit")
	}
	if err := srv.ExitErr(); err != nil {
		t.Errorf("exit: %v", err)
	}
}

// TestLegacy runs @crussell52/socket-ipc 0.2.0: "%EOM%" framing, numeric client ids, and the
// old close events (server: close only; client: closed only).
func TestLegacy(t *testing.T) {
	t.Parallel()
	srv, cli, sock, id := startPair(t, "--legacy")
	if v := srv.Events()[0].Str("version"); v != "0.2.0" {
		t.Fatalf("legacy peer runs version %q", v)
	}
	if id != "1" {
		t.Errorf("first legacy client id = %q, want \"1\"", id)
	}
	cli.Do(t, map[string]any{"cmd": "send", "topic": "hello", "message": map[string]any{"a": "b"}})
	expectMessage(t, srv, "hello", map[string]any{"a": "b"})
	srv.Do(t, map[string]any{"cmd": "send", "topic": "reply", "message": 5, "clientId": id})
	expectMessage(t, cli, "reply", 5)

	// The frame delimiter is %EOM%.
	cli.Do(t, map[string]any{"cmd": "sendRaw", "data": rawFrames(`{"topic":"raw","message":"eom"}%EOM%`)})
	expectMessage(t, srv, "raw", "eom")

	// A 0.4.0 client's frames mean nothing to a 0.2.0 server: "\0\0" is not a delimiter, and
	// the "%EOM%" after it ends a frame that is not JSON (the same throwing DecodeError).
	cli4 := Start(t, "client", sock)
	cli4.Do(t, map[string]any{"cmd": "connect"})
	cli4.Expect(t, "connect", wait)
	if id4 := srv.Expect(t, "connection", wait).ClientID; id4 != "2" {
		t.Errorf("second legacy client id = %q, want \"2\"", id4)
	}
	cli4.Do(t, map[string]any{"cmd": "send", "topic": "new", "message": 1})
	cli4.Do(t, map[string]any{"cmd": "sendRaw", "data": rawFrames("%EOM%")})
	if e := srv.Expect(t, "uncaughtException", wait); e.Name != "ReferenceError" {
		t.Errorf("0.4.0 frame at a 0.2.0 server: %s", e.Line)
	}

	// 0.2.0's client emits only "closed" on close.
	cli.Do(t, map[string]any{"cmd": "close"})
	cli.Expect(t, "closed", wait)
	cli.Do(t, map[string]any{"cmd": "ping"}) // close/closed are emitted together; this is after
	for _, e := range cli.Events() {
		if e.Event == "close" {
			t.Errorf("0.2.0 client emitted close")
		}
	}
	cli4.Do(t, map[string]any{"cmd": "close"})
	cli4.Expect(t, "close", wait)

	// 0.2.0's server emits only "close".
	srv.Do(t, map[string]any{"cmd": "close"})
	srv.Expect(t, "close", wait)
	srv.Do(t, map[string]any{"cmd": "ping"})
	for _, e := range srv.Events() {
		if e.Event == "closed" {
			t.Errorf("0.2.0 server emitted closed")
		}
	}
}

func TestDropReconnect(t *testing.T) {
	t.Parallel()
	srv, cli, _, id := startPair(t)
	srv.Do(t, map[string]any{"cmd": "drop", "clientId": id})
	srv.ExpectFunc(t, "socketClose", wait, func(e Event) bool { return e.Event == "socketClose" && e.ClientID == id })
	cli.Expect(t, "disconnect", wait)
	cli.Expect(t, "reconnect", wait)
	id2 := srv.Expect(t, "connection", wait).ClientID
	if id2 == id {
		t.Fatalf("reconnected client kept id %q", id)
	}
	// The old id is gone.
	srv.Do(t, map[string]any{"cmd": "send", "topic": "x", "message": 1, "clientId": id})
	if e := srv.Expect(t, "error", wait); e.Name != "BadClientError" || e.Str("errClientId") != id {
		t.Errorf("send to a dropped client: %s", e.Line)
	}
}
