package envelope

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"unicode"
)

// kekPrefix starts a KEK's text form: "ISKEK1.<id>.<base64url(32 bytes)>".
const kekPrefix = "ISKEK1"

// maxKeyringLen bounds a keyring's text (a file or $ISCD_KEK).
const maxKeyringLen = 64 << 10

var kekIDPattern = regexp.MustCompile(`^[0-9a-f]{1,32}$`)

// Keyring is a Wrapper that holds its KEKs itself, from a file (iscd serve
// --kek-file) or an environment variable ($ISCD_KEK): one KEK per line (or
// separated by commas or white space), the first the current one, the
// others older ones that still unwrap. Lines starting with # are comments.
//
// A keyring read from a file reads it again when it meets a KEK id it does
// not hold: a replica whose peer re-wrapped keys under a KEK added to the
// file after it started keeps working.
type Keyring struct {
	path string // "" : not from a file

	mu   sync.RWMutex
	keys []kek // keys[0] is current
}

type kek struct {
	id  string
	key []byte
}

// GenerateKEK returns a new KEK's text form, with a random 8-digit hex id.
func GenerateKEK() (string, error) {
	id := make([]byte, 4)
	key := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	return kekPrefix + "." + hex.EncodeToString(id) + "." + b64.EncodeToString(key), nil
}

// ParseKeyring reads KEKs from text (the form of a KEK file).
func ParseKeyring(text string) (*Keyring, error) {
	keys, err := parseKEKs(text)
	if err != nil {
		return nil, err
	}
	return &Keyring{keys: keys}, nil
}

// LoadKeyring reads a KEK file. It must not be readable by other users.
func LoadKeyring(path string) (*Keyring, error) {
	keys, err := readKEKFile(path)
	if err != nil {
		return nil, err
	}
	return &Keyring{path: path, keys: keys}, nil
}

// readKEKFile reads and checks a KEK file.
func readKEKFile(path string) ([]kek, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("KEK file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("KEK file: %w", err)
	} else if runtime.GOOS != "windows" && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("KEK file %s: mode %v lets other users read it: chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyringLen+1))
	if err != nil {
		return nil, fmt.Errorf("KEK file: %w", err)
	}
	keys, err := parseKEKs(string(b))
	if err != nil {
		return nil, fmt.Errorf("KEK file %s: %w", path, err)
	}
	return keys, nil
}

func parseKEKs(text string) ([]kek, error) {
	if len(text) > maxKeyringLen {
		return nil, fmt.Errorf("envelope: a keyring of more than %d bytes", maxKeyringLen)
	}
	var keys []kek
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, f := range strings.FieldsFunc(line, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
			k, err := parseKEK(f)
			if err != nil {
				return nil, fmt.Errorf("KEK %d: %w", len(keys)+1, err)
			}
			for _, prev := range keys {
				if prev.id == k.id {
					return nil, fmt.Errorf("KEK %d: id %s given twice", len(keys)+1, k.id)
				}
			}
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, errors.New("envelope: no KEK in the keyring")
	}
	return keys, nil
}

func parseKEK(s string) (kek, error) {
	f := strings.Split(s, ".")
	if len(f) != 3 || f[0] != kekPrefix || !kekIDPattern.MatchString(f[1]) {
		return kek{}, fmt.Errorf("want %s.<id>.<base64url key>", kekPrefix)
	}
	key, err := b64.DecodeString(f[2])
	if err != nil || len(key) != 32 {
		return kek{}, errors.New("the key is not 32 bytes of unpadded base64url")
	}
	return kek{f[1], key}, nil
}

// IDs lists the keyring's KEK ids, the current one first.
func (k *Keyring) IDs() []string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	ids := make([]string, len(k.keys))
	for i, kk := range k.keys {
		ids[i] = kk.id
	}
	return ids
}

// Current implements Wrapper.
func (k *Keyring) Current() string {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[0].id
}

// Reload reads the keyring's file again (a keyring not from a file keeps
// its keys).
func (k *Keyring) Reload() error {
	if k.path == "" {
		return nil
	}
	keys, err := readKEKFile(k.path)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.keys = keys
	k.mu.Unlock()
	return nil
}

// wrapAAD binds the KEK id and the record to a wrapped data key.
func wrapAAD(id string, aad []byte) []byte {
	return append([]byte("iscsdk-envelope-wrap-v1\n"+id+"\n"), aad...)
}

// Wrap implements Wrapper.
func (k *Keyring) Wrap(_ context.Context, dataKey, aad []byte) (string, []byte, error) {
	k.mu.RLock()
	cur := k.keys[0]
	k.mu.RUnlock()
	w, err := gcmSeal(cur.key, dataKey, wrapAAD(cur.id, aad))
	return cur.id, w, err
}

// Unwrap implements Wrapper.
func (k *Keyring) Unwrap(_ context.Context, id string, wrapped, aad []byte) ([]byte, error) {
	key, ok := k.find(id)
	if !ok && k.path != "" {
		if err := k.Reload(); err != nil {
			return nil, err
		}
		key, ok = k.find(id)
	}
	if !ok {
		return nil, fmt.Errorf("%w: KEK %s (it has %s)", ErrUnknownKEK, id, strings.Join(k.IDs(), ", "))
	}
	return gcmOpen(key, wrapped, wrapAAD(id, aad))
}

func (k *Keyring) find(id string) ([]byte, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, kk := range k.keys {
		if kk.id == id {
			return kk.key, true
		}
	}
	return nil, false
}
