package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// FreeTCPAddr returns 127.0.0.1:port for a port that is free right now.
// Another process may take it before the caller listens on it, so a
// server started on it may still find it in use.
func FreeTCPAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// Response is one HTTP answer, read in full, or the error that stopped it.
type Response struct {
	Status int
	Header http.Header
	Body   string
	// Took is the time from sending the request to the end of the body.
	Took time.Duration
	Err  error
}

// Get fetches url with client (http.DefaultClient when nil), adding
// header, and reads the whole body. It never fails a test, so that
// goroutines may call it; the answer's Err says what went wrong.
func Get(ctx context.Context, client *http.Client, url string, header http.Header) Response {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Response{Err: err}
	}
	for k, v := range header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Response{Err: err, Took: time.Since(start)}
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: string(body), Took: time.Since(start), Err: err}
}

// OK returns the body of a 200 answer, and an error naming the status and
// the start of the body for any other answer.
func (r Response) OK() (string, error) {
	if r.Err != nil {
		return "", r.Err
	}
	if r.Status != http.StatusOK {
		return r.Body, fmt.Errorf("HTTP %d: %.500s", r.Status, r.Body)
	}
	return r.Body, nil
}
