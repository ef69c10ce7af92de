package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// lineWriter prints messages as JSON lines, one write per line. It is used
// by one goroutine at a time (the listeners of one server or client).
type lineWriter struct {
	w   io.Writer
	raw bool // print the frame as it arrived instead
	buf []byte
	str bytes.Buffer
	enc *json.Encoder
}

func newLineWriter(w io.Writer, raw bool) *lineWriter {
	l := &lineWriter{w: w, raw: raw}
	l.enc = json.NewEncoder(&l.str)
	l.enc.SetEscapeHTML(false) // "<" stays "<": the line is for people and jq
	return l
}

// message prints {"clientId":...,"topic":...,"message":...}, without
// clientId when it is empty (the client side). The payload is printed as
// it arrived; only line breaks (legal between JSON tokens) are taken out,
// so that a message stays on one line. With raw, payload is the whole
// frame and is printed as it is, followed by a newline.
func (l *lineWriter) message(clientID, topic string, payload []byte) error {
	if l.raw {
		l.buf = append(append(l.buf[:0], payload...), '\n')
		_, err := l.w.Write(l.buf)
		return err
	}
	b := l.buf[:0]
	b = append(b, '{')
	if clientID != "" {
		b = append(b, `"clientId":`...)
		b = l.appendString(b, clientID)
		b = append(b, ',')
	}
	b = append(b, `"topic":`...)
	b = l.appendString(b, topic)
	b = append(b, `,"message":`...)
	switch {
	case len(payload) == 0:
		b = append(b, "null"...)
	case bytes.ContainsAny(payload, "\r\n"):
		var c bytes.Buffer
		if err := json.Compact(&c, payload); err != nil {
			return &badPayload{topic, err}
		}
		b = append(b, c.Bytes()...)
	default:
		b = append(b, payload...)
	}
	b = append(b, '}', '\n')
	l.buf = b
	_, err := l.w.Write(b)
	return err
}

func (l *lineWriter) appendString(dst []byte, s string) []byte {
	l.str.Reset()
	l.enc.Encode(s) // a string always encodes
	return append(dst, bytes.TrimSuffix(l.str.Bytes(), []byte("\n"))...)
}

// badPayload is a message that could not be printed (the next one may be);
// any other error of lineWriter is a failed write.
type badPayload struct {
	topic string
	err   error
}

func (b *badPayload) Error() string {
	return fmt.Sprintf("message of topic %q is not valid JSON: %v", b.topic, b.err)
}
