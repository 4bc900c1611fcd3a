package main

import (
	"testing"
)

// TestFleetKilled kills the fleet itself, which cannot stop anything then:
// the kernel must (Pdeathsig).
func TestFleetKilled(t *testing.T) {
	f := startFleet(t)
	if err := f.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = f.waitExit(t)
	f.expectGone(t)
}
