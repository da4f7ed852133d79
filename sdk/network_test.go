package sdk_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/server"
	"github.com/iscsdk/iscsdk/internal/server/servertest"
	"github.com/iscsdk/iscsdk/sdk"
)

// connectProxy is an HTTP CONNECT proxy on loopback that sends every
// tunnel to target, whatever host the client asked for, and counts them.
type connectProxy struct {
	target  string
	tunnels atomic.Int32
	asked   atomic.Value // the last CONNECT host
}

func (p *connectProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
		return
	}
	p.asked.Store(r.Host)
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.tunnels.Add(1)
	conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
	go func() { io.Copy(up, buf); up.Close() }()
	io.Copy(conn, up)
	conn.Close()
}

func TestHonoursHTTPProxyAndNoProxy(t *testing.T) {
	svc := servertest.Start(t)
	_, port, _ := net.SplitHostPort(svc.Addr)
	p := &connectProxy{target: svc.Addr}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: p}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	// A name only the proxy can reach: the client must not resolve it.
	cfg := config(t, svc)
	cfg.Endpoint = "ws://iscd.corp.invalid:" + port + "/v1/session"
	cfg.AllowInsecure = true // the test's network is this machine
	t.Setenv("HTTP_PROXY", "http://"+ln.Addr().String())
	t.Setenv("http_proxy", "")
	t.Setenv("NO_PROXY", "")
	t.Setenv("no_proxy", "")
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Init through the proxy: %v", err)
	}
	c.Close()
	if p.tunnels.Load() != 1 || p.asked.Load() != "iscd.corp.invalid:"+port {
		t.Fatalf("tunnels %d, asked %v", p.tunnels.Load(), p.asked.Load())
	}

	// NO_PROXY exempts the host: the client then resolves it itself and fails.
	t.Setenv("NO_PROXY", "corp.invalid")
	cfg.ConnectTimeout = 2 * time.Second
	if _, err := sdk.Init(context.Background(), cfg); !errors.Is(err, sdk.ErrUnreachable) {
		t.Fatalf("with NO_PROXY: %v", err)
	}
	if p.tunnels.Load() != 1 {
		t.Fatal("NO_PROXY host went through the proxy")
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key to dir.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "iscd test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

func TestWSSWithCAFile(t *testing.T) {
	cert, key := selfSigned(t, t.TempDir())
	svc := servertest.StartConfig(t, server.Config{TLSCert: cert, TLSKey: key})
	cfg := config(t, svc)
	if !strings.HasPrefix(cfg.Endpoint, "wss://") {
		t.Fatalf("dev.env endpoint %s is not wss://", cfg.Endpoint)
	}
	// Not trusted by the system roots: refused.
	if _, err := sdk.Init(context.Background(), cfg); !errors.Is(err, sdk.ErrUnreachable) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted certificate: %v", err)
	}
	cfg.CAFile = cert
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatalf("with the CA file: %v", err)
	}
	next(t, c, isState(sdk.StateConnected))
	c.Close()

	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, notPEM, "not a certificate")
	cfg.CAFile = notPEM
	if _, err := sdk.Init(context.Background(), cfg); !errors.Is(err, sdk.ErrConfig) {
		t.Fatalf("CA file without PEM: %v", err)
	}
}

func TestLogGoesToTheWorkspaceWithoutSecrets(t *testing.T) {
	svc := servertest.Start(t)
	cfg := config(t, svc)
	cfg.LogLevel = "debug"
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	b, err := os.ReadFile(filepath.Join(cfg.WorkspaceDir, "logs", "iscsdk.log"))
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if !strings.Contains(log, "connected") || !strings.Contains(log, c.SessionID()) {
		t.Fatalf("log lacks the connection:\n%s", log)
	}
	_, secret, _ := strings.Cut(strings.TrimPrefix(cfg.Token, "isk_"), "_")
	if strings.Contains(log, secret) {
		t.Fatal("the token's secret is in the log")
	}

	cfg.LogLevel = "off"
	cfg.WorkspaceDir = t.TempDir()
	if c, err = sdk.Init(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if _, err := os.Stat(filepath.Join(cfg.WorkspaceDir, "logs")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("log level off still wrote a log: %v", err)
	}
}

func TestLogFileIsCapped(t *testing.T) {
	svc := servertest.Start(t)
	cfg := config(t, svc)
	cfg.LogLevel = "debug"
	// Pre-fill the log to just under its cap: the next lines rotate it.
	path := filepath.Join(cfg.WorkspaceDir, "logs", "iscsdk.log")
	os.MkdirAll(filepath.Dir(path), 0o700)
	writeFile(t, path, strings.Repeat("x", 4<<20-10)+"\n")
	c, err := sdk.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	st, err := os.Stat(path)
	if err != nil || st.Size() >= 4<<20 {
		t.Fatalf("log not rotated: %v %v", st.Size(), err)
	}
	f, err := os.Open(path + ".1")
	if err != nil {
		t.Fatalf("no rotated log: %v", err)
	}
	defer f.Close()
	if line, _ := bufio.NewReader(f).ReadString('\n'); !strings.HasPrefix(line, "xxx") {
		t.Fatal("rotated log is not the old one")
	}
}
