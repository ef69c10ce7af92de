package conn

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"

	"github.com/socketipc/socketipc/message"
)

// Checking a payload once. The JSON transcoder's SplitEnvelope checks the
// whole frame, payload included, and a listener that decodes the payload
// then reads it again; on an object payload that check was a sixth of the
// receiving side's work. Decoding refuses what is not JSON on its own (the
// fast decoder succeeds only on valid text, and encoding/json checks the
// whole text before decoding), so when a listener will decode the payload
// of a frame in the layout the library and the Node package write, the
// reader cuts the payload out by its position alone (cutQuickly), and the
// message is checked on delivery, before any of its listeners runs
// (Msg.Check): by decoding the payload for its first decoding listener,
// which then takes that value, or, when that decode finds a syntax error
// or nothing decodes the payload any more, by SplitEnvelope. What is
// delivered, and which frames are reported malformed, are exactly what
// the split in the reader gives (FuzzQuickSplitMatchesSplitEnvelope,
// server TestPayloadCheckedOnDelivery).

var (
	quickHead = []byte(`{"topic":"`)
	quickMid  = []byte(`","message":`)
)

// quickSplit cuts frame when it has the layout AppendEnvelope writes, and
// Node's JSON.stringify({topic, message}) too: {"topic":"<name>","message":<payload>},
// where name is printable ASCII without escapes and does not start with
// '$' (requests and replies are routed on their payload, so they take
// the checked path), and payload neither starts nor ends with white
// space. The payload is not looked at: it may hold anything, even a
// second "topic" member, so the message must be checked before delivery.
// ok is false for any other frame.
func quickSplit(frame []byte) (topic, payload []byte, ok bool) {
	if !bytes.HasPrefix(frame, quickHead) || frame[len(frame)-1] != '}' {
		return nil, nil, false
	}
	i := len(quickHead)
	for ; i < len(frame); i++ {
		b := frame[i]
		if b == '"' {
			break
		}
		if b < 0x20 || b >= 0x7f || b == '\\' {
			return nil, nil, false
		}
	}
	topic = frame[len(quickHead):i:i]
	if len(topic) > 0 && topic[0] == '$' || !bytes.HasPrefix(frame[i:], quickMid) {
		return nil, nil, false
	}
	payload = frame[i+len(quickMid) : len(frame)-1 : len(frame)-1]
	if len(payload) == 0 || isSpace(payload[0]) || isSpace(payload[len(payload)-1]) {
		return nil, nil, false
	}
	return topic, payload, true
}

// quickCutPays reports whether a read's frames are worth trying with
// cutQuickly: streams tend to repeat one topic, so, once per read, it asks
// whether the last topic read is decoded. Looking at every frame's topic
// costs a message that no listener decodes about 30 ns
// (BenchmarkServerDispatch/raw), for nothing.
func (c *Conn) quickCutPays() bool {
	if c.cfg.Transcoder != message.JSON || c.cfg.DecodeType == nil {
		return false
	}
	last := c.topics.last
	return last == nil || c.decodes(last)
}

// cutQuickly cuts m.Frame with quickSplit when a listener will decode its
// payload, and so check it (Msg.Check), and returns what a topic made for
// m alone costs. Otherwise (ok false) SplitEnvelope checks the frame here:
// in the reader, which runs in parallel with the loop and with other
// connections' readers, rather than on the loop.
func (c *Conn) cutQuickly(m *Msg) (extra int, ok bool) {
	if c.cfg.Transcoder != message.JSON || c.cfg.DecodeType == nil {
		return 0, false
	}
	topic, payload, ok := quickSplit(m.Frame)
	if !ok {
		return 0, false
	}
	t, uncached := c.topics.intern(topic)
	if !c.decodes(t) {
		return 0, false
	}
	m.Topic, m.Payload, m.unchecked = t, payload, true
	if uncached {
		extra = topicCost(len(topic))
	}
	return extra, true
}

// decodes reports whether the first listener of messages on t decodes
// their payload.
func (c *Conn) decodes(t *Topic) bool {
	dt := c.cfg.DecodeType(t)
	return dt != nil && (dt == anyType || !msgType.AssignableTo(dt))
}

func isSpace(b byte) bool { return b == ' ' || b == '\t' || b == '\n' || b == '\r' }

// Check makes sure that m, when the reader cut it with quickSplit, is a
// valid frame, before any listener of it runs, and reports whether m is a
// message to deliver (if not, m.Err is set and the frame is counted as
// malformed). decodeType (nil: none) gives the type the first listener
// of m's topic decodes its payload into: the payload is decoded into it
// and the value kept for that listener, which takes it as it would a
// value decoded ahead. When nothing decodes the payload, or the decoding
// says it is not JSON, SplitEnvelope decides, as it would have in the
// reader.
func (m *Msg) Check(decodeType func(*Topic) reflect.Type) bool {
	if !m.unchecked {
		return m.Err == nil
	}
	m.unchecked = false
	var t reflect.Type
	if decodeType != nil {
		t = decodeType(m.Topic)
	}
	if s := m.pre; s != nil && (s.val != nil || s.err != nil) {
		// Decoded ahead, from the same bytes.
		if !isSyntaxError(s.err) {
			return true
		}
	} else if t == anyType {
		var v any
		if err := m.from.transcoder.Unmarshal(m.Payload, &v); !isSyntaxError(err) {
			// As PayloadValue would have decoded it (a number out of
			// float64's range is an error, on valid JSON).
			m.value, m.decoded = v, true
			if err != nil {
				m.valueErr = m.decodeError(err)
			}
			return true
		}
	} else if t != nil && !msgType.AssignableTo(t) {
		o := m.from
		if !o.scratch.IsValid() || o.scratch.Type().Elem() != t {
			o.scratch = reflect.New(t)
		}
		ptr := o.scratch.Interface()
		err := o.transcoder.Unmarshal(m.Payload, ptr)
		if err == nil {
			o.checked = preSlot{typ: t, val: ptr}
			m.pre = &o.checked
			return true
		}
		o.scratch.Elem().SetZero() // decoding needs a zero value, and may have left part of one
		if !isSyntaxError(err) {
			return true
		}
	}
	return m.splitFully()
}

// splitFully replaces quickSplit's cut with SplitEnvelope's answer.
func (m *Msg) splitFully() bool {
	if m.pre != nil {
		*m.pre = preSlot{}
		m.pre = nil
	}
	m.value, m.valueErr, m.decoded = nil, nil, false
	topic, payload, err := m.from.transcoder.SplitEnvelope(m.Frame)
	if err != nil {
		m.Topic, m.Payload, m.Err = nil, nil, m.decodeError(err)
		m.from.stats.foundMalformed()
		return false
	}
	if t := topicName(topic); t != m.Topic.Name {
		// The payload held another "topic" member, which counts. Such a
		// topic is made for this message alone: the cache is the reader's.
		m.Topic = newTopic(t)
	}
	m.Payload = payload
	return true
}

func isSyntaxError(err error) bool {
	var syntax *json.SyntaxError
	return err != nil && errors.As(err, &syntax)
}
