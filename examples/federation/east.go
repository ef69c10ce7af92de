package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nuid"

	"github.com/socketipc/socketipc/internal/examplekit"
)

// runEast runs the NATS server (unless --nats names one), starts the host
// west as a second process, and runs the host east in this one. When both
// have done their part, it ends west (closing its stdin), then itself.
func runEast(ctx context.Context, cfg config, out io.Writer) error {
	p := newPrinter(out)
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	if cfg.nats == "" {
		ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
		if err != nil {
			return err
		}
		go ns.Start()
		defer ns.Shutdown()
		if !ns.ReadyForConnections(10 * time.Second) {
			return errors.New("the embedded NATS server did not start")
		}
		cfg.nats = ns.ClientURL()
		p.say("east: no --nats given: started an embedded NATS server at %s", cfg.nats)
	} else {
		p.say("east: using the NATS server at %s", cfg.nats)
	}
	// A prefix of its own, so runs sharing a NATS server do not meet.
	cfg.prefix = "federation." + nuid.Next()

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"--role", "host", "--name", "west", "--peer", "east", "--nats", cfg.nats,
		"--prefix", cfg.prefix, "--timeout", cfg.timeout.String()}
	if cfg.node != "" {
		args = append(args, "--node", cfg.node)
	}
	if cfg.noNode {
		args = append(args, "--no-node")
	}
	if cfg.root != "" {
		args = append(args, "--root", cfg.root)
	}
	west := exec.Command(exe, args...)
	westDone := make(chan struct{})
	var once sync.Once
	relay := examplekit.NewLineWriter(func(line string) {
		p.line(line)
		if line == "west: my part is done" {
			once.Do(func() { close(westDone) })
		}
	})
	west.Stdout = relay
	west.Stderr = examplekit.NewLineWriter(func(line string) { p.line("west ! " + line) })
	west.WaitDelay = time.Second
	westIn, err := west.StdinPipe()
	if err != nil {
		return err
	}
	if err := west.Start(); err != nil {
		return fmt.Errorf("starting the host west: %w", err)
	}
	p.say("east: started the host west (pid %d)", west.Process.Pid)
	westExit := make(chan error, 1)
	go func() {
		err := west.Wait()
		relay.Flush()
		westExit <- err
	}()
	exited := false
	defer func() {
		if !exited { // east failed: don't leave west behind
			westIn.Close()
			select {
			case <-westExit:
			case <-time.After(5 * time.Second):
				_ = west.Process.Kill()
				<-westExit
			}
		}
	}()

	cfg.name, cfg.peer = "east", "west"
	err = runHostWait(ctx, cfg, p, func(ctx context.Context) error {
		select {
		case <-westDone:
		case err := <-westExit:
			exited = true
			return fmt.Errorf("the host west ended before its part was done: %v", exitStatus(err))
		case <-ctx.Done():
			return fmt.Errorf("waiting for west: %w", ctx.Err())
		}
		p.say("east: west has done its part too; ending it (closing its stdin)")
		westIn.Close()
		select {
		case err := <-westExit:
			exited = true
			p.say("east: the host west exited (%s)", exitStatus(err))
			if err != nil {
				return errors.New("the host west failed")
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for west to exit: %w", ctx.Err())
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.say("east: the conversation is over")
	return nil
}

func exitStatus(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return strings.TrimSpace(err.Error())
}
