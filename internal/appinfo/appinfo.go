// Package appinfo encrypts the credentials newInstance hands the
// marketplace (appInfo's userName and password) the way the marketplace
// decrypts them: AES-CBC with PKCS#5 padding, a 16-character alphanumeric
// IV written in front of the base64 ciphertext, and the key derived from
// the access key as the marketplace's Java sample derives it —
// SecureRandom.getInstance("SHA1PRNG") seeded with the key's bytes,
// feeding KeyGenerator.getInstance("AES").init(bits, random).
package appinfo

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
)

// Encryption types, as newInstance's encryptType says them.
const (
	AES256 = "1" // AES-256-CBC, the marketplace's default
	AES128 = "2" // AES-128-CBC
)

// IVLen is the length of the IV, in characters and bytes.
const IVLen = 16

const ivAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// Key derives the AES key for encryptType from the access key: the first
// 16 (type 2) or 32 (type 1) bytes SHA1PRNG gives after setSeed(accessKey).
func Key(accessKey, encryptType string) ([]byte, error) {
	n, err := keyLen(encryptType)
	if err != nil {
		return nil, err
	}
	return sha1prng([]byte(accessKey), n), nil
}

func keyLen(encryptType string) (int, error) {
	switch encryptType {
	case AES256, "":
		return 32, nil
	case AES128:
		return 16, nil
	}
	return 0, fmt.Errorf("appinfo: encryptType %q: want 1 (AES-256) or 2 (AES-128)", encryptType)
}

// sha1prng is the output of Java's sun.security.provider.SecureRandom
// after setSeed(seed) on a fresh instance: state = SHA-1(seed); each
// 20-byte block is SHA-1(state), after which state += block + 1 (mod
// 2^160, little end first, in Java's signed-byte arithmetic), and
// state[0]++ when that changed no byte.
func sha1prng(seed []byte, n int) []byte {
	st := sha1.Sum(seed)
	state := st[:]
	out := make([]byte, 0, n+sha1.Size)
	for len(out) < n {
		block := sha1.Sum(state)
		out = append(out, block[:]...)
		carry := int32(1)
		changed := false
		for i := range state {
			v := int32(int8(state[i])) + int32(int8(block[i])) + carry
			b := byte(v)
			changed = changed || state[i] != b
			state[i] = b
			carry = v >> 8
		}
		if !changed {
			state[0]++
		}
	}
	return out[:n]
}

// Encrypt encrypts plaintext for the marketplace: a fresh random IV, then
// base64 of the ciphertext, as one string.
func Encrypt(accessKey, encryptType, plaintext string) (string, error) {
	iv := make([]byte, IVLen)
	rnd := make([]byte, IVLen)
	if _, err := rand.Read(rnd); err != nil {
		return "", err
	}
	for i, b := range rnd {
		iv[i] = ivAlphabet[int(b)%len(ivAlphabet)] // 256 % 62: a slight bias, harmless for an IV
	}
	return EncryptIV(accessKey, encryptType, string(iv), plaintext)
}

// EncryptIV is Encrypt with a given IV (16 characters), for test vectors.
func EncryptIV(accessKey, encryptType, iv, plaintext string) (string, error) {
	if len(iv) != IVLen {
		return "", fmt.Errorf("appinfo: the IV must be %d bytes", IVLen)
	}
	key, err := Key(accessKey, encryptType)
	if err != nil {
		return "", err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := make([]byte, len(plaintext)+pad)
	copy(buf, plaintext)
	for i := len(plaintext); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(block, []byte(iv)).CryptBlocks(buf, buf)
	return iv + base64.StdEncoding.EncodeToString(buf), nil
}

// Decrypt reverses Encrypt (the marketplace's side; for tools and tests).
func Decrypt(accessKey, encryptType, value string) (string, error) {
	if len(value) <= IVLen {
		return "", errors.New("appinfo: value too short")
	}
	key, err := Key(accessKey, encryptType)
	if err != nil {
		return "", err
	}
	ct, err := base64.StdEncoding.DecodeString(value[IVLen:])
	if err != nil || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return "", errors.New("appinfo: ciphertext is not base64 of whole AES blocks")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	cipher.NewCBCDecrypter(block, []byte(value[:IVLen])).CryptBlocks(ct, ct)
	pad := int(ct[len(ct)-1])
	if pad < 1 || pad > aes.BlockSize {
		return "", errors.New("appinfo: bad padding (wrong key?)")
	}
	for _, b := range ct[len(ct)-pad:] {
		if int(b) != pad {
			return "", errors.New("appinfo: bad padding (wrong key?)")
		}
	}
	return string(ct[:len(ct)-pad]), nil
}
