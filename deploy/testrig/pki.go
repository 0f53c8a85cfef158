package testrig

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// CertOpts describes a test certificate: valid from an hour ago for two
// hours, on a P-256 key.
type CertOpts struct {
	CommonName string
	IPs        []net.IP
	// Usage is what the certificate is for: x509.ExtKeyUsageServerAuth or
	// x509.ExtKeyUsageClientAuth; zero leaves it unrestricted.
	Usage x509.ExtKeyUsage
	// KeyMode is the key file's mode; default 0600.
	KeyMode os.FileMode
	// CA signs the certificate; nil makes it self-signed.
	CA *CA
}

// CA is a throwaway certificate authority.
type CA struct {
	Cert *x509.Certificate
	Pool *x509.CertPool // trusts Cert
	key  *ecdsa.PrivateKey
}

// certSerial numbers the certificates of the process.
var certSerial atomic.Int64

// NewCA makes a CA and writes its certificate to dir/ca.crt.
func NewCA(t testing.TB, dir string) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := template("rackwatch test CA")
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	cert := create(t, tmpl, tmpl, key, key)
	writePEM(t, filepath.Join(dir, "ca.crt"), "CERTIFICATE", cert.Raw, 0o644)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{Cert: cert, Pool: pool, key: key}
}

// WriteCert makes a certificate and writes it and its key (PKCS #8) to
// dir/name.crt and dir/name.key, and returns their paths and the
// certificate.
func WriteCert(t testing.TB, dir, name string, o CertOpts) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key := newKey(t)
	tmpl := template(o.CommonName)
	tmpl.IPAddresses = o.IPs
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if o.Usage != 0 {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{o.Usage}
	}
	parent, signer := tmpl, key
	if o.CA != nil {
		parent, signer = o.CA.Cert, o.CA.key
	}
	cert = create(t, tmpl, parent, key, signer)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	writePEM(t, certFile, "CERTIFICATE", cert.Raw, 0o644)
	writePEM(t, keyFile, "PRIVATE KEY", kder, cmp.Or(o.KeyMode, 0o600))
	return certFile, keyFile, cert
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func template(cn string) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{SerialNumber: big.NewInt(certSerial.Add(1)), Subject: pkix.Name{CommonName: cn},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
}

func create(t testing.TB, tmpl, parent *x509.Certificate, key, signer *ecdsa.PrivateKey) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// writePEM writes one PEM block with mode, whatever the umask.
func writePEM(t testing.TB, path, typ string, der []byte, mode os.FileMode) {
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
