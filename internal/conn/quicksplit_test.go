package conn

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/socketipc/socketipc/message"
)

// quickSplit and Msg.Check together give exactly SplitEnvelope's answer,
// whatever the first listener decodes into: the same malformed frames, and
// for the others the same topic and payload bytes.
func FuzzQuickSplitMatchesSplitEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"topic":"o","message":{"a":1}}`,
		`{"topic":"o","message":{"a":}}`,
		`{"topic":"o","message":{"a":1}`,
		`{"topic":"o","message":1,"topic":"p"}`,
		`{"topic":"o","message":1,"topic":""}`,
		`{"topic":"o","message":1,"topic":5}`,
		`{"topic":"o","message":{"a":2},"x":[1]}`,
		`{"topic":"o","message":{"a":2},"message":{"a":3}}`,
		`{"topic":"","message":"x"}`,
		`{"topic":"o","message":"a\"}`,
		`{"topic":"o","message":[1,2,{"a":[]}]}`,
		`{"topic":"o","message":"ok"} `,
		`{"topic":"o","message": 1}`,
		`{"topic":"o","message":1 }`,
		`{"topic":"o","message":tru}`,
		`{"topic":"o","message":1e}`,
		`{"topic":"o","message":{"a":1}}}`,
		`{"topic":"o","message":"}`,
		`{"topic":"o","message":}`,
		`{"topic":"o\u00e9","message":1}`,
		`{"topic":"o","message":1e999}`,
		`{"topic":"o","message":[1e999]}`,
	} {
		f.Add([]byte(s))
	}
	type point struct {
		A int `json:"a"`
	}
	types := []reflect.Type{nil, anyType, reflect.TypeFor[point](), reflect.TypeFor[string](), reflect.TypeFor[[]int]()}
	f.Fuzz(func(t *testing.T, frame []byte) {
		topic, payload, ok := quickSplit(frame)
		if !ok {
			return
		}
		wantTopic, wantPayload, wantErr := message.JSON.SplitEnvelope(frame)
		for _, typ := range types {
			stats := &connStats{}
			stats.received(1, 0, len(frame))
			m := Msg{Frame: frame, Topic: newTopic(topicName(topic)), Payload: payload, unchecked: true,
				from: &origin{transcoder: message.JSON, stats: stats}}
			good := m.Check(func(*Topic) reflect.Type { return typ })
			if good != (wantErr == nil) {
				t.Fatalf("%q into %v: Check says %v, SplitEnvelope %v", frame, typ, good, wantErr)
			}
			if !good {
				if m.Err == nil || stats.badIn.Load() != 1 || stats.msgsIn.Load() != 0 {
					t.Fatalf("%q into %v: malformed but Err %v, counted %d bad, %d good", frame, typ, m.Err, stats.badIn.Load(), stats.msgsIn.Load())
				}
				continue
			}
			if m.Topic.Name != topicName(wantTopic) || !bytes.Equal(m.Payload, wantPayload) {
				t.Fatalf("%q into %v: got topic %q payload %q, want %q %q", frame, typ, m.Topic.Name, m.Payload, wantTopic, wantPayload)
			}
			if m.pre != nil && m.pre.val != nil {
				// What the listener will take is the payload decoded.
				want := reflect.New(typ)
				if err := message.JSON.Unmarshal(wantPayload, want.Interface()); err != nil || !reflect.DeepEqual(want.Interface(), m.pre.val) {
					t.Fatalf("%q into %v: kept %#v, want %#v (%v)", frame, typ, m.pre.val, want.Interface(), err)
				}
			}
			// And what a listener taking any gets.
			v, err := m.PayloadValue()
			var want any
			wantErr := message.JSON.Unmarshal(wantPayload, &want)
			if (err == nil) != (wantErr == nil) || !reflect.DeepEqual(v, want) {
				t.Fatalf("%q into %v: PayloadValue gave %#v, %v; want %#v, %v", frame, typ, v, err, want, wantErr)
			}
			m.Delivered()
		}
	})
}

// The frames the library writes (and Node's, in the same layout) take the
// quick split; other layouts do not.
func TestQuickSplitTaken(t *testing.T) {
	for _, msg := range []any{1, "s", map[string]any{"a": []any{1.0, "x"}}, nil, true} {
		frame, err := message.JSON.AppendEnvelope(nil, "topic", msg)
		if err != nil {
			t.Fatal(err)
		}
		topic, payload, ok := quickSplit(frame)
		_, wantPayload, _ := message.JSON.SplitEnvelope(frame)
		if !ok || string(topic) != "topic" || !bytes.Equal(payload, wantPayload) {
			t.Errorf("%s: quickSplit gave %q %q %v", frame, topic, payload, ok)
		}
	}
	for _, frame := range []string{
		`{"message":1,"topic":"t"}`,
		`{"topic":"$req.x","message":1}`,
		`{"topic":"t\u0041","message":1}`,
		`{"topic":"é","message":1}`,
		`{ "topic":"t","message":1}`,
		`{"topic":"t","message":1} `,
		`{"topic":"t"}`,
	} {
		if _, _, ok := quickSplit([]byte(frame)); ok {
			t.Errorf("%s: quickSplit took it", frame)
		}
	}
}

// The reader cuts frames quickly exactly when their topic's first listener
// decodes the payload, and reads the rest in full; after a read whose last
// topic is not decoded, it tries the next read's frames in full at once
// (quickCutPays), which is only slower for a decoded topic, never wrong.
func TestReaderCutsQuicklyOnlyForDecodedTopics(t *testing.T) {
	nc, peer := unixPair(t)
	type got struct {
		topic     string
		unchecked bool
	}
	arrived := make(chan got, 16)
	runConn(t, nc, peer, Config{
		DecodeType: func(t *Topic) reflect.Type {
			if t.Name == "decoded" {
				return anyType
			}
			return nil
		},
		OnMessages: func(_ *Conn, msgs []Msg) {
			for i := range msgs {
				arrived <- got{msgs[i].Topic.Name, msgs[i].unchecked}
				if !msgs[i].Check(nil) {
					t.Errorf("frame %d: %v", i, msgs[i].Err)
				}
			}
		},
	})
	writeAndExpect(t, peer, `{"topic":"decoded","message":{"a":1}}`+"\x00\x00"+`{"topic":"plain","message":{"a":1}}`+"\x00\x00", arrived,
		got{"decoded", true}, got{"plain", false})
	// The last topic read was plain: this read is split in full.
	writeAndExpect(t, peer, `{"topic":"decoded","message":{"a":2}}`+"\x00\x00", arrived,
		got{"decoded", false})
	// And now the last topic is decoded again.
	writeAndExpect(t, peer, `{"topic":"decoded","message":{"a":3}}`+"\x00\x00", arrived,
		got{"decoded", true})
}
