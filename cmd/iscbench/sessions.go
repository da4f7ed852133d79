package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/iscsdk/iscsdk/sdk"
)

// Idle sessions are opened by child processes of this many each (every SDK
// client has an OS thread for its callbacks; a process may have 10,000).
const sessionsPerChild = 1000

// heartbeatEvery is iscd's default heartbeat interval, which the idle
// clients follow; the CPU window is a whole number of them.
const heartbeatEvery = 15 * time.Second

// benchSessions connects N idle SDK sessions to a fresh iscd and reads its
// memory growth and CPU time; then the same for a bare WebSocket echo
// server with N connections that send a message per heartbeat interval.
func benchSessions(ctx context.Context, e *env, r *report) error {
	// The bare server's cost is per message: with -quick it gets fewer
	// connections and a shorter interval, and its CPU is scaled to one
	// message per heartbeatEvery.
	n, window := 10000, 2*heartbeatEvery
	bareN, bareEvery := n, heartbeatEvery
	if e.opt.quick {
		n, window = 5000, heartbeatEvery
		bareN, bareEvery = 1000, 5*time.Second
	}
	// Thousands of sessions share the demo user's token: the service's
	// connection caps per token and organisation are lifted for them.
	s, err := e.startISCD("sessions", noConnCaps...)
	if err != nil {
		return err
	}
	defer s.Stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	spawn := func(i, count int) *exec.Cmd {
		cmd := exec.CommandContext(ctx, self, "sessions", strconv.Itoa(count), filepath.Join(e.opt.tmp, fmt.Sprintf("sessions-ws-%d", i)))
		cmd.Env = os.Environ()
		for k, v := range s.Env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		return cmd
	}
	isc, err := measureIdle(ctx, e, s.Pid, n, window, spawn)
	if err != nil {
		return fmt.Errorf("iscd: %w", err)
	}
	s.Stop()

	// The baseline: a bare WebSocket echo server, one goroutine a connection.
	srv := exec.CommandContext(ctx, self, "ws-idle")
	srv.Stderr = e.log
	srvIn, err := srv.StdinPipe()
	if err != nil {
		return err
	}
	srvOut, err := srv.StdoutPipe()
	if err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { srvIn.Close(); srv.Wait() }()
	addr, err := bufio.NewReader(srvOut).ReadString('\n')
	if err != nil {
		return fmt.Errorf("ws-idle: %w", err)
	}
	addr = strings.TrimSpace(addr)
	bare, err := measureIdle(ctx, e, srv.Process.Pid, bareN, max(window/heartbeatEvery, 1)*bareEvery, func(i, count int) *exec.Cmd {
		return exec.CommandContext(ctx, self, "ws-clients", addr, strconv.Itoa(count), bareEvery.String())
	})
	if err != nil {
		return fmt.Errorf("bare WebSocket server: %w", err)
	}
	bare.cpuPer1000 *= float64(bareEvery) / float64(heartbeatEvery)
	r.add("idle_session_rss_kib", isc.rssPerConn, "KiB",
		fmt.Sprintf("iscd RSS growth / idle SDK sessions connected (%d); baseline: a bare gorilla/websocket echo server, one goroutine and default buffers a connection", n),
		fmt.Sprintf("iscd %.0f -> %.0f MiB; bare server %.1f KiB a connection (%d connections)", isc.rss0/1024, isc.rss1/1024, bare.rssPerConn, bareN))
	r.add("idle_session_cpu_pct", isc.cpuPer1000, "%",
		fmt.Sprintf("iscd CPU (user+system, %% of one core) per 1,000 idle sessions over %v (heartbeat every %v); baseline: the bare server, one message a connection per heartbeat", window, heartbeatEvery),
		fmt.Sprintf("iscd %.2fs CPU for %d sessions in %v; bare server %.3f %% (%d connections, a message every %v, scaled to %v)",
			isc.cpu.Seconds(), n, window, bare.cpuPer1000, bareN, bareEvery, heartbeatEvery))
	return nil
}

type idleResult struct {
	connect    time.Duration
	rss0, rss1 float64 // KiB before and after connecting
	rssPerConn float64 // KiB
	cpu        time.Duration
	cpuPer1000 float64 // % of one core per 1,000 connections
}

// measureIdle starts children (spawn(i, count)) holding n connections to
// the server process pid, and reads the server's RSS growth and CPU time
// over window. Each child prints "ready" when its connections are up and
// ends when its standard input closes.
func measureIdle(ctx context.Context, e *env, pid, n int, window time.Duration, spawn func(i, count int) *exec.Cmd) (idleResult, error) {
	var res idleResult
	rss0, err := rssKiB(pid)
	if err != nil {
		return res, err
	}
	t := time.Now()
	var kids []*exec.Cmd
	var stdins []io.Closer
	defer func() {
		for _, in := range stdins {
			in.Close()
		}
		for _, k := range kids {
			k.Wait()
		}
	}()
	ready := make(chan error, n/sessionsPerChild+1)
	for i := 0; i*sessionsPerChild < n; i++ {
		cmd := spawn(i, min(sessionsPerChild, n-i*sessionsPerChild))
		cmd.Stderr = e.log
		in, err := cmd.StdinPipe()
		if err != nil {
			return res, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return res, err
		}
		if err := cmd.Start(); err != nil {
			return res, err
		}
		kids, stdins = append(kids, cmd), append(stdins, in)
		go func() {
			line, err := bufio.NewReader(out).ReadString('\n')
			if err == nil && !strings.HasPrefix(line, "ready") {
				err = fmt.Errorf("child said %q", line)
			}
			ready <- err
			io.Copy(io.Discard, out)
		}()
	}
	for range kids {
		select {
		case err := <-ready:
			if err != nil {
				return res, fmt.Errorf("connecting: %w", err)
			}
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.connect = time.Since(t)
	fmt.Fprintf(e.log, "   %d connected in %.1fs; measuring for %v\n", n, res.connect.Seconds(), window)
	// Let the connection burst's garbage go before reading memory.
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return res, err
	}
	rss1, err := rssKiB(pid)
	if err != nil {
		return res, err
	}
	cpu0, err := cpuTime(pid)
	if err != nil {
		return res, err
	}
	if err := sleepCtx(ctx, window); err != nil {
		return res, err
	}
	cpu1, err := cpuTime(pid)
	if err != nil {
		return res, err
	}
	res.rss0, res.rss1 = float64(rss0), float64(rss1)
	res.rssPerConn = float64(rss1-rss0) / float64(n)
	res.cpu = cpu1 - cpu0
	res.cpuPer1000 = 100 * res.cpu.Seconds() / window.Seconds() / (float64(n) / 1000)
	return res, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// helperSessions is `iscbench sessions COUNT WORKSPACE`: open COUNT SDK
// sessions with the environment's ISCSDK_* settings, print "ready", and
// keep them until standard input closes.
func helperSessions(args []string) error {
	if len(args) != 2 {
		return errors.New("usage: sessions COUNT WORKSPACE")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil {
		return err
	}
	ctx := context.Background()
	clients := make([]*sdk.Client, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	slots := make(chan struct{}, 8)
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-slots; wg.Done() }()
			c, err := sdk.Init(ctx, sdk.Config{AppVersion: "iscbench-idle", WorkspaceDir: args[1], LogLevel: "off",
				CredentialsFile: filepath.Join(args[1], "no-credentials"), ConnectTimeout: time.Minute})
			mu.Lock()
			defer mu.Unlock()
			if err != nil && first == nil {
				first = err
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return nil // exit without ShutOut: iscd is stopped next anyway
}

// helperWSIdle is `iscbench ws-idle`: a bare WebSocket echo server on a
// loopback port (printed), until standard input closes.
func helperWSIdle([]string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	up := websocket.Upgrader{}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer ws.Close()
		for {
			kind, msg, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if err := ws.WriteMessage(kind, msg); err != nil {
				return
			}
		}
	}))
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// helperWSClients is `iscbench ws-clients ADDR COUNT INTERVAL`: COUNT
// WebSocket connections to ADDR, each sending a heartbeat-sized message
// every INTERVAL (from a random start) and reading the echo; "ready" once
// all are connected, until standard input closes.
func helperWSClients(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: ws-clients ADDR COUNT INTERVAL")
	}
	n, err := strconv.Atoi(args[1])
	if err != nil {
		return err
	}
	every, err := time.ParseDuration(args[2])
	if err != nil {
		return err
	}
	msg, _ := json.Marshal(map[string]any{"type": "request", "id": 12345, "op": "ping", "body": map[string]string{"clientTime": time.Now().Format(time.RFC3339Nano)}})
	for range n {
		ws, _, err := websocket.DefaultDialer.Dial("ws://"+args[0]+"/", nil)
		if err != nil {
			return err
		}
		go func() {
			time.Sleep(rand.N(every))
			t := time.NewTicker(every)
			for range t.C {
				if ws.WriteMessage(websocket.TextMessage, msg) != nil {
					return
				}
				if _, _, err := ws.ReadMessage(); err != nil {
					return
				}
			}
		}()
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return nil
}
