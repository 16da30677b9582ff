package chronyproto

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// Errors a caller can act on. Every error this package returns for one of
// these conditions matches it with errors.Is, and says more in its text.
var (
	// ErrNotRunning means nothing answers at the address: the socket file is
	// missing, or the connection is refused.
	ErrNotRunning = errors.New("chronyd is not running")
	// ErrPermission means the operating system refused access to the Unix
	// socket; a *PermissionError says which group grants it.
	ErrPermission = errors.New("permission denied")
	// ErrNeedsUnixSocket means chronyd refused the command on this channel
	// (status UNAUTH): over UDP only the monitoring commands in its
	// opencommands set are allowed; the rest need the Unix socket (§6).
	ErrNeedsUnixSocket = errors.New("command not allowed over UDP, it needs chronyd's Unix socket")
	// ErrTimeout means chronyd did not answer before the context ended.
	ErrTimeout = errors.New("timed out waiting for chronyd")
	// ErrTooOld means chronyd does not know the command (status INVALID):
	// it is older than the report.
	ErrTooOld = errors.New("chronyd is too old for this report")
	// ErrNotEnabled means the facility behind the report is off in chronyd:
	// no RTC driver, no smoothtime, client logging inactive.
	ErrNotEnabled = errors.New("report not enabled in chronyd")
	// ErrNoSuchSource means chronyd has no source at that index or address.
	ErrNoSuchSource = errors.New("no such source")
	// ErrSourceChanged means the source list changed while a snapshot was
	// being taken, so a per-source reply belongs to another source.
	ErrSourceChanged = errors.New("source list changed during the snapshot")
	// ErrBadReply means chronyd answered with a reply this package does not
	// understand for the command (chronyc's "508 Bad reply from daemon").
	ErrBadReply = errors.New("bad reply from chronyd")
)

// Status is the status code of a reply (§3.3).
type Status uint16

// The status codes chronyd sends.
const (
	StatusSuccess            Status = 0
	StatusFailed             Status = 1
	StatusUnauth             Status = 2
	StatusInvalid            Status = 3
	StatusNoSuchSource       Status = 4
	StatusInvalidTS          Status = 5
	StatusNotEnabled         Status = 6
	StatusBadSubnet          Status = 7
	StatusAccessAllowed      Status = 8
	StatusAccessDenied       Status = 9
	StatusNoHostAccess       Status = 10
	StatusSourceAlreadyKnown Status = 11
	StatusTooManySources     Status = 12
	StatusNoRTC              Status = 13
	StatusBadRTCFile         Status = 14
	StatusInactive           Status = 15
	StatusBadSample          Status = 16
	StatusInvalidAF          Status = 17
	StatusBadPacketVersion   Status = 18
	StatusBadPacketLength    Status = 19
	StatusInvalidName        Status = 21
)

var statusText = map[Status]string{
	StatusSuccess:            "200 OK",
	StatusFailed:             "500 Failure",
	StatusUnauth:             "501 Not authorised",
	StatusInvalid:            "502 Invalid command",
	StatusNoSuchSource:       "503 No such source",
	StatusInvalidTS:          "504 Duplicate or stale logon detected",
	StatusNotEnabled:         "505 Facility not enabled in daemon",
	StatusBadSubnet:          "507 Bad subnet",
	StatusAccessAllowed:      "208 Access allowed",
	StatusAccessDenied:       "209 Access denied",
	StatusNoHostAccess:       "510 No command access from this host",
	StatusSourceAlreadyKnown: "511 Source already present",
	StatusTooManySources:     "512 Too many sources present",
	StatusNoRTC:              "513 RTC driver not running",
	StatusBadRTCFile:         "514 Can't write RTC parameters",
	StatusInactive:           "519 Client logging is not active in the daemon",
	StatusBadSample:          "516 Sample index out of range",
	StatusInvalidAF:          "515 Invalid address family",
	StatusBadPacketVersion:   "517 Protocol version mismatch",
	StatusBadPacketLength:    "518 Packet length mismatch",
	StatusInvalidName:        "521 Invalid name",
}

// String returns chronyc's message for the status.
func (s Status) String() string {
	if t, ok := statusText[s]; ok {
		return t
	}
	return "520 Got unexpected error from daemon (status " + strconv.Itoa(int(s)) + ")"
}

// StatusError is a reply whose status is not success.
type StatusError struct {
	Report Report // the report that was asked for
	Status Status
}

// Error implements error.
func (e *StatusError) Error() string {
	if target := e.kind(); target != nil {
		return fmt.Sprintf("%s: %v (chronyd: %s)", e.Report, target, e.Status)
	}
	return fmt.Sprintf("%s: chronyd: %s", e.Report, e.Status)
}

// Is maps statuses onto the package's errors.
func (e *StatusError) Is(target error) bool { return target != nil && e.kind() == target }

func (e *StatusError) kind() error {
	switch e.Status {
	case StatusUnauth:
		return ErrNeedsUnixSocket
	case StatusInvalid:
		return ErrTooOld
	case StatusNoSuchSource:
		return ErrNoSuchSource
	case StatusNotEnabled, StatusNoRTC, StatusInactive:
		return ErrNotEnabled
	}
	return nil
}

// PermissionError is returned when the Unix socket, or its directory, is not
// accessible to this process.
type PermissionError struct {
	Path  string // the path that was refused
	Group string // the group that owns the socket directory, if known
	Err   error
}

// Error implements error.
func (e *PermissionError) Error() string {
	if e.Group != "" {
		return fmt.Sprintf("permission denied on %s: run as root or as a member of group %q, which owns %s (or use UDP for the monitoring reports)", e.Path, e.Group, filepath.Dir(e.Path))
	}
	return fmt.Sprintf("permission denied on %s: run as root or as a member of the group that owns %s (or use UDP for the monitoring reports)", e.Path, filepath.Dir(e.Path))
}

// Unwrap returns the underlying error.
func (e *PermissionError) Unwrap() error { return e.Err }

// Is makes a PermissionError match ErrPermission.
func (e *PermissionError) Is(target error) bool { return target == ErrPermission }

// unixDialError turns a system error on the socket path into one of the
// package's errors.
func unixDialError(socketPath string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w: unable to connect to chronyd at %s: %w", ErrNotRunning, socketPath, err)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return &PermissionError{Path: socketPath, Group: dirGroup(filepath.Dir(socketPath)), Err: err}
	}
	return fmt.Errorf("unable to connect to chronyd at %s: %w", socketPath, err)
}

// dirGroup names the group owning dir, the one a user must join to reach a
// socket inside it.
func dirGroup(dir string) string {
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	gid := strconv.FormatUint(uint64(st.Gid), 10)
	if g, err := user.LookupGroupId(gid); err == nil {
		return g.Name
	}
	return gid
}
