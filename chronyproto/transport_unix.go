package chronyproto

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clientDirPrefix starts the name of every directory this package makes
// beside chronyd's socket: <dir>/chrony_exporter.<pid>/<random>/sock.
const clientDirPrefix = "chrony_exporter."

// leftoverAge keeps the cleaner away from directories that are being set
// up right now: between mkdir and flock a live client's directory is not
// locked yet.
const leftoverAge = 10 * time.Second

// DialUnix connects to chronyd's Unix datagram socket at socketPath.
//
// chronyd answers to the sender's address, so the client binds a socket
// file, hidden as chronyc 4.8 does (§1.2): in <dir>/chrony_exporter.<pid>/
// <16 random characters>/sock, both directories 0711 and the socket 0666 so
// that chronyd, running as its own user, can send to it but cannot guess
// the path. Close removes all three.
//
// A killed process cannot remove its files, so each client holds an flock
// on its random directory, which the kernel drops when the process dies.
// Every DialUnix removes the directories of this user whose lock is free:
// leftovers are cleaned, not merely avoided, and this works across PID
// namespaces (containers) where PIDs say nothing.
func (d *Dialer) DialUnix(ctx context.Context, socketPath string) (*Client, error) {
	socketPath = filepath.Clean(socketPath)
	if !filepath.IsAbs(socketPath) {
		return nil, fmt.Errorf("chronyd socket path %q must be absolute", socketPath)
	}
	if _, err := os.Stat(socketPath); err != nil {
		return nil, unixDialError(socketPath, err)
	}
	dir := filepath.Dir(socketPath)
	removeLeftovers(dir)

	local, lock, err := makeClientDir(dir)
	if err != nil {
		return nil, unixDialError(socketPath, err)
	}
	cleanup := func() error {
		err := os.Remove(local)
		err2 := os.Remove(filepath.Dir(local))
		lock.Close()
		// Fails while other clients of this process use it; the last one
		// removes it.
		os.Remove(filepath.Dir(filepath.Dir(local)))
		return errors.Join(ignoreNotExist(err), ignoreNotExist(err2))
	}
	var nd net.Dialer
	nd.LocalAddr = &net.UnixAddr{Name: local, Net: "unixgram"}
	conn, err := nd.DialContext(ctx, "unixgram", socketPath)
	if err != nil {
		cleanup()
		return nil, unixDialError(socketPath, err)
	}
	if err := os.Chmod(local, 0o666); err != nil {
		conn.Close()
		cleanup()
		return nil, fmt.Errorf("making client socket %s writable for chronyd: %w", local, err)
	}
	return d.newClient(conn, "unix", socketPath, cleanup), nil
}

// makeClientDir creates <dir>/chrony_exporter.<pid>/<random>/ and locks the
// random directory; it returns the socket path to bind and the open, locked
// directory.
func makeClientDir(dir string) (string, *os.File, error) {
	pidDir := filepath.Join(dir, clientDirPrefix+strconv.Itoa(os.Getpid()))
	// A concurrent cleaner may remove an empty pidDir between our mkdir and
	// mkdirat; a second round wins.
	var err error
	for range 3 {
		if err = os.Mkdir(pidDir, 0o711); err != nil && !errors.Is(err, os.ErrExist) {
			return "", nil, err
		}
		if err = checkPrivateDir(pidDir); err != nil {
			return "", nil, err
		}
		sub := filepath.Join(pidDir, rand.Text()[:16])
		if err = os.Mkdir(sub, 0o711); errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return "", nil, err
		}
		lock, err := lockDir(sub, syscall.LOCK_EX)
		if err != nil {
			os.Remove(sub)
			return "", nil, err
		}
		// The umask may have taken bits chronyd needs to reach the socket.
		os.Chmod(pidDir, 0o711)
		os.Chmod(sub, 0o711)
		return filepath.Join(sub, "sock"), lock, nil
	}
	return "", nil, err
}

// checkPrivateDir refuses a directory chronyd (or anyone) could have swapped
// or opened up: it must be a real directory of ours with no bits beyond 0711.
func checkPrivateDir(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Geteuid() || fi.Mode().Perm()&^0o711 != 0 {
		return fmt.Errorf("client socket directory %s is not a private directory of this user (want mode 0711, owner uid %d)", path, os.Geteuid())
	}
	return nil
}

// lockDir opens a directory without following links and takes an flock on
// it without waiting.
func lockDir(path string, how int) (*os.File, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := syscall.Flock(fd, how|syscall.LOCK_NB); err != nil {
		syscall.Close(fd)
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return os.NewFile(uintptr(fd), path), nil
}

// removeLeftovers removes the client directories of dead processes: those
// of this user whose lock nobody holds. Errors are ignored; a leftover that
// cannot be removed now is tried again on the next dial.
func removeLeftovers(dir string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), clientDirPrefix) {
			continue
		}
		pidDir := filepath.Join(dir, e.Name())
		if checkPrivateDir(pidDir) != nil {
			continue
		}
		subs, err := os.ReadDir(pidDir)
		if err != nil {
			continue
		}
		for _, s := range subs {
			sub := filepath.Join(pidDir, s.Name())
			fi, err := os.Lstat(sub)
			if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < leftoverAge {
				continue
			}
			lock, err := lockDir(sub, syscall.LOCK_EX)
			if err != nil {
				continue // a live client holds it
			}
			os.Remove(filepath.Join(sub, "sock"))
			os.Remove(sub)
			lock.Close()
		}
		os.Remove(pidDir) // only if empty
	}
}

func ignoreNotExist(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}
