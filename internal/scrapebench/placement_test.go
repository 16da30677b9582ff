//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPlacementStart checks that a child started by a placement runs on
// the measured CPUs only, and that this process keeps its own CPUs.
func TestPlacementStart(t *testing.T) {
	var before unix.CPUSet
	if err := unix.SchedGetaffinity(0, &before); err != nil {
		t.Fatal(err)
	}
	if before.Count() < 2 {
		t.Skip("needs 2 CPUs")
	}
	pl, err := newPlacement()
	if err != nil {
		t.Fatal(err)
	}
	if pl.chronyd.Count() != 1 || pl.measured.Count() != before.Count()-1 {
		t.Fatalf("chronyd gets %d CPUs, the measured processes %d; want 1 and %d", pl.chronyd.Count(), pl.measured.Count(), before.Count()-1)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), placementChildEnv+"=1")
	cmd.Stdout = &out
	if err := pl.start(cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	var want []string
	for cpu := 0; len(want) < pl.measured.Count(); cpu++ {
		if pl.measured.IsSet(cpu) {
			want = append(want, strconv.Itoa(cpu))
		}
	}
	got := strings.TrimSpace(out.String())
	// The kernel writes runs as ranges (1-3); compare CPU by CPU.
	if expandCPUList(t, got) != strings.Join(want, ",") {
		t.Errorf("child's CPUs %q, want %s", got, strings.Join(want, ","))
	}
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("starting the child changed this thread's CPUs from %d to %d CPUs", before.Count(), after.Count())
	}
}

// placementChildEnv makes the test binary print the CPUs it may run on
// and exit, as the child TestPlacementStart starts.
const placementChildEnv = "SCRAPEBENCH_TEST_PRINT_CPUS"

// printAllowedCPUs prints the kernel's Cpus_allowed_list of this process
// (read here, since a test may have nothing but Go to run) and exits.
func printAllowedCPUs() {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fatalf("%v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if list, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			fmt.Println(strings.TrimSpace(list))
			os.Exit(0)
		}
	}
	fatalf("no Cpus_allowed_list in /proc/self/status")
}

// expandCPUList turns the kernel's "0,2-4" into "0,2,3,4".
func expandCPUList(t *testing.T, list string) string {
	var cpus []string
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		if !isRange {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil {
			t.Fatalf("CPU list %q", list)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, strconv.Itoa(c))
		}
	}
	return strings.Join(cpus, ",")
}
