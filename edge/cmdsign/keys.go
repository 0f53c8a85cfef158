package cmdsign

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rackwatch/rackwatch/edge/command"
	"github.com/rackwatch/rackwatch/edge/configfile"
)

// TrustedKey is a public key an edge accepts commands under, and the
// window in which it does: both bounds are optional, and two keys whose
// windows overlap are both accepted in the overlap, which is how keys are
// rotated (docs/security.md).
type TrustedKey struct {
	ID        string
	Public    ed25519.PublicKey
	NotBefore time.Time // zero: no lower bound
	NotAfter  time.Time // zero: no upper bound
}

// trustedAt reports whether the key is trusted at t: NotBefore ≤ t < NotAfter.
func (k TrustedKey) trustedAt(t time.Time) bool {
	return (k.NotBefore.IsZero() || !t.Before(k.NotBefore)) && (k.NotAfter.IsZero() || t.Before(k.NotAfter))
}

// CheckKeyID checks a key id: the rules of a command id, at most
// command.MaxKeyIDLen characters.
func CheckKeyID(id string) error {
	if id == "" || len(id) > command.MaxKeyIDLen {
		return fmt.Errorf("cmdsign: key id %q: 1-%d characters", id, command.MaxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return fmt.Errorf("cmdsign: key id %q: printable ASCII without space only", id)
		}
	}
	return nil
}

// ParsePublicKey decodes a public key as the configuration holds it: the
// 32 bytes of an Ed25519 public key (RFC 8032, §5.1.5) in standard base64.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("cmdsign: public key: not base64: %w", err)
	}
	if len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("cmdsign: public key of %d bytes, want %d (Ed25519)", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), nil
}

// EncodePublicKey renders a public key as ParsePublicKey reads it.
func EncodePublicKey(k ed25519.PublicKey) string { return base64.StdEncoding.EncodeToString(k) }

// LoadPrivateKey reads the collector's signing key: an Ed25519 key in a
// PKCS#8 PEM block ("PRIVATE KEY", as written by WriteKeyPair and by
// `openssl genpkey -algorithm ed25519`), from a file that only its owner
// may read (configfile.OpenSecretFile).
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	f, err := configfile.OpenSecretFile(path)
	if err != nil {
		return nil, fmt.Errorf("cmdsign: signing key: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("cmdsign: signing key %s: %w", path, err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("cmdsign: signing key %s: no PEM \"PRIVATE KEY\" block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("cmdsign: signing key %s: %w", path, err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("cmdsign: signing key %s: a %T, want Ed25519", path, k)
	}
	return ek, nil
}

// KeyPair names the files WriteKeyPair wrote.
type KeyPair struct {
	ID          string
	PrivateFile string // <dir>/<id>.key, mode 0600
	PublicFile  string // <dir>/<id>.pub, mode 0644
	Public      ed25519.PublicKey
}

// WriteKeyPair generates an Ed25519 key pair and writes it to dir as
// <id>.key (PKCS#8 PEM, mode 0600) and <id>.pub (the base64 public key and
// an LF). It never overwrites: a key id names one key for its whole life,
// or edges would hold two public keys under one id.
func WriteKeyPair(dir, id string, random io.Reader) (KeyPair, error) {
	if err := CheckKeyID(id); err != nil {
		return KeyPair{}, err
	}
	if strings.ContainsAny(id, `/\`) || id == "." || id == ".." {
		return KeyPair{}, fmt.Errorf("cmdsign: key id %q: must be usable as a file name", id)
	}
	if random == nil {
		random = rand.Reader
	}
	pub, priv, err := ed25519.GenerateKey(random)
	if err != nil {
		return KeyPair{}, fmt.Errorf("cmdsign: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return KeyPair{}, fmt.Errorf("cmdsign: encode key: %w", err)
	}
	kp := KeyPair{ID: id, PrivateFile: filepath.Join(dir, id+".key"), PublicFile: filepath.Join(dir, id+".pub"), Public: pub}
	for _, p := range []string{kp.PrivateFile, kp.PublicFile} {
		if _, err := os.Lstat(p); err == nil {
			return KeyPair{}, fmt.Errorf("cmdsign: %s exists; a new key needs a new id", p)
		}
	}
	if err := writeNew(kp.PrivateFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		return KeyPair{}, err
	}
	if err := writeNew(kp.PublicFile, []byte(EncodePublicKey(pub)+"\n"), 0o644); err != nil {
		os.Remove(kp.PrivateFile)
		return KeyPair{}, err
	}
	return kp, nil
}

// writeNew creates path exclusively with mode perm (the umask cannot widen
// it) and syncs it.
func writeNew(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("cmdsign: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("cmdsign: write %s: %w", path, err)
	}
	return nil
}

var errNoKey = errors.New("cmdsign: no signing key")
