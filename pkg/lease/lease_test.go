package lease

import (
	"os"
	"strconv"
	"testing"
)

func TestHolderRunsKnowsTheProcessNotItsName(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	id, ok := processIdentity(self)
	if !ok {
		t.Fatal("no identity for this process")
	}
	// The test binary is not called kplay: the old check by name lost its lease.
	if !holderRuns(self, id) {
		t.Errorf("a running holder %s (%s) is reported gone", self, id)
	}
	if holderRuns(self, id+"1") {
		t.Errorf("a process that reuses the holder's pid is reported as the holder")
	}
	if holderRuns("999999999", id) {
		t.Errorf("a process that does not exist runs")
	}
	if got, ok := startTime("123 (a b) c) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 4242 19"); !ok || got != "4242" {
		t.Errorf("startTime with a tricky command name = %q, %v; want 4242", got, ok)
	}
}
