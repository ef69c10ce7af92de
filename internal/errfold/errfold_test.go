package errfold_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/socketipc/socketipc/internal/errfold"
	"github.com/socketipc/socketipc/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Errors of one key fold while the first waits; other keys, and errors
// after the first was delivered, are posted on their own.
func TestFold(t *testing.T) {
	var f errfold.Folder
	var queue []func()
	post := func(fn func()) { queue = append(queue, fn) }
	var got []error
	emit := func(err error) { got = append(got, err) }

	full := func(id string) error {
		return &message.SendError{Topic: "t", ClientID: id, Err: message.ErrQueueFull}
	}
	first := full("a")
	f.Post(errfold.SendKey(first), first, post, emit)
	for range 9 {
		err := full("a")
		f.Post(errfold.SendKey(err), err, post, emit)
	}
	other := full("b")
	f.Post(errfold.SendKey(other), other, post, emit)
	plain := errors.New("not foldable")
	f.Post(errfold.SendKey(plain), plain, post, emit)
	f.Post(errfold.SendKey(plain), plain, post, emit)
	require.Len(t, queue, 4)
	for _, fn := range queue {
		fn()
	}
	require.Len(t, got, 4)
	var rep *message.RepeatedError
	require.ErrorAs(t, got[0], &rep)
	assert.Equal(t, 10, rep.Count)
	assert.Same(t, first, rep.Err)
	assert.Same(t, other, got[1])
	assert.Same(t, plain, got[2])
	assert.Equal(t, int64(9), f.Folded())

	// Delivered: the next one is posted again, on its own.
	queue, got = nil, nil
	again := full("a")
	f.Post(errfold.SendKey(again), again, post, emit)
	require.Len(t, queue, 1)
	queue[0]()
	assert.Same(t, again, got[0])
}

func TestSendKey(t *testing.T) {
	for _, c := range []struct {
		err  error
		want errfold.Key
	}{
		{&message.SendError{ClientID: "a", Err: message.ErrQueueFull}, errfold.Key{Source: "a", Kind: message.ErrQueueFull}},
		{&message.SendError{Missed: []string{"a"}, Err: message.ErrQueueFull}, errfold.Key{Kind: message.ErrQueueFull}},
		{&message.SendError{Missed: []string{"a"}, Err: message.ErrConnectionClosed}, errfold.Key{Kind: message.ErrConnectionClosed}},
		{&message.SendError{ClientID: "x", Err: message.ErrBadClient}, errfold.Key{Source: "x", Kind: message.ErrBadClient}},
		{&message.SendError{ClientID: "y", Err: fmt.Errorf("%w: closing", message.ErrBadClient)}, errfold.Key{Source: "y", Kind: message.ErrBadClient}},
		{&message.SendError{Err: message.ErrSendAfterClose}, errfold.Key{Kind: message.ErrSendAfterClose}},
		{&message.SendError{Err: message.ErrNoServer}, errfold.Key{Kind: message.ErrNoServer}},
		{errors.New("other"), errfold.Key{}},
	} {
		assert.Equal(t, c.want, errfold.SendKey(c.err), "%v", c.err)
	}
	enc := &message.SendError{ClientID: "a", Err: &message.EncodeError{Err: errors.New("bad")}}
	k := errfold.SendKey(enc)
	assert.NotNil(t, k.Kind)
	assert.Equal(t, "a", k.Source)
}

// Sends to ever new unknown ids: past 1,024 waiting keys, they fold by
// kind alone, so the events waiting stay bounded.
func TestFoldManySources(t *testing.T) {
	var f errfold.Folder
	queued := 0
	post := func(func()) { queued++ }
	for i := range 100000 {
		err := &message.SendError{ClientID: fmt.Sprint(i), Err: message.ErrBadClient}
		f.Post(errfold.SendKey(err), err, post, func(error) {})
	}
	assert.Equal(t, 1025, queued)
	assert.Equal(t, int64(100000-1025), f.Folded())
}
