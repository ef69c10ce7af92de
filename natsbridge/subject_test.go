package natsbridge_test

import (
	"errors"
	"testing"

	"github.com/socketipc/socketipc/natsbridge"
)

func TestTopicMapping(t *testing.T) {
	for _, tc := range []struct{ topic, token string }{
		{"plain", "plain"},
		{"a.b", "a%2Eb"},
		{"two words", "two%20words"},
		{"*", "%2A"},
		{">", "%3E"},
		{"100%", "100%25"},
		{"tab\there", "tab%09here"},
		{"del\x7f", "del%7F"},
		{"héllo", "h%C3%A9llo"},
		{"", "%"},
		{"a-b_c:d/e", "a-b_c:d/e"},
	} {
		if got := natsbridge.EncodeTopic(tc.topic); got != tc.token {
			t.Errorf("EncodeTopic(%q) = %q, want %q", tc.topic, got, tc.token)
		}
		back, err := natsbridge.DecodeTopic(tc.token)
		if err != nil || back != tc.topic {
			t.Errorf("DecodeTopic(%q) = %q, %v, want %q", tc.token, back, err, tc.topic)
		}
	}
	for _, bad := range []string{"", "a.b", "a b", "%2", "%zz", "%41", "%2e", "*"} {
		if got, err := natsbridge.DecodeTopic(bad); !errors.Is(err, natsbridge.ErrBadToken) {
			t.Errorf("DecodeTopic(%q) = %q, %v, want ErrBadToken", bad, got, err)
		}
	}
}

func FuzzTopicRoundTrip(f *testing.F) {
	for _, s := range []string{"", "a.b", "x y", "%", "%25", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		tok := natsbridge.EncodeTopic(topic)
		for i := 0; i < len(tok); i++ {
			if c := tok[i]; c <= ' ' || c >= 0x7f || c == '.' || c == '*' || c == '>' {
				t.Fatalf("EncodeTopic(%q) = %q has %q", topic, tok, c)
			}
		}
		back, err := natsbridge.DecodeTopic(tok)
		if err != nil || back != topic {
			t.Fatalf("round trip %q -> %q -> %q, %v", topic, tok, back, err)
		}
	})
}
