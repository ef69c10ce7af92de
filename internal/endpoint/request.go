package endpoint

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/socketipc/socketipc/emitter"
	"github.com/socketipc/socketipc/internal/conn"
	"github.com/socketipc/socketipc/internal/errfold"
	"github.com/socketipc/socketipc/internal/errtext"
	"github.com/socketipc/socketipc/message"
)

// The wire convention of request/reply (docs/ADVANCED.md): plain frames, so
// that a Node peer can take part with a few lines of its own.
//
//	request  {"topic":"$req.<topic>","message":{"id":"<id>","data":<payload>}}
//	reply    {"topic":"$res","message":{"id":"<id>","data":<result>}}
//	failure  {"topic":"$res","message":{"id":"<id>","error":{"message":"<text>"}}}
const (
	RequestPrefix = "$req."
	ReplyTopic    = "$res"
)

type requestEnvelope struct {
	ID   string `json:"id"`
	Data any    `json:"data"`
}

type replyEnvelope struct {
	ID   json.RawMessage `json:"id"`
	Data any             `json:"data"`
}

type failureEnvelope struct {
	ID    json.RawMessage `json:"id"`
	Error wireError       `json:"error"`
}

type wireError struct {
	Message string `json:"message"`
}

// incoming is a request or a reply as read: the id is kept raw (a peer may
// use any JSON value; it is echoed back as it came), data undecoded.
type incoming struct {
	ID    json.RawMessage `json:"id"`
	Data  json.RawMessage `json:"data"`
	Error json.RawMessage `json:"error"`
}

// requests are the requests of one endpoint waiting for their replies.
// An entry lives from just before its frame is queued until its caller
// returns, whichever way it returns (each path removes it).
type requests struct {
	mu      sync.Mutex
	pending map[uint64]*pending
	next    atomic.Uint64
}

type pending struct {
	c  *conn.Conn
	ch chan result // buffered: whoever completes it never blocks
}

type result struct {
	data   json.RawMessage
	remote *string // the failure reply's text, if it was one
}

func (r *requests) add(id uint64, p *pending) {
	r.mu.Lock()
	if r.pending == nil {
		r.pending = make(map[uint64]*pending)
	}
	r.pending[id] = p
	r.mu.Unlock()
}

// take removes and returns the entry id if it was sent on c.
func (r *requests) take(id uint64, c *conn.Conn) *pending {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending[id]
	if p == nil || p.c != c {
		return nil
	}
	delete(r.pending, id)
	return p
}

// drop removes id and reports whether it was still there (not completed).
func (r *requests) drop(id uint64) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.pending[id]
	delete(r.pending, id)
	return ok
}

// PendingRequests is how many requests wait for their replies.
func (e *Endpoint) PendingRequests() int {
	e.reqs.mu.Lock()
	defer e.reqs.mu.Unlock()
	return len(e.reqs.pending)
}

// Request sends a request for topic on the connection target returns (as
// Send does: under e's lock, nil for none) and waits for the reply, ctx,
// the end of that connection, or the endpoint's close. The reply's data
// is decoded into reply (a non-nil pointer, or nil to ignore it) on the
// caller's goroutine. op names the call in errors.
func (e *Endpoint) Request(ctx context.Context, op string, target func() *conn.Conn, topic string, msg, reply any,
	noTarget error, onFull func(*conn.Conn, error) error, sendErr func(error) error) error {
	if reply != nil {
		if rv := reflect.ValueOf(reply); rv.Kind() != reflect.Pointer || rv.IsNil() {
			return e.failRequest(errtext.Wrap(op, fmt.Errorf("reply must be a non-nil pointer or nil, not %T", reply)))
		}
	}
	if e.loop.OnLoop() {
		return e.failRequest(errtext.Wrap(op, message.ErrRequestOnLoop))
	}
	if err := ctx.Err(); err != nil {
		return e.failRequest(errtext.Wrap(op, err))
	}
	id := e.reqs.next.Add(1)
	p := &pending{ch: make(chan result, 1)}
	pick := func() *conn.Conn {
		c := target()
		if c != nil {
			p.c = c
			e.reqs.add(id, p) // before the frame can be written, so no reply finds nothing
		}
		return c
	}
	var env any = requestEnvelope{ID: strconv.FormatUint(id, 10), Data: msg}
	var buf *[]byte
	if e.base.Transcoder == message.JSON {
		buf = getBuf()
		if b, err := appendRequest((*buf)[:0], id, msg); err == nil {
			*buf = b
			env = json.RawMessage(b)
		} // else the struct's encoding reports the error, as Send would
	}
	err := e.Send(pick, RequestPrefix+topic, env, noTarget, onFull, sendErr)
	if buf != nil {
		putBuf(buf)
	}
	if err != nil {
		e.reqs.drop(id)
		return err
	}
	var r result
	select {
	case r = <-p.ch:
	case <-ctx.Done():
		if e.reqs.drop(id) {
			return e.failRequest(errtext.Wrap(op, ctx.Err()))
		}
		r = <-p.ch // completed meanwhile: its result is on its way
	case <-p.c.Closing():
		if e.reqs.drop(id) {
			return e.failRequest(errtext.Wrap(op, message.ErrRequestInterrupted))
		}
		r = <-p.ch
	case <-p.c.Stopped():
		if e.reqs.drop(id) {
			return e.failRequest(errtext.Wrap(op, message.ErrRequestInterrupted))
		}
		r = <-p.ch
	case <-e.closing:
		if e.reqs.drop(id) {
			return e.failRequest(errtext.Wrap(op, message.ErrRequestInterrupted))
		}
		r = <-p.ch
	}
	return e.finishRequest(topic, op, r, reply)
}

// finishRequest turns a reply into Request's result.
func (e *Endpoint) finishRequest(topic, op string, r result, reply any) error {
	if r.remote != nil {
		return e.failRequest(&message.RemoteError{Topic: topic, Message: *r.remote})
	}
	if reply == nil || len(r.data) == 0 {
		return nil
	}
	if err := e.base.Transcoder.Unmarshal(r.data, reply); err != nil {
		return e.failRequest(errtext.Wrap(op+": reply", err))
	}
	return nil
}

// failRequest returns and emits a failed request's error, as Fail does,
// folding the events of failures of one kind that pile up on the loop (a
// loop of requests with an ended ctx, thousands timing out at once).
func (e *Endpoint) failRequest(err error) error {
	kind := errRemoteKind
	for _, k := range []error{context.Canceled, context.DeadlineExceeded, message.ErrRequestInterrupted, message.ErrRequestOnLoop} {
		if errors.Is(err, k) {
			kind = k
			break
		}
	}
	var re *message.RemoteError
	if kind == errRemoteKind && !errors.As(err, &re) {
		return e.Fail(err)
	}
	e.errors.Post(errfold.Key{Kind: kind}, err, e.loop.Post, e.emitReturned)
	return err
}

var errRemoteKind = errors.New("remote error")

// route takes the frames of the request/reply convention out of delivery
// (on the loop): a reply completes its request, a request goes to its
// handler (or is answered "no handler"). It reports whether m was one.
func (e *Endpoint) route(c *conn.Conn, m *conn.Msg, id any) bool {
	name := m.Topic.Name
	switch {
	case name == ReplyTopic:
		e.completeReply(c, m)
		return true
	case len(name) > len(RequestPrefix) && name[:len(RequestPrefix)] == RequestPrefix:
		e.serveRequest(c, m, id)
		return true
	}
	return false
}

// readEnvelope reads a request's or reply's message.
func (e *Endpoint) readEnvelope(payload []byte) (incoming, error) {
	var in incoming
	if e.base.Transcoder == message.JSON {
		var ok bool
		if in.ID, in.Data, in.Error, ok = splitFields(payload); !ok {
			return in, errors.New("not a JSON object")
		}
		return in, nil
	}
	err := e.base.Transcoder.Unmarshal(payload, &in)
	return in, err
}

func (e *Endpoint) completeReply(c *conn.Conn, m *conn.Msg) {
	in, err := e.readEnvelope(m.PayloadBytes())
	if err != nil {
		e.emitError(message.NewPayloadTypeError(m.Topic.Event, m.Topic.Name, reflect.TypeFor[incoming](), c.ID(), err))
		return
	}
	id, ok := ourID(in.ID)
	if !ok {
		return // not one of our ids
	}
	p := e.reqs.take(id, c)
	if p == nil {
		return // its caller gave up already, or it was never ours: dropped
	}
	r := result{data: in.Data}
	if len(in.Error) > 0 && string(in.Error) != "null" {
		text := remoteText(in.Error)
		r.remote = &text
	}
	p.ch <- r
}

// remoteText is a failure's text: its message, or a plain string as a Node
// peer might send, or else the raw JSON.
func remoteText(raw json.RawMessage) string {
	var obj wireError
	if json.Unmarshal(raw, &obj) == nil && obj.Message != "" {
		return obj.Message
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

func (e *Endpoint) serveRequest(c *conn.Conn, m *conn.Msg, id any) {
	event := m.Topic.Event
	if !e.hasHandler(event) {
		if in, err := e.readEnvelope(m.PayloadBytes()); err == nil && len(in.ID) > 0 {
			topic := m.Topic.Name[len(RequestPrefix):]
			r := &responder{e: e, c: c, id: in.ID, topic: topic}
			if err := r.send(nil, fmt.Errorf("no handler for request topic %q", topic)); err != nil {
				e.emitError(err)
			}
		}
		if e.em.ListenerCount(event) == 0 {
			return
		}
		// Plain listeners of the event still see the request.
	}
	e.current, e.currentConn = m, c
	if e.withID {
		e.em.Emit(event, m, id)
	} else {
		e.em.Emit(event, m)
	}
	e.current, e.currentConn = nil, nil
}

// requestHandler and requestHandlerNoID are the types of Handle's
// listeners, so that a plain listener of "message.$req.<topic>", which
// cannot answer, is not taken for a handler: the caller would wait for
// its deadline instead of hearing at once that nobody answers.
type (
	requestHandler     func(raw json.RawMessage, clientID string)
	requestHandlerNoID func(raw json.RawMessage)
)

// hasHandler reports whether a Handle's listener is registered for event.
func (e *Endpoint) hasHandler(event string) bool {
	if e.em.ListenerCount(event) == 0 {
		return false
	}
	for _, l := range e.em.Listeners(event) {
		switch l.(type) {
		case requestHandler, requestHandlerNoID:
			return true
		}
	}
	return false
}

// Handle registers fn as the handler of requests for topic. It is the
// listener of the event "message.$req.<topic>", so its Handle removes it.
func Handle[Req, Resp any](e *Endpoint, topic string, fn func(ctx context.Context, req Req, clientID string) (Resp, error)) emitter.Handle {
	if e == nil {
		return emitter.Handle{}
	}
	if fn == nil {
		panic("socketipc: Handle with a nil func")
	}
	call := func(raw json.RawMessage, clientID string) {
		m, c := e.current, e.currentConn
		if m == nil || c == nil || !sameBytes(m.PayloadBytes(), raw) {
			return // an application's Emit of the event: no request to answer
		}
		in, err := e.readEnvelope(raw)
		if err != nil || len(in.ID) == 0 {
			if err == nil {
				err = errors.New("no id")
			}
			e.emitError(message.NewPayloadTypeError(m.Topic.Event, m.Topic.Name, reflect.TypeFor[incoming](), clientID, err))
			return
		}
		r := &responder{e: e, c: c, id: in.ID, topic: topic}
		var req Req
		if len(in.Data) > 0 {
			if err := e.base.Transcoder.Unmarshal(in.Data, &req); err != nil {
				r.answer(nil, fmt.Errorf("request %q: payload does not fit %v: %s", topic, reflect.TypeFor[Req](), errtext.Cause(err)))
				return
			}
		}
		returned := false
		defer func() {
			if !returned { // a panic: answer, then let the emitter report it
				r.answer(nil, fmt.Errorf("handler of %q panicked", topic))
			}
		}()
		resp, err := fn(r, req, clientID)
		returned = true
		if r.state.Load() == stateDetached {
			return
		}
		r.answer(resp, err)
	}
	event := "message." + RequestPrefix + topic
	if e.withID {
		return e.em.On(event, requestHandler(call))
	}
	return e.em.On(event, requestHandlerNoID(func(raw json.RawMessage) { call(raw, "") }))
}

const (
	statePending = iota
	stateDetached
	stateAnswered
)

// responder is a handler's context (the context of its connection, ended
// when that connection ends) and what it takes to answer its request.
type responder struct {
	e     *Endpoint
	c     *conn.Conn
	id    json.RawMessage
	topic string
	state atomic.Int32
}

type responderKey struct{}

// The context of a handler: no deadline (the wire carries none), done when
// the request's connection has ended (nobody can receive the reply then).
func (r *responder) Deadline() (time.Time, bool) { return time.Time{}, false }
func (r *responder) Done() <-chan struct{}       { return r.c.Done() }
func (r *responder) Err() error {
	select {
	case <-r.c.Done():
		return context.Canceled
	default:
		return nil
	}
}
func (r *responder) Value(key any) any {
	if key == (responderKey{}) {
		return r
	}
	return nil
}

// answer replies once, on the loop: a failure to send is an error event.
func (r *responder) answer(resp any, err error) {
	if !r.state.CompareAndSwap(statePending, stateAnswered) {
		return
	}
	if err := r.send(resp, err); err != nil {
		r.e.emitError(err)
	}
}

func (r *responder) send(resp any, failure error) error {
	if r.e.base.Transcoder == message.JSON {
		buf := getBuf()
		defer putBuf(buf)
		var b []byte
		var err error
		if failure != nil {
			b = appendFailure((*buf)[:0], r.id, errtext.Cause(failure))
		} else if b, err = appendReply((*buf)[:0], r.id, resp); err != nil {
			// The peer is waiting: tell it why no result comes.
			b = appendFailure((*buf)[:0], r.id, "reply could not be encoded: "+errtext.Cause(err))
		}
		*buf = b
		if qerr := r.e.EncodeFrame(ReplyTopic, json.RawMessage(b), r.c.Enqueue); qerr != nil || err != nil {
			return &message.SendError{Topic: ReplyTopic, Message: resp, ClientID: r.c.ID(), Err: errors.Join(err, qerr)}
		}
		return nil
	}
	var env any = replyEnvelope{ID: r.id, Data: resp}
	if failure != nil {
		env = failureEnvelope{ID: r.id, Error: wireError{Message: errtext.Cause(failure)}}
	}
	err := r.e.EncodeFrame(ReplyTopic, env, r.c.Enqueue)
	var ee *message.EncodeError
	if errors.As(err, &ee) && failure == nil {
		// The peer is waiting: tell it why no result comes.
		_ = r.e.EncodeFrame(ReplyTopic, failureEnvelope{ID: r.id, Error: wireError{Message: "reply could not be encoded: " + errtext.Cause(ee.Err)}}, r.c.Enqueue)
	}
	if err != nil {
		return &message.SendError{Topic: ReplyTopic, Message: resp, ClientID: r.c.ID(), Err: err}
	}
	return nil
}

// ReplyLater detaches the request whose handler got ctx: the handler's
// return values are then ignored, and the returned func sends the reply
// (or, with a non-nil error, the failure) once, from any goroutine.
func ReplyLater(ctx context.Context) func(resp any, err error) error {
	r, ok := ctx.Value(responderKey{}).(*responder)
	if !ok {
		panic("socketipc: ReplyLater needs the context given to a request handler")
	}
	r.state.CompareAndSwap(statePending, stateDetached)
	return func(resp any, err error) error {
		if !r.state.CompareAndSwap(stateDetached, stateAnswered) {
			return errtext.Wrap("reply to "+strconv.Quote(r.topic), errors.New("already answered"))
		}
		if err := r.send(resp, err); err != nil {
			return r.e.Fail(err)
		}
		return nil
	}
}
