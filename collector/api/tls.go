package api

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/rackwatch/rackwatch/edge/configfile"
)

// serverTLS returns the HTTPS settings for the certificate and key files:
// TLS 1.2 or later, and the pair read again when a file's modification
// time changes, so that a renewed certificate takes effect at the next
// handshake. A pair that fails to load (half-way through a renewal) leaves
// the last good one in use.
func serverTLS(certFile, keyFile string, log *slog.Logger) (*tls.Config, error) {
	switch {
	case certFile == "":
		return nil, errors.New("api: tls_key_file needs tls_cert_file")
	case keyFile == "":
		return nil, errors.New("api: tls_cert_file needs tls_key_file")
	}
	p := &pairFiles{cert: certFile, key: keyFile, log: log}
	if _, err := p.load(); err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: p.get}, nil
}

// pairFiles holds the certificate last read from its files.
type pairFiles struct {
	cert, key string
	log       *slog.Logger

	mu                sync.Mutex
	pair              *tls.Certificate
	certTime, keyTime time.Time
}

func (p *pairFiles) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.changed() {
		if _, err := p.loadLocked(); err != nil {
			p.log.Warn("api: TLS certificate not reloaded; the previous one stays", "err", err)
		}
	}
	return p.pair, nil
}

// changed reports whether either file's modification time moved.
func (p *pairFiles) changed() bool {
	c, err1 := os.Stat(p.cert)
	k, err2 := os.Stat(p.key)
	return err1 == nil && err2 == nil && (!c.ModTime().Equal(p.certTime) || !k.ModTime().Equal(p.keyTime))
}

func (p *pairFiles) load() (*tls.Certificate, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.loadLocked()
}

func (p *pairFiles) loadLocked() (*tls.Certificate, error) {
	c, err := os.Stat(p.cert)
	if err != nil {
		return nil, fmt.Errorf("api: tls_cert_file: %w", err)
	}
	certPEM, err := os.ReadFile(p.cert)
	if err != nil {
		return nil, fmt.Errorf("api: tls_cert_file: %w", err)
	}
	f, err := configfile.OpenSecretFile(p.key)
	if err != nil {
		return nil, fmt.Errorf("api: tls_key_file: %w", err)
	}
	defer f.Close()
	k, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("api: tls_key_file: %w", err)
	}
	keyPEM, err := io.ReadAll(io.LimitReader(f, configfile.MaxSecretFile))
	if err != nil {
		return nil, fmt.Errorf("api: tls_key_file: %s: %w", p.key, err)
	}
	// The error of X509KeyPair names what is wrong, never the key's bytes.
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("api: tls_cert_file %s and tls_key_file %s: %w", p.cert, p.key, err)
	}
	p.pair, p.certTime, p.keyTime = &pair, c.ModTime(), k.ModTime()
	return &pair, nil
}

// CheckTLS reports what serving HTTPS with the certificate and key files
// would fail on, for check-config.
func CheckTLS(certFile, keyFile string) error {
	_, err := serverTLS(certFile, keyFile, slog.New(slog.DiscardHandler))
	return err
}
