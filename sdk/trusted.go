package sdk

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/iscsdk/iscsdk/internal/atomicfile"
	"github.com/iscsdk/iscsdk/internal/device"
)

// The trusted-time mark is the latest time the service's clock said (at
// each connection and heartbeat): never the local clock, which may be wrong
// in either direction. It carries an HMAC bound to this machine, so editing
// it invalidates it, and it is kept in two places: the workspace
// (<workspace>/trusted-time) and a twin per user outside it
// (trustedStateDir()/trusted-time.d/<name of the workspace>). The mark in
// force is the largest of the one in memory, the pair and every twin of
// this user, so that pointing the SDK at a new workspace does not reset it
// either. A mark that is missing or invalid where one was seen (its twin
// holds one, or this process read or wrote one) is itself a sign of
// tampering: VerifyLicense answers clock_tampered until the service's clock
// is heard again, which rewrites both.
//
// It stops a clock set back to revive an expired licence, and deleting or
// editing a file to forget the mark; it does not stop someone who can read
// this source and the machine's fingerprint, nor one who deletes both
// copies before any process of the program has read them.

var trusted struct {
	sync.Mutex
	key  []byte          // HMAC key, bound to this machine
	mark time.Time       // the newest mark read or written by this process
	seen map[string]bool // workspaces whose mark this process read or wrote
	// The newest twin, as of the twins' directory's modification time:
	// the directory is read again only when a twin was written or
	// removed (each is written by a rename into it).
	twinsDir              string
	twinsMod, twinsNewest time.Time
}

// trustedMarkSlack: the mark is rewritten only when it moves by more.
const trustedMarkSlack = time.Minute

// Mark formats: v2 is written as a pair (workspace and twin); a v1 mark,
// written by earlier versions in the workspace alone, is read without
// expecting a twin, and the next mark written replaces it with a pair.
const (
	trustedV1Key = "iscsdk trusted time v1\x00"
	trustedV2Key = "iscsdk trusted time v2\x00"
)

var (
	errMarkMissing = errors.New("no mark")
	errMarkInvalid = errors.New("the mark was edited or is not this machine's")
)

func trustedTimePath() string { return filepath.Join(DefaultWorkspaceDir(), "trusted-time") }

// trustedStateDir is the per-user directory of the twins, outside every
// workspace: $XDG_STATE_HOME/iscsdk (default ~/.local/state/iscsdk) on
// Linux and other Unix systems, the roaming application data
// (%APPDATA%\iscsdk) on Windows, where the workspace is in the local one.
// It returns "" when the system names no such directory.
func trustedStateDir() string {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return ""
		}
		return filepath.Join(dir, "iscsdk")
	}
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "iscsdk")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "state", "iscsdk")
}

// trustedTwinDir holds one twin per workspace (and per machine, since a
// roaming profile may carry other machines' twins, which are ignored).
func trustedTwinDir() string {
	if dir := trustedStateDir(); dir != "" {
		return filepath.Join(dir, "trusted-time.d")
	}
	return ""
}

// trustedTwinPath names the twin of the workspace's mark: a digest of the
// workspace's absolute path under this machine's key.
func trustedTwinPath(workspace string) string {
	dir := trustedTwinDir()
	if dir == "" {
		return ""
	}
	if abs, err := filepath.Abs(workspace); err == nil {
		workspace = abs
	}
	return filepath.Join(dir, hmacHex(trustedKey(), "twin\x00"+workspace)[:32])
}

// trustedKey is computed once: the fingerprint reads sysfs.
func trustedKey() []byte {
	if trusted.key == nil {
		trusted.key = []byte(device.Info())
	}
	return trusted.key
}

func hmacHex(key []byte, msg string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}

// markText is the content of a v2 mark.
func markText(t time.Time) []byte {
	unix := strconv.FormatInt(t.Unix(), 10)
	return []byte("2 " + unix + " " + hmacHex(append([]byte(trustedV2Key), trustedKey()...), unix) + "\n")
}

// readMark reads one mark file: its time and whether it expects a twin
// (v2), or errMarkMissing, or errMarkInvalid.
func readMark(path string) (t time.Time, paired bool, err error) {
	if path == "" {
		return time.Time{}, false, errMarkMissing
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return time.Time{}, false, errMarkMissing
	}
	if err != nil || len(b) > 256 {
		return time.Time{}, false, errMarkInvalid
	}
	fields := strings.Fields(string(b))
	key := trustedV1Key
	if len(fields) == 3 && fields[0] == "2" {
		key, paired, fields = trustedV2Key, true, fields[1:]
	}
	if len(fields) != 2 || !hmac.Equal([]byte(fields[1]), []byte(hmacHex(append([]byte(key), trustedKey()...), fields[0]))) {
		return time.Time{}, false, errMarkInvalid
	}
	sec, err := strconv.ParseInt(fields[0], 10, 64)
	if err != nil {
		return time.Time{}, false, errMarkInvalid
	}
	return time.Unix(sec, 0), paired, nil
}

// trustedTime returns the mark in force (the zero time when there is none)
// and, when a copy is missing or invalid where one was seen, why that is
// taken for tampering.
func trustedTime() (time.Time, error) {
	trusted.Lock()
	defer trusted.Unlock()
	mark, _, tamper := readTrustedTime()
	return mark, tamper
}

// readTrustedTime is trustedTime, also saying whether both copies of the
// workspace's mark are there.
func readTrustedTime() (mark time.Time, paired bool, tamper error) {
	ws := DefaultWorkspaceDir()
	wsMark, wsPaired, wsErr := readMark(filepath.Join(ws, "trusted-time"))
	twMark, _, twErr := readMark(trustedTwinPath(ws))
	mark = trusted.mark
	for _, t := range []time.Time{wsMark, twMark, newestTwin()} {
		if t.After(mark) {
			mark = t
		}
	}
	trusted.mark = mark
	switch {
	case errors.Is(wsErr, errMarkInvalid):
		tamper = errors.New("the trusted-time mark in the workspace was edited")
	case errors.Is(twErr, errMarkInvalid):
		tamper = errors.New("the per-user copy of the trusted-time mark was edited")
	case wsErr != nil && twErr == nil:
		tamper = errors.New("the trusted-time mark in the workspace was deleted")
	case wsErr == nil && wsPaired && twErr != nil && trustedTwinDir() != "":
		tamper = errors.New("the per-user copy of the trusted-time mark was deleted")
	case wsErr != nil && trusted.seen[ws]:
		tamper = errors.New("the trusted-time mark was deleted while the program ran")
	}
	if tamper == nil && wsErr == nil {
		if trusted.seen == nil {
			trusted.seen = map[string]bool{}
		}
		trusted.seen[ws] = true
	}
	paired = wsErr == nil && (trustedTwinDir() == "" || wsPaired && twErr == nil)
	return mark, paired, tamper
}

// newestTwin is the newest valid mark among this user's twins (of every
// workspace of this machine).
func newestTwin() time.Time {
	var newest time.Time
	dir := trustedTwinDir()
	if dir == "" {
		return newest
	}
	st, err := os.Stat(dir)
	if err != nil {
		return newest
	}
	if dir == trusted.twinsDir && st.ModTime().Equal(trusted.twinsMod) {
		return trusted.twinsNewest
	}
	defer func() { trusted.twinsDir, trusted.twinsMod, trusted.twinsNewest = dir, st.ModTime(), newest }()
	entries, _ := os.ReadDir(dir)
	if len(entries) > 1024 { // bounded: a directory filled by someone else
		entries = entries[:1024]
	}
	for _, e := range entries {
		if t, _, err := readMark(filepath.Join(dir, e.Name())); err == nil && t.After(newest) {
			newest = t
		}
	}
	return newest
}

// recordTrustedTime raises the mark to t, a time the service's clock said,
// and writes it to both places. A pair found missing or invalid is
// rewritten whatever t is: the service's clock is trusted again.
func recordTrustedTime(log *slog.Logger, t time.Time) {
	trusted.Lock()
	defer trusted.Unlock()
	mark, paired, _ := readTrustedTime()
	ws := DefaultWorkspaceDir()
	if paired && t.Before(mark.Add(trustedMarkSlack)) {
		return
	}
	if t.Before(mark) {
		t = mark
	}
	text := markText(t)
	if twin := trustedTwinPath(ws); twin != "" {
		if err := atomicfile.Write(twin, text, 0o600); err != nil {
			log.Warn("record trusted time", "err", err)
		}
	}
	if err := atomicfile.Write(filepath.Join(ws, "trusted-time"), text, 0o600); err != nil {
		log.Warn("record trusted time", "err", err)
		return
	}
	if trusted.seen == nil {
		trusted.seen = map[string]bool{}
	}
	trusted.seen[ws] = true
	trusted.mark = t
}
