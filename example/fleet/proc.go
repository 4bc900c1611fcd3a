package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// fleet is the processes started so far.
type fleet struct {
	out   *output
	procs []*proc
	// exited hears of every process that exits; buffered for all of them,
	// so that no process's waiter blocks.
	exited chan *proc
}

// proc is one process of the fleet.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once the process has exited and been reaped
	err  error         // cmd.Wait's result, set before done is closed
}

// start starts bin as the process name, its output prefixed with the name.
func (f *fleet) start(name, addr, bin string, args, env []string) error {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdout, stderr := f.out.prefixed(name), f.out.prefixed(name)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so that a terminal's Ctrl-C reaches the fleet
	// alone, which then stops the processes in order; and, on Linux, a
	// signal if the fleet dies without stopping them.
	cmd.SysProcAttr = sysProcAttr()
	// Output copied from a descendant that outlives the process would
	// otherwise hold Wait.
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	f.procs = append(f.procs, p)
	f.out.line("fleet", fmt.Sprintf("started %s (pid %d) on %s", name, cmd.Process.Pid, addr))
	go func() {
		p.err = cmd.Wait()
		stdout.flush()
		stderr.flush()
		close(p.done)
		f.exited <- p
	}()
	return nil
}

// wait returns when ctx ends (a signal), or with an error when a process
// exits first: the fleet is then incomplete, and stops.
func (f *fleet) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case p := <-f.exited:
		return fmt.Errorf("%s exited (%v): stopping every process", p.name, p.err)
	}
}

// stop stops the instances, then Redis, which they use until they exit.
func (f *fleet) stop(force <-chan struct{}) {
	var instances, rest []*proc
	for _, p := range f.procs {
		if p.name == "redis" {
			rest = append(rest, p)
		} else {
			instances = append(instances, p)
		}
	}
	stopAll(instances, force, f.out)
	stopAll(rest, force, f.out)
}

// stopAll sends SIGTERM to each process's group, SIGKILL to those still
// running after stopGrace or when force closes, and waits until all have
// exited.
func stopAll(procs []*proc, force <-chan struct{}, out *output) {
	for _, p := range procs {
		signalGroup(p, syscall.SIGTERM)
	}
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	if !allExit(procs, grace.C, force) {
		for _, p := range procs {
			select {
			case <-p.done:
			default:
				out.line("fleet", "killing "+p.name)
				signalGroup(p, syscall.SIGKILL)
			}
		}
	}
	for _, p := range procs {
		<-p.done
	}
}

// allExit reports whether every process exits before timeout fires or
// force closes.
func allExit(procs []*proc, timeout <-chan time.Time, force <-chan struct{}) bool {
	for _, p := range procs {
		select {
		case <-p.done:
		case <-timeout:
			return false
		case <-force:
			return false
		}
	}
	return true
}

// output serialises the lines of every process onto one writer.
type output struct {
	mu sync.Mutex
	w  io.Writer
}

func newOutput(w io.Writer) *output { return &output{w: w} }

// line writes one line, prefixed with name.
func (o *output) line(name, text string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fmt.Fprintf(o.w, "%-8s | %s\n", name, text)
}

func (o *output) prefixed(name string) *lineWriter { return &lineWriter{o: o, name: name} }

// lineWriter passes whole lines on to output, prefixed, so that lines of
// different processes never mix.
type lineWriter struct {
	o    *output
	name string
	mu   sync.Mutex
	buf  []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		w.o.line(w.name, string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
}

// flush writes what is left of an unfinished last line.
func (w *lineWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.o.line(w.name, string(w.buf))
		w.buf = nil
	}
}
