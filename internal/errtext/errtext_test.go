package errtext_test

import (
	"errors"
	"io"
	"testing"

	"github.com/socketipc/socketipc/internal/errtext"
)

func TestWrapSaysSocketipcOnce(t *testing.T) {
	closed := errors.New("socketipc: server closed")
	for _, c := range []struct {
		err  error
		want string
	}{
		{errtext.Wrap("listen", closed), "socketipc: listen: server closed"},
		{errtext.Wrap("read client c1", io.ErrUnexpectedEOF), "socketipc: read client c1: unexpected EOF"},
		{errtext.Wrap("close", errtext.Wrap("flush", closed)), "socketipc: close: flush: server closed"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("got %q, want %q", got, c.want)
		}
	}
	if err := errtext.Wrap("listen", closed); !errors.Is(err, closed) {
		t.Error("Wrap hides its cause from errors.Is")
	}
	if errtext.Wrap("x", nil) != nil {
		t.Error("Wrap(nil) is not nil")
	}
	if got := errtext.Cause(closed); got != "server closed" {
		t.Errorf("Cause: %q", got)
	}
	if got := errtext.Cause(io.EOF); got != "EOF" {
		t.Errorf("Cause: %q", got)
	}
}
