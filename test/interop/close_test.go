//go:build unix

package interop_test

import (
	"fmt"
	"testing"

	"github.com/socketipc/socketipc/internal/testkit/leakcheck"
	"github.com/socketipc/socketipc/message"
)

// closeCount is the size of the burst sent right before a Close.
const closeCount = 20_000

// TestCloseDeliversQueued: what one end sent before it closed reaches the other end, in order,
// before that end learns of the close; whichever end closes, Go or Node, server or client.
func TestCloseDeliversQueued(t *testing.T) {
	leakcheck.Check(t)

	t.Run("GoServerCloses", func(t *testing.T) {
		l := goServerNodeClient(t, false)
		do(t, l.node, map[string]any{"cmd": "quiet", "topic": quietTopic, "prefix": "s", "expect": closeCount})
		for i := range closeCount {
			if err := l.goSend(quietTopic, fmt.Sprintf("s%d", i)); err != nil {
				t.Fatalf("Send #%d: %v", i, err)
			}
		}
		if err := l.goServer.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		l.in.log.Wait(t, "close")
		c := l.node.Expect(t, "count", burstWait)
		d := l.node.Expect(t, "disconnect", wait)
		if c.Count != closeCount || !c.Bool("inOrder") || c.Seq > d.Seq {
			t.Errorf("Node client counted %s (event #%d), disconnect is #%d", c.Line, c.Seq, d.Seq)
		}
		l.in.checkNoOtherErrors(t)
		checkNodeClean(t, l.node)
	})

	t.Run("GoClientCloses", func(t *testing.T) {
		l := nodeServerGoClient(t, false)
		do(t, l.node, map[string]any{"cmd": "quiet", "topic": quietTopic, "prefix": "c", "expect": closeCount})
		for i := range closeCount {
			if err := l.goSend(quietTopic, fmt.Sprintf("c%d", i)); err != nil {
				t.Fatalf("Send #%d: %v", i, err)
			}
		}
		if err := l.goClient.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		l.in.log.Wait(t, "close")
		c := l.node.Expect(t, "count", burstWait)
		sc := l.node.ExpectFunc(t, "socketClose", wait, func(e nodeEvent) bool { return e.Event == "socketClose" && e.ClientID == l.goIDAtNode })
		if c.Count != closeCount || !c.Bool("inOrder") || c.Seq > sc.Seq {
			t.Errorf("Node server counted %s (event #%d), socketClose is #%d", c.Line, c.Seq, sc.Seq)
		}
		if sc.Bool("hadError") {
			t.Errorf("the Go client's close was not graceful: %s", sc.Line)
		}
		isSendError(t, l.goSend("late", 1), message.ErrSendAfterClose)
		if err := l.in.expectError(t); !isErr(err, message.ErrSendAfterClose) {
			t.Errorf("emitted %v", err)
		}
		l.in.checkNoOtherErrors(t)
		checkNodeClean(t, l.node)
	})

	t.Run("NodeClientCloses", func(t *testing.T) {
		l := goServerNodeClient(t, false)
		c := newCounter("n", closeCount)
		l.goServer.On("message."+quietTopic, c.listener)
		atClose := make(chan int, 1)
		l.goServer.On("connectionClose", func(id string) {
			if id == l.nodeIDAtGo {
				atClose <- c.count()
			}
		})
		doWithin(t, l.node, l.nodeCmd(map[string]any{"cmd": "sendMany", "topic": quietTopic, "count": closeCount, "prefix": "n"}), burstWait)
		do(t, l.node, map[string]any{"cmd": "close"})
		c.await(t, "Go server")
		if n := receive(t, atClose, "connectionClose"); n != closeCount {
			t.Errorf("connectionClose came after %d of %d messages", n, closeCount)
		}
		l.node.Expect(t, "close", wait)
		// The client id is gone.
		err := l.goSend("late", 1)
		isSendError(t, err, message.ErrBadClient)
		if se := asSendError(err); se == nil || se.ClientID != l.nodeIDAtGo {
			t.Errorf("SendError %+v, want client id %q", se, l.nodeIDAtGo)
		}
		l.in.expectError(t)
		if ids := l.goServer.ClientIDs(); len(ids) != 0 {
			t.Errorf("Go server still has clients %v", ids)
		}
		l.in.checkNoOtherErrors(t)
		checkNodeClean(t, l.node)
	})

	t.Run("NodeServerCloses", func(t *testing.T) {
		l := nodeServerGoClient(t, false)
		c := newCounter("v", closeCount)
		l.goClient.On("message."+quietTopic, c.listener)
		atDisconnect := make(chan int, 1)
		l.goClient.Once("disconnect", func() { atDisconnect <- c.count() })
		doWithin(t, l.node, l.nodeCmd(map[string]any{"cmd": "sendMany", "topic": quietTopic, "count": closeCount, "prefix": "v"}), burstWait)
		do(t, l.node, map[string]any{"cmd": "close"})
		c.await(t, "Go client")
		if n := receive(t, atDisconnect, "disconnect"); n != closeCount {
			t.Errorf("disconnect came after %d of %d messages", n, closeCount)
		}
		// Node's close completes once the Go client has ended its side.
		l.node.Expect(t, "closed", wait)
		l.node.Expect(t, "close", wait)
		l.in.checkNoOtherErrors(t)
		checkNodeClean(t, l.node)
	})
}
