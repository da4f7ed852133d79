package main

import (
	"bufio"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/sdk"
)

//go:embed cabi/bench.c
var benchC []byte

// benchCABI measures the C ABI from a C program linked to the real
// library: licence round trips, pushed events, calls that stay local.
func benchCABI(ctx context.Context, e *env, r *report) error {
	rtts, notices, calls := 1000, 500, 1000000
	if e.opt.quick {
		rtts, notices, calls = 200, 100, 200000
	}
	dir := filepath.Join(e.opt.tmp, "cabi")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	src, prog := filepath.Join(dir, "bench.c"), filepath.Join(dir, "bench")
	if err := os.WriteFile(src, benchC, 0o644); err != nil {
		return err
	}
	lib := filepath.Join(e.opt.build, "lib")
	if out, err := exec.CommandContext(ctx, "gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-I"+e.opt.include,
		src, "-o", prog, "-pthread", "-L"+lib, "-liscsdk", "-Wl,-rpath,"+lib).CombinedOutput(); err != nil {
		return fmt.Errorf("compile bench.c: %v\n%s", err, out)
	}
	s, err := e.startISCD("cabi")
	if err != nil {
		return err
	}

	cmd := exec.CommandContext(ctx, prog, strconv.Itoa(rtts), strconv.Itoa(calls))
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"XDG_CACHE_HOME=" + filepath.Join(dir, "cache"),
		"ISCSDK_CREDENTIALS=" + filepath.Join(dir, "no-credentials"),
		"ISCSDK_LOG=warn",
		"ISCSDK_NO_BROWSER=1",
	}
	for k, v := range s.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = e.log
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	lines := make(chan [2]string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			k, v, _ := strings.Cut(sc.Text(), " ")
			lines <- [2]string{k, v}
		}
	}()
	samples := map[string][]float64{}
	next := func(timeout time.Duration) ([2]string, error) {
		select {
		case l, ok := <-lines:
			if !ok {
				return l, errors.New("the C program ended early")
			}
			v, err := strconv.ParseFloat(l[1], 64)
			if err != nil {
				return l, fmt.Errorf("the C program said %q", l)
			}
			samples[l[0]] = append(samples[l[0]], v)
			return l, nil
		case <-time.After(timeout):
			return [2]string{}, errors.New("the C program said nothing for " + timeout.String())
		case <-ctx.Done():
			return [2]string{}, ctx.Err()
		}
	}
	for {
		l, err := next(2 * time.Minute)
		if err != nil {
			return err
		}
		if l[0] == "ready" {
			break
		}
	}
	// Push notices to the C program's session, one at a time.
	admin := s.admin()
	sid, err := sessionOf(ctx, admin, "iscbench-c")
	if err != nil {
		return err
	}
	for range notices {
		t := time.Now().UnixNano()
		var sent adminapi.NoticeSent
		if err := admin.Do(ctx, http.MethodPost, "/notices", adminapi.Notice{SessionID: sid, Title: "bench", Text: "t=" + strconv.FormatInt(t, 10)}, &sent); err != nil {
			return err
		}
		if _, err := next(30 * time.Second); err != nil {
			return err
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("the C program: %w", err)
	}

	// Baselines from Go, in this process, against the same iscd.
	goPoll, goVerify, err := goBaselines(ctx, e, s)
	if err != nil {
		return err
	}
	tcp, err := tcpPingPong(ctx, 2000)
	if err != nil {
		return err
	}
	tcpP50, tcpP99 := pct(tcp, 50)/1e6, pct(tcp, 99)/1e6
	rtt, ev := samples["rtt_ns"], samples["event_ns"]
	r.add("license_rtt_p50_ms", pct(rtt, 50)/1e6, "ms",
		"GetLicenseStringRequest -> LicenseVerify event in the C callback, median; baseline: loopback TCP ping-pong (Go)",
		fmt.Sprintf("%d requests; p90 %.3f ms; TCP round trip p50 %.3f ms", len(rtt), pct(rtt, 90)/1e6, tcpP50))
	r.add("license_rtt_p99_ms", pct(rtt, 99)/1e6, "ms", "the same, 99th percentile; baseline: loopback TCP ping-pong p99",
		fmt.Sprintf("max %.3f ms; TCP round trip p99 %.3f ms", slices.Max(rtt)/1e6, tcpP99))
	r.add("event_latency_p99_ms", pct(ev, 99)/1e6, "ms",
		"admin notice POSTed -> Notice event in the C callback, 99th percentile; baseline: half a loopback TCP ping-pong",
		fmt.Sprintf("%d notices; p50 %.3f ms; half a TCP round trip: p50 %.3f ms, p99 %.3f ms", len(ev), pct(ev, 50)/1e6, tcpP50/2, tcpP99/2))
	crossing, cCall, verify := slices.Min(samples["crossing_ns"]), slices.Min(samples["c_call_ns"]), slices.Min(samples["verify_ns"])
	r.add("cabi_call_ns", crossing, "ns",
		"iscsdk_poll_event(c, 0) on an empty queue from C (into Go and back, an error made), best of 3; baselines: the same sdk.PollEvent from Go, and iscsdk_version_number (stays in C)",
		fmt.Sprintf("Go sdk.PollEvent %.0f ns; iscsdk_version_number %.2f ns", goPoll, cCall))
	r.add("cabi_verify_ns", verify, "ns",
		"iscsdk_license_verify of a real licence from C, best of 3; baseline: sdk.VerifyLicense from Go",
		fmt.Sprintf("Go %.0f ns (C/Go %.2f)", goVerify, verify/goVerify))
	return nil
}

// sessionOf finds the connected session of the program with appVersion.
func sessionOf(ctx context.Context, admin *adminapi.Client, appVersion string) (string, error) {
	var list []adminapi.Session
	if err := admin.Do(ctx, http.MethodGet, "/sessions", nil, &list); err != nil {
		return "", err
	}
	for _, s := range list {
		if s.Connected && s.AppVersion == appVersion {
			return s.ID, nil
		}
	}
	return "", fmt.Errorf("no connected session of %s", appVersion)
}

// goBaselines times, from Go, sdk.PollEvent on an empty queue and
// sdk.VerifyLicense of a licence string from s: ns per call, best of 3.
func goBaselines(ctx context.Context, e *env, s *iscd) (poll, verify float64, err error) {
	c, err := e.client(ctx, s, "cabi-go")
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	id, err := sdk.NewDesk(c).GetLicenseStringRequest("", nil)
	if err != nil {
		return 0, 0, err
	}
	var lic string
	for lic == "" {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		ev, err := c.PollEvent(wctx)
		cancel()
		if err != nil {
			return 0, 0, err
		}
		if ev.Type == sdk.EventLicenseVerify && ev.RequestID == id {
			if lic = ev.Params["LicenseContent"]; lic == "" {
				return 0, 0, fmt.Errorf("no licence: %v", ev.Params)
			}
		}
	}
	expired, cancel := context.WithCancel(ctx)
	cancel()
	poll, verify = 1e18, 1e18
	for range 3 {
		const n = 200000
		t := time.Now()
		for range n {
			c.PollEvent(expired)
		}
		poll = min(poll, float64(time.Since(t).Nanoseconds())/n)
		const m = 200
		t = time.Now()
		for range m {
			res, err := sdk.VerifyLicense(lic, s.Env["ISCSDK_LICENSE_PUBLIC_KEY"], "")
			if err != nil || !res.Valid {
				return 0, 0, fmt.Errorf("verify: %v %+v", err, res)
			}
		}
		verify = min(verify, float64(time.Since(t).Nanoseconds())/m)
	}
	return poll, verify, nil
}

// tcpPingPong sends 64-byte messages back and forth over loopback TCP
// and returns each round trip in ns.
func tcpPingPong(ctx context.Context, n int) ([]float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		io.CopyBuffer(onlyWriter{conn}, onlyReader{conn}, make([]byte, 4096)) // echo
	}()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	msg, buf := make([]byte, 64), make([]byte, 64)
	out := make([]float64, 0, n)
	for range n {
		t := time.Now()
		if _, err := conn.Write(msg); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(conn, buf); err != nil {
			return nil, err
		}
		out = append(out, float64(time.Since(t).Nanoseconds()))
	}
	return out, nil
}

// pct is the p-th percentile of xs (nearest rank).
func pct(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
