package conn

import (
	"encoding/json"
	"errors"
	"math/bits"
	"reflect"
	"sync"
	"unsafe"

	"github.com/socketipc/socketipc/message"
)

// Msg is one incoming frame. A server or client passes *Msg to listeners as
// the message argument: it implements emitter.Payload, so each listener's
// parameter type decides how (and whether) the payload is decoded.
type Msg struct {
	Topic   *Topic // nil when Err is set
	Payload []byte // the encoded payload; nil when the frame had none
	Frame   []byte // the whole frame, delimiter removed
	Err     error  // a *message.DecodeError when the frame is malformed

	from     *origin
	value    any
	valueErr error
	decoded  bool
	// unchecked: the reader cut Payload by position (quickSplit) and
	// Check has not confirmed the frame yet.
	unchecked bool
	pre       *preSlot // set when the reader may decode the payload ahead
}

var (
	nullJSON  = []byte("null")
	noneTopic = []byte(message.NoneTopic)
)

// PayloadBytes returns the encoded payload ("null" when the frame had none).
func (m *Msg) PayloadBytes() []byte {
	if m.Payload == nil {
		return nullJSON
	}
	return m.Payload
}

// PayloadValue decodes the payload into a plain value once, and returns that
// same value to every listener that asks.
func (m *Msg) PayloadValue() (any, error) {
	if !m.decoded {
		m.decoded = true
		if v, err, ok := m.take(anyType); ok {
			m.value = v
			if err != nil {
				m.valueErr = m.decodeError(err)
			}
		} else if err := m.from.transcoder.Unmarshal(m.Payload, &m.value); err != nil {
			m.valueErr = m.decodeError(err)
		}
	}
	return m.value, m.valueErr
}

// Delivered drops the value PayloadValue decoded, once every event of the
// message has run: a batch then holds at most one decoded payload at a
// time (decoding can take up to ~60 times the payload's size; see
// docs/SECURITY.md), whatever its length.
func (m *Msg) Delivered() {
	m.value, m.valueErr, m.decoded = nil, nil, false
	if s := m.pre; s != nil {
		if s == &m.from.checked && s.typ != nil {
			// Check's scratch value: listeners took copies of it.
			m.from.scratch.Elem().SetZero()
			s.typ = nil
		}
		s.val, s.err = nil, nil
	}
}

// DecodePayload decodes the payload into ptr for a listener of event. A
// value the reader decoded ahead for ptr's type is used once, when *ptr is
// zero (decoding would have filled it alike); otherwise, and after a
// decode error (which may leave ptr partly filled), the payload is decoded
// here. A payload that does not fit ptr's type is a
// *message.PayloadTypeError naming event; one that is not even valid
// (possible only with a Transcoder whose SplitEnvelope does not check) is
// a *message.DecodeError.
func (m *Msg) DecodePayload(event string, ptr any) error {
	if m.pre != nil {
		if rv := reflect.ValueOf(ptr); rv.Kind() == reflect.Pointer && !rv.IsNil() && rv.Elem().IsZero() {
			if v, err, ok := m.take(rv.Type().Elem()); ok && err == nil {
				rv.Elem().Set(reflect.ValueOf(v).Elem())
				return nil
			}
		}
	}
	if err := m.from.transcoder.Unmarshal(m.Payload, ptr); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return m.decodeError(err)
		}
		return message.NewPayloadTypeError(event, m.Topic.Name,
			reflect.TypeOf(ptr).Elem(), m.from.clientID, err)
	}
	return nil
}

// Retained returns a copy of m that a listener may keep: the emitter passes
// it, instead of m, to a listener whose parameter takes the Payload itself,
// because m goes back to a pool once its events have run (see handOver).
// The copy shares m's payload bytes and, if m was decoded already, its
// value; it decodes on its own otherwise.
func (m *Msg) Retained() any {
	kept := *m
	kept.pre = nil // the slot is the batch's: taking from it is the loop's
	return &kept
}

// msgPools recycle the Msg slices of delivered batches, by capacity: pool
// k holds slices of capacity 1<<k, enough for the 4,096 frames at most
// that one FrameReader.Next returns.
var msgPools [13]sync.Pool

// getMsgs returns a slice of n zero Msgs, in a box for putMsgs.
func getMsgs(n int) *[]Msg {
	k := bits.Len(uint(max(n, 1) - 1))
	if k < len(msgPools) {
		if p, _ := msgPools[k].Get().(*[]Msg); p != nil {
			*p = (*p)[:n]
			return p
		}
	}
	s := make([]Msg, n, 1<<k)
	return &s
}

// putMsgs zeroes the Msgs of a delivered batch, so that the pool keeps no
// frame, topic or value alive, and pools the slice.
func putMsgs(p *[]Msg) {
	clear(*p)
	k := bits.Len(uint(cap(*p) - 1))
	if cap(*p) != 1<<k || k >= len(msgPools) {
		return
	}
	*p = (*p)[:0]
	msgPools[k].Put(p)
}

// decodeError quotes at most message.MaxRawInError bytes of the frame, in
// a copy, so an error the application keeps (or that waits in the event
// queue) keeps neither the read's buffer nor a large frame alive.
func (m *Msg) decodeError(err error) error {
	return message.NewDecodeError(m.Frame, m.from.clientID, err)
}

// msgSize is what one Msg costs in a batch, for the read-ahead bound.
const msgSize = int(unsafe.Sizeof(Msg{}))

// Topic is an interned topic with what its events need, made once per topic
// per connection so delivering a message allocates nothing for it.
type Topic struct {
	Name  string
	Boxed any    // Name as an interface value, ready to pass as an argument
	Event string // "message." + Name

	// DecodeHint is for Config.DecodeType alone (so for the reader
	// alone): it may keep its answer for the topic here.
	DecodeHint DecodeHint
	// CheckHint is the same for the one delivering messages (Msg.Check's
	// decodeType), which may run while the reader runs.
	CheckHint DecodeHint
}

// DecodeHint is a Config.DecodeType answer kept with its topic: Type, as
// it was when the owner's listeners were at generation Gen-1 (0: none kept).
type DecodeHint struct {
	Gen  uint64
	Type reflect.Type
}

// The topic cache is bounded by bytes, not only by count: a peer sending
// distinct long topics must not make a connection pin them. Topics longer
// than maxInternedTopicLen are never interned, and the cache stops taking
// topics once it holds TopicCacheBytes (each topic counted as its name
// twice, for Name and Event, plus topicOverhead). Topics not interned are
// made per message and live as long as their message; handOver counts
// them in the read-ahead.
const (
	maxInternedTopicLen = 256
	TopicCacheBytes     = 32 << 10
	topicOverhead       = 160 // the Topic, its boxed name and its map entry
	maxInternedTopics   = TopicCacheBytes / topicOverhead
)

// topicCost is what a topic of n bytes costs held once: Name, Event
// ("message." + Name) and the structures around them.
func topicCost(n int) int { return 2*n + len("message.") + topicOverhead }

// topicBytes is the topic a frame's topic b stands for. A Node peer sends
// "" as is (its docs promise "none", as we send): so that a topic means
// the same both ways, and an empty-topic message has an event one can
// listen to, "" stands for "none".
func topicBytes(b []byte) []byte {
	if len(b) == 0 {
		return noneTopic
	}
	return b
}

// topicName is topicBytes as a string.
func topicName(b []byte) string { return string(topicBytes(b)) }

func newTopic(name string) *Topic {
	return &Topic{Name: name, Boxed: name, Event: "message." + name}
}

type topicCache struct {
	byName map[string]*Topic
	bytes  int    // topicCost of every topic in byName
	last   *Topic // streams tend to repeat one topic: checked before the map
}

// intern returns the Topic for b ("none" for an empty b) and whether it is a fresh one that the
// cache does not keep (so the message holding it must account for it).
func (tc *topicCache) intern(b []byte) (t *Topic, uncached bool) {
	b = topicBytes(b)
	if tc.last != nil && tc.last.Name == string(b) {
		return tc.last, false
	}
	t, ok := tc.byName[string(b)]
	if ok {
		tc.last = t
		return t, false
	}
	name := string(b)
	t = newTopic(name)
	cost := topicCost(len(name))
	if len(name) > maxInternedTopicLen || tc.bytes+cost > TopicCacheBytes || len(tc.byName) >= maxInternedTopics {
		return t, true
	}
	if tc.byName == nil {
		tc.byName = make(map[string]*Topic)
	}
	tc.byName[name] = t
	tc.bytes += cost
	tc.last = t
	return t, false
}
