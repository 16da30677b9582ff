package chronyproto

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Errors a caller can act on. Every error this package returns for one of
// these conditions matches it with errors.Is, and says more in its text.
var (
	// ErrNotRunning means nothing answers at the address: the socket file is
	// missing, or the connection is refused.
	ErrNotRunning = errors.New("chronyd is not running")
	// ErrPermission means the operating system refused access to the Unix
	// socket; a *PermissionError says who may use it.
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

// PermissionError is returned when the operating system refuses this
// process chronyd's Unix socket. Using the socket takes write access to it
// and, because the client binds its own socket beside it, search and write
// access to its directory; chronyd makes both itself, and under the usual
// umask 022 that leaves the directory 0750 and the socket 0755, so only root
// and chronyd's own user can use it: its group is not enough. The error
// says what it found and who that lets in.
type PermissionError struct {
	Path   string    // chronyd's socket
	Dir    FileOwner // the socket's directory, as found
	Socket FileOwner // the socket, as found; unknown when Dir could not be searched
	Self   Identity  // this process, as the kernel judged it
	Err    error
}

// Identity is a process's user and groups.
type Identity struct {
	UID    uint32
	User   string   // the user's name, or its uid when it has none
	Groups []string // the effective group first, then the supplementary ones
}

// String gives the identity as "user NAME (uid N), groups A, B".
func (id Identity) String() string {
	s := fmt.Sprintf("user %s (uid %d)", id.User, id.UID)
	if len(id.Groups) > 0 {
		s += ", groups " + strings.Join(id.Groups, ", ")
	}
	return s
}

// FileOwner is a file's permission bits and owners, as this process saw
// them.
type FileOwner struct {
	Known    bool // false when the file could not be looked at
	Mode     fs.FileMode
	UID, GID uint32
	User     string // the owner's name, or its uid when it has none
	Group    string // the group's name, or its gid when it has none
	Why      string // why it could not be looked at, when not Known
}

// String gives the file as ls would: mode in octal and owner:group.
func (f FileOwner) String() string {
	if !f.Known {
		return "unknown (" + f.Why + ")"
	}
	return fmt.Sprintf("%04o %s:%s", f.Mode.Perm(), f.User, f.Group)
}

// access is who the modes let use the socket besides root: the
// directory's owner, its group's members, everyone. A client needs search
// and write on the directory and write on the socket. When the socket
// could not be looked at, only the directory is judged.
type access struct{ owner, group, everyone bool }

func (e *PermissionError) access() access {
	if !e.Dir.Known {
		return access{}
	}
	// The socket's bits that apply to the directory's owner, to its
	// group's members and to everyone else.
	sockBits := func(ownerMatch, groupMatch bool) fs.FileMode {
		switch {
		case !e.Socket.Known:
			return 0o2 // not judged
		case ownerMatch:
			return e.Socket.Mode.Perm() >> 6
		case groupMatch:
			return e.Socket.Mode.Perm() >> 3
		}
		return e.Socket.Mode.Perm()
	}
	dir := e.Dir.Mode.Perm()
	may := func(dirBits, sock fs.FileMode) bool { return dirBits&0o3 == 0o3 && sock&0o2 != 0 }
	return access{
		owner:    e.Dir.UID != 0 && may(dir>>6, sockBits(e.Socket.UID == e.Dir.UID, e.Socket.GID == e.Dir.GID)),
		group:    may(dir>>3, sockBits(false, e.Socket.GID == e.Dir.GID)),
		everyone: may(dir, sockBits(false, false)),
	}
}

// Allowed names who may use the socket by its modes and owners, root
// first: "root", "user X", "members of group Y", "everyone".
func (e *PermissionError) Allowed() []string {
	a := e.access()
	out := []string{"root"}
	if a.owner {
		out = append(out, "user "+e.Dir.User)
	}
	if a.group {
		out = append(out, "members of group "+e.Dir.Group)
	}
	if a.everyone {
		out = append(out, "everyone")
	}
	return out
}

// GroupAllowed reports whether the modes let the members of the socket
// directory's group use the socket; for a socket chronyd made itself they
// do not.
func (e *PermissionError) GroupAllowed() bool { return e.access().group }

// Error implements error: what was found, who may use the socket, and
// what to do.
func (e *PermissionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "permission denied on chronyd's socket %s (directory %s %s, socket %s; this process: %s)",
		e.Path, filepath.Dir(e.Path), e.Dir, e.Socket, e.Self)
	b.WriteString(": only " + e.Who() + " can use it")
	if e.ModesAllowSelf() {
		b.WriteString("; the modes let this process in, so something else refuses it: a read-only mount, SELinux or AppArmor")
	} else if u := e.RunAs(); u != "" {
		fmt.Fprintf(&b, "; run as user %s, which owns it (the shipped systemd unit does), or use UDP (%s) for the monitoring reports", u, DefaultUDPAddress())
	} else {
		fmt.Fprintf(&b, "; run as root, or use UDP (%s) for the monitoring reports", DefaultUDPAddress())
	}
	return b.String()
}

// Who joins Allowed into a phrase: "root, user _chrony and members of
// group _chrony".
func (e *PermissionError) Who() string {
	allowed := e.Allowed()
	if len(allowed) == 1 {
		return allowed[0]
	}
	return strings.Join(allowed[:len(allowed)-1], ", ") + " and " + allowed[len(allowed)-1]
}

// RunAs is the user to run as to use the socket: the owner of its
// directory when the modes let that user in, "" otherwise.
func (e *PermissionError) RunAs() string {
	if e.access().owner {
		return e.Dir.User
	}
	return ""
}

// ModesAllowSelf reports whether the modes let this process in: then the
// refusal came from elsewhere.
func (e *PermissionError) ModesAllowSelf() bool {
	a := e.access()
	return e.Self.UID == 0 || a.everyone ||
		a.owner && e.Self.UID == e.Dir.UID ||
		a.group && slices.Contains(e.Self.Groups, e.Dir.Group)
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
		return &PermissionError{
			Path:   socketPath,
			Dir:    lookOwner(filepath.Dir(socketPath)),
			Socket: lookOwner(socketPath),
			Self:   self(),
			Err:    err,
		}
	}
	return fmt.Errorf("unable to connect to chronyd at %s: %w", socketPath, err)
}

// lookOwner stats path and names its owners.
func lookOwner(path string) FileOwner {
	fi, err := os.Stat(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return FileOwner{Why: err.Error()}
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileOwner{Why: "no owner information"}
	}
	return FileOwner{
		Known: true,
		Mode:  fi.Mode(),
		UID:   st.Uid,
		GID:   st.Gid,
		User:  userName(st.Uid),
		Group: groupName(st.Gid),
	}
}

func userName(uid uint32) string {
	id := strconv.FormatUint(uint64(uid), 10)
	if u, err := user.LookupId(id); err == nil {
		return u.Username
	}
	return id
}

func groupName(gid uint32) string {
	id := strconv.FormatUint(uint64(gid), 10)
	if g, err := user.LookupGroupId(id); err == nil {
		return g.Name
	}
	return id
}

// self is this process's identity, which the kernel judged.
func self() Identity {
	uid := uint32(os.Geteuid())
	id := Identity{UID: uid, User: userName(uid)}
	gids, _ := os.Getgroups()
	seen := map[int]bool{}
	for _, g := range append([]int{os.Getegid()}, gids...) {
		if !seen[g] {
			seen[g] = true
			id.Groups = append(id.Groups, groupName(uint32(g)))
		}
	}
	return id
}
