package server

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A body over 1 MiB may take longer than the read timeout as long as each
// MiB comes within it; one that stops is cut off, and so is a small body
// that does not arrive within the read timeout.
func TestPacedBodies(t *testing.T) {
	const timeout = 500 * time.Millisecond
	srv := newHTTPServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "read %d: %v", n, err)
	}), Limits{ReadTimeout: timeout}, slog.New(slog.DiscardHandler))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	// post sends a body of length n in pieces of step bytes, one every
	// pause, stopping after stop bytes, and returns the answer's last line.
	post := func(n, step, stop int, pause time.Duration) (string, time.Duration) {
		start := time.Now()
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", n)
		go func() {
			for sent := 0; sent < stop; sent += step {
				if _, err := c.Write(make([]byte, min(step, stop-sent))); err != nil {
					return
				}
				time.Sleep(pause) // the sender's pace: the scenario, not synchronisation
			}
		}()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return "no answer: " + err.Error(), time.Since(start)
		}
		b, _ := io.ReadAll(resp.Body)
		return string(b), time.Since(start)
	}

	// 3 MiB at 1 MiB per 400 ms: 1.2 s in all, over twice the timeout.
	if got, took := post(3<<20, 512<<10, 3<<20, 200*time.Millisecond); got != "read 3145728: <nil>" || took < 2*timeout {
		t.Errorf("a paced 3 MiB body: %q after %v", got, took)
	}
	// 1.5 MiB of 3, then nothing: cut off about a timeout later.
	if got, took := post(3<<20, 512<<10, 3<<19, 10*time.Millisecond); !strings.Contains(got, "timeout") || took > 5*timeout {
		t.Errorf("a stalled 3 MiB body: %q after %v", got, took)
	}
	// 10 bytes of 100: cut off at the read timeout.
	if got, took := post(100, 10, 10, 0); !strings.Contains(got, "timeout") || took > 5*timeout {
		t.Errorf("a stalled small body: %q after %v", got, took)
	}
}
