package configfile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// ClientTLS names the PEM files of a TLS client, as both binaries configure
// their MQTT connection: the CAs that sign the server's certificate and,
// for mutual TLS, the client's own certificate and private key.
type ClientTLS struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// TLSFileError is a file of a ClientTLS that cannot be used. Field is the
// configuration key's last element ("ca_file", "cert_file" or "key_file"),
// so that a validation error names the key to fix.
type TLSFileError struct {
	Field string
	Err   error
}

func (e *TLSFileError) Error() string { return strings.TrimPrefix(e.Err.Error(), "configfile: ") }
func (e *TLSFileError) Unwrap() error { return e.Err }

// Config returns the client TLS settings, or nil when no file is named,
// which leaves the system roots to the MQTT client. It fails with a
// *TLSFileError when a file is missing, unreadable or not what it should
// be, or when the certificate and the key are not one pair.
//
// The certificate and key are read again at each handshake, so a renewed
// pair (short-lived certificates are the point of mutual TLS) takes effect
// at the next reconnection without a restart; a pair that fails to load,
// say half-way through a rotation, leaves the last good one in use.
func (c ClientTLS) Config() (*tls.Config, error) {
	if c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		b, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, &TLSFileError{Field: "ca_file", Err: err}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, &TLSFileError{Field: "ca_file", Err: fmt.Errorf("%s: no PEM certificate in it", c.CAFile)}
		}
		cfg.RootCAs = pool
	}
	switch {
	case c.CertFile == "" && c.KeyFile == "":
		return cfg, nil
	case c.KeyFile == "":
		return nil, &TLSFileError{Field: "key_file", Err: errors.New("required with cert_file: the client certificate's private key")}
	case c.CertFile == "":
		return nil, &TLSFileError{Field: "cert_file", Err: errors.New("required with key_file: the client certificate")}
	}
	r := &keyPairReloader{certFile: c.CertFile, keyFile: c.KeyFile}
	if _, err := r.load(); err != nil {
		return nil, err
	}
	cfg.GetClientCertificate = r.get
	return cfg, nil
}

// keyPairReloader reads a client certificate and key at each handshake.
type keyPairReloader struct {
	certFile, keyFile string

	mu   sync.Mutex
	last *tls.Certificate
}

func (r *keyPairReloader) get(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	if c, err := r.load(); err == nil {
		return c, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last, nil
}

// load reads the pair and reports which file is at fault.
func (r *keyPairReloader) load() (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return nil, &TLSFileError{Field: "cert_file", Err: err}
	}
	keyPEM, err := readSecret(r.keyFile)
	if err != nil {
		return nil, &TLSFileError{Field: "key_file", Err: err}
	}
	if !hasCertificate(certPEM) {
		return nil, &TLSFileError{Field: "cert_file", Err: fmt.Errorf("%s: no PEM certificate in it", r.certFile)}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, &TLSFileError{Field: "key_file", Err: fmt.Errorf("%s: %w", r.keyFile, err)}
	}
	r.mu.Lock()
	r.last = &pair
	r.mu.Unlock()
	return &pair, nil
}

// readSecret reads the private key as every secret file is read: a key
// that other users can read is refused, not used.
func readSecret(path string) ([]byte, error) {
	f, err := OpenSecretFile(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(b) > MaxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d bytes: not a private key", path, MaxSecretFile)
	}
	return b, nil
}

// hasCertificate reports whether b holds a parsable PEM certificate, so that
// a wrong cert_file is reported as such rather than as a key that does not
// match it.
func hasCertificate(b []byte) bool {
	pool := x509.NewCertPool()
	return pool.AppendCertsFromPEM(b)
}

// CheckClientTLS validates the TLS files of a client whose keys sit under
// prefix (e.g. "mqtt.") and that connects to broker, recording each
// problem with its file, line and key. A client certificate is only sent
// over TLS, so one configured for a plain-text URL is an error rather than
// a silently unused setting.
func (f *File) CheckClientTLS(errs *Errors, prefix string, c ClientTLS, broker string) {
	if _, err := c.Config(); err != nil {
		field := "ca_file"
		var fe *TLSFileError
		if errors.As(err, &fe) {
			field = fe.Field
		}
		errs.Add(f.Errorf(prefix+field, "%v", err))
	}
	if c.CertFile == "" {
		return
	}
	scheme, _, _ := strings.Cut(broker, "://")
	switch scheme {
	case "ssl", "tls", "wss":
	default:
		errs.Add(f.Errorf(prefix+"cert_file", "a client certificate needs a TLS broker URL (ssl://, tls:// or wss://), but the broker is %q", broker))
	}
}
