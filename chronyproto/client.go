package chronyproto

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Defaults of a Dialer.
const (
	// DefaultUnixWindow fills chronyd's socket queue, which holds
	// net.unix.max_dgram_qlen (10 by default) datagrams: past it our writes
	// only wait; a little below it measured fastest.
	DefaultUnixWindow = 8
	// DefaultUDPWindow lets a snapshot of many sources cross a slow path
	// in a few windows, while its small requests stay well inside chronyd's
	// default UDP receive buffer.
	DefaultUDPWindow = 256
	// DefaultRetryInterval is how long the first transmission of a request
	// waits for its reply before it is sent again. chronyc starts at 1 s
	// (§9.1); a scrape has a deadline of a few seconds, so we start lower.
	DefaultRetryInterval = 200 * time.Millisecond
	// maxRetryInterval caps the doubling so retries go on at a steady pace
	// until the context ends.
	maxRetryInterval = time.Second
	// liveWindow is how recently chronyd must have answered for a missing
	// reply to count as lost rather than as a sign of a silent chronyd.
	// While the path is live, requests are retransmitted at a steady
	// interval: on a lossy path, doubling would leave a request so few
	// tries within a scrape's deadline that reads fail, where a steady
	// pace succeeds. A chronyd that stops answering gets the doubling
	// again after this long.
	liveWindow = 2 * time.Second
)

// A Dialer holds the options for connecting to chronyd. The zero value is
// ready to use.
type Dialer struct {
	// Window is how many requests may wait for their replies at once.
	// Zero means DefaultUnixWindow or DefaultUDPWindow, by transport.
	Window int
	// RetryInterval is the shortest wait before a retransmission. While
	// chronyd answers other requests, a lost one is sent again after this,
	// or after four round trips when they take longer; when chronyd has
	// not answered for a while, each further attempt waits twice as long,
	// as chronyc does, up to a second or that first wait if it is longer.
	// Zero means DefaultRetryInterval.
	RetryInterval time.Duration
}

// Client talks to one chronyd. It carries one exchange at a time; concurrent
// calls wait for each other.
type Client struct {
	conn          net.Conn
	network       string // "unix" or "udp"
	address       string // the socket path or host:port
	window        int
	retryInterval time.Duration
	cleanup       func() error // removes what the transport created
	// fallbackFrom is the socket the automatic address found but could
	// not use, and fallbackErr why, when it went on to UDP.
	fallbackFrom string
	fallbackErr  error

	mu  sync.Mutex
	buf []byte

	sent  atomic.Uint64
	hints hintStore

	// Path state, owned by the exchange loop (under mu): the smoothed
	// round trip (zero until one is measured) and when chronyd last gave a
	// matching reply. A fresh sequence per transmission makes every sample
	// unambiguous: a reply answers exactly the transmission it matches.
	srtt        time.Duration
	lastReplyAt time.Time
}

func (d *Dialer) newClient(conn net.Conn, network, address string, cleanup func() error) *Client {
	c := &Client{
		conn:          conn,
		network:       network,
		address:       address,
		window:        d.Window,
		retryInterval: d.RetryInterval,
		cleanup:       cleanup,
		buf:           make([]byte, 2048),
	}
	if c.window <= 0 {
		c.window = DefaultUDPWindow
		if network == "unix" {
			c.window = DefaultUnixWindow
		}
	}
	if c.retryInterval <= 0 {
		c.retryInterval = DefaultRetryInterval
	}
	return c
}

// Network returns "unix" or "udp".
func (c *Client) Network() string { return c.network }

// Address returns the address of chronyd in the form Dial accepts:
// unix:///path or udp://host:port.
func (c *Client) Address() string { return c.network + "://" + c.address }

// Fallback returns the Unix socket the automatic address (Dial with "")
// found but could not use, and why, when it read chronyd over UDP instead;
// "" and nil otherwise. Over UDP chronyd answers only the monitoring
// reports (§6), so a caller should say that it fell back.
func (c *Client) Fallback() (socket string, err error) { return c.fallbackFrom, c.fallbackErr }

// Sent returns how many request datagrams the client has sent,
// retransmissions included.
func (c *Client) Sent() uint64 { return c.sent.Load() }

// Close closes the connection and removes the client's socket file and
// directories.
func (c *Client) Close() error {
	err := c.conn.Close()
	if c.cleanup != nil {
		err = errors.Join(err, c.cleanup())
	}
	return err
}

// Request is a request to chronyd that Exchange can carry: a *Call of any
// report.
type Request interface {
	exchange() *exchange
}

// Call is one request to chronyd and, once exchanged, its result.
type Call[T any] struct {
	Value T     // the decoded reply, valid when Err is nil
	Err   error // why the call failed; nil on success
	x     exchange
}

func (c *Call[T]) exchange() *exchange { return &c.x }

// newCall prepares a call for report r whose successful replies are
// decoded by decode; codes lists the reply codes chronyd may answer with,
// every one any supported version sends (§12.3).
func newCall[T any](r Report, cmd command, codes []uint16, decode func(code uint16, p []byte) (T, error)) *Call[T] {
	c := &Call[T]{}
	c.x = exchange{
		report: r,
		packet: newRequest(cmd),
		codes:  codes,
		decode: func(code uint16, p []byte) error {
			v, err := decode(code, p)
			if err == nil {
				c.Value = v
			}
			return err
		},
		err: &c.Err,
	}
	return c
}

// exchange is one request on its way through the window.
type exchange struct {
	report Report
	packet []byte
	codes  []uint16
	decode func(code uint16, p []byte) error
	err    *error
	// then runs after the exchange finished, successfully or not, and may
	// queue further exchanges; it is how a snapshot asks for a source's
	// details as soon as it knows its address.
	then func(q *queue)

	// Transmission state, owned by the exchange loop.
	seq      uint32
	attempt  int
	sentAt   time.Time
	deadline time.Time
}

func (x *exchange) command() command { return command(u16(x.packet, 4)) }

// queue holds the exchanges of one run that are not sent yet.
type queue struct {
	waiting []*exchange
}

// add queues exchanges to be sent in this run.
func (q *queue) add(xs ...*exchange) { q.waiting = append(q.waiting, xs...) }

// Exchange sends every request, keeping up to the window of them in flight,
// and waits until each one has its reply or error. A request that fails
// carries its own error (a *StatusError, ErrTimeout…); Exchange itself
// returns an error only when the transport failed, e.g. on a timeout or when
// chronyd is not running.
func (c *Client) Exchange(ctx context.Context, reqs ...Request) error {
	var q queue
	for _, r := range reqs {
		q.add(r.exchange())
	}
	return c.run(ctx, &q)
}

// do exchanges a single call and returns its value.
func do[T any](ctx context.Context, c *Client, call *Call[T]) (T, error) {
	if err := c.Exchange(ctx, call); err != nil && call.Err == nil {
		call.Err = err
	}
	return call.Value, call.Err
}

// run carries the queued exchanges, and those their continuations add,
// through a window of requests in flight. Replies are matched on sequence
// and command as chronyc does (§9.1); anything else that arrives is ignored.
// It returns the transport's error, which every unfinished exchange gets.
func (c *Client) run(ctx context.Context, q *queue) (err error) {
	c.mu.Lock()
	defer c.mu.Unlock()

	// A cancelled context must wake a blocked read or write at once; the
	// loop re-checks ctx after every deadline it sets, so this cannot be
	// overwritten unseen.
	stop := context.AfterFunc(ctx, func() { c.conn.SetDeadline(time.Now()) })
	defer func() {
		stop()
		c.conn.SetDeadline(time.Time{})
	}()
	ctxDeadline, hasDeadline := ctx.Deadline()
	if hasDeadline {
		c.conn.SetWriteDeadline(ctxDeadline)
	}

	inflight := make(map[uint32]*exchange, c.window)
	finish := func(x *exchange, e error) {
		*x.err = e
		if x.then != nil {
			x.then(q)
		}
	}
	defer func() {
		if err == nil {
			return
		}
		// Fail everything still waiting, including what continuations add.
		for len(inflight) > 0 || len(q.waiting) > 0 {
			for seq, x := range inflight {
				delete(inflight, seq)
				finish(x, err)
			}
			waiting := q.waiting
			q.waiting = nil
			for _, x := range waiting {
				finish(x, err)
			}
		}
	}()

	for len(inflight) > 0 || len(q.waiting) > 0 {
		if e := ctx.Err(); e != nil {
			return c.contextError(e)
		}
		now := time.Now()
		if hasDeadline && !now.Before(ctxDeadline) {
			return c.contextError(context.DeadlineExceeded)
		}
		for len(inflight) < c.window && len(q.waiting) > 0 {
			x := q.waiting[0]
			q.waiting = q.waiting[1:]
			x.attempt = 0
			if err := c.send(ctx, x, inflight); err != nil {
				return err
			}
		}
		next := time.Time{}
		for _, x := range inflight {
			if next.IsZero() || x.deadline.Before(next) {
				next = x.deadline
			}
		}
		readDeadline := next
		if hasDeadline && ctxDeadline.Before(readDeadline) {
			readDeadline = ctxDeadline
		}
		c.conn.SetReadDeadline(readDeadline)
		if e := ctx.Err(); e != nil {
			return c.contextError(e)
		}
		n, rerr := c.conn.Read(c.buf)
		if rerr != nil && !isTimeout(rerr) {
			return c.transportError(rerr)
		}
		if rerr == nil {
			c.receive(c.buf[:n], inflight, finish)
		}
		// Checked after every read, not only on a timeout, so that a stream
		// of stray datagrams cannot hold back a retransmission.
		if now = time.Now(); !now.Before(next) {
			for seq, x := range inflight {
				if now.Before(x.deadline) {
					continue
				}
				delete(inflight, seq)
				x.attempt++
				if err := c.send(ctx, x, inflight); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// retryWait is how long transmission number attempt (0 for the first)
// waits for its reply before it is sent again.
func (c *Client) retryWait(attempt int, now time.Time) time.Duration {
	base := max(c.retryInterval, 4*c.srtt)
	if attempt == 0 || (!c.lastReplyAt.IsZero() && now.Sub(c.lastReplyAt) < liveWindow) {
		return base
	}
	wait := base << attempt
	if wait > maxRetryInterval || wait <= 0 {
		wait = max(base, maxRetryInterval)
	}
	return wait
}

// observeReply takes the round trip of a transmission that was answered.
func (c *Client) observeReply(x *exchange, now time.Time) {
	sample := now.Sub(x.sentAt)
	if c.srtt == 0 {
		c.srtt = sample
	} else {
		c.srtt += (sample - c.srtt) / 8 // RFC 6298's gain
	}
	c.lastReplyAt = now
}

// receive matches a datagram to the exchange waiting for it, on sequence
// and command as chronyc does (§9.1), and finishes that exchange. Stray,
// duplicated and late datagrams, and replies to an earlier attempt, match
// nothing and are dropped.
func (c *Client) receive(p []byte, inflight map[uint32]*exchange, finish func(*exchange, error)) {
	h, ok := parseReplyHeader(p)
	if !ok {
		return
	}
	x, ok := inflight[h.sequence]
	if !ok || h.command != x.command() {
		return
	}
	c.observeReply(x, time.Now())
	if done, err := x.handle(h, p); done {
		delete(inflight, h.sequence)
		finish(x, err)
	}
}

// handle takes a reply whose sequence and command match x. It reports
// whether x is finished, and with which error; a truncated reply does not
// finish it, so the retransmission can still bring a whole one, as chronyc
// counts it a failed attempt (§9.1).
func (x *exchange) handle(h replyHeader, p []byte) (done bool, err error) {
	if h.status != StatusSuccess {
		return true, &StatusError{Report: x.report, Status: h.status}
	}
	if !acceptsCode(x.codes, h.reply) {
		// E.g. SUCCESS with RPY_NULL from a chronyd that could not build
		// the report (§8.2.1, master after 4.8).
		return true, fmt.Errorf("%s: %w: reply code %d", x.report, ErrBadReply, h.reply)
	}
	n := replyLen[h.reply]
	if len(p) < n {
		return false, nil
	}
	return true, x.decode(h.reply, p[:n])
}

func acceptsCode(codes []uint16, code uint16) bool {
	for _, c := range codes {
		if c == code {
			return true
		}
	}
	return false
}

// send transmits x with a fresh random sequence, as chronyc does for every
// transmission (§9.1), so a late reply to an earlier attempt never matches.
func (c *Client) send(ctx context.Context, x *exchange, inflight map[uint32]*exchange) error {
	seq := rand.Uint32()
	for inflight[seq] != nil {
		seq = rand.Uint32()
	}
	x.seq = seq
	stampRequest(x.packet, x.attempt, seq)
	inflight[seq] = x
	c.sent.Add(1)
	if _, err := c.conn.Write(x.packet); err != nil {
		if isTimeout(err) {
			// Only the context sets a write deadline.
			if e := ctx.Err(); e != nil {
				return c.contextError(e)
			}
			return c.contextError(context.DeadlineExceeded)
		}
		return c.transportError(err)
	}
	// Stamped once written, as a write to a full Unix socket queue waits:
	// the round trip, and the wait for a reply, start when the request
	// leaves. Only this goroutine reads, so no reply can come before.
	x.sentAt = time.Now()
	x.deadline = x.sentAt.Add(c.retryWait(x.attempt, x.sentAt))
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *Client) contextError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w at %s: %w", ErrTimeout, c.Address(), err)
	}
	return fmt.Errorf("request to chronyd at %s: %w", c.Address(), err)
}

func (c *Client) transportError(err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%w: unable to talk to chronyd at %s: %w", ErrNotRunning, c.Address(), err)
	}
	return fmt.Errorf("talking to chronyd at %s: %w", c.Address(), err)
}
