package ingest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"math/big"
	"strings"
)

// SSHFingerprint returns the SHA256 fingerprint ("SHA256:" and the
// unpadded base64 of the SHA-256 of the public key's wire form, as
// ssh-keygen -l prints it) of the SSH key that s holds: an OpenSSH
// private key (encrypted or not: its public half is stored in the clear),
// an unencrypted PEM RSA (PKCS #1) or PKCS #8 private key (RSA, Ed25519,
// ECDSA P-256/384/521), or a public key in authorized_keys form. It
// returns "" for anything else. A fingerprint names a key without giving
// it away: it may be kept where the secret may not, and it is how a
// private key found by a scanner meets the instances whose key pair holds
// its public half.
func SSHFingerprint(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 64<<10 {
		return ""
	}
	if blob := publicBlob(s); blob != nil {
		sum := sha256.Sum256(blob)
		return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
	}
	return ""
}

// publicBlob returns the wire form of the public key s holds, or nil.
func publicBlob(s string) []byte {
	if strings.HasPrefix(s, "ssh-") || strings.HasPrefix(s, "ecdsa-sha2-") {
		f := strings.Fields(s)
		if len(f) < 2 {
			return nil
		}
		b, err := base64.StdEncoding.DecodeString(f[1])
		if err != nil {
			return nil
		}
		return b
	}
	blk, _ := pem.Decode([]byte(s))
	if blk == nil {
		return nil
	}
	switch blk.Type {
	case "OPENSSH PRIVATE KEY":
		return openSSHPublic(blk.Bytes)
	case "RSA PRIVATE KEY":
		if k, err := x509.ParsePKCS1PrivateKey(blk.Bytes); err == nil {
			return rsaBlob(&k.PublicKey)
		}
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return rsaBlob(&k.PublicKey)
		case ed25519.PrivateKey:
			return edBlob(k.Public().(ed25519.PublicKey))
		case *ecdsa.PrivateKey:
			return ecBlob(&k.PublicKey)
		}
	case "EC PRIVATE KEY":
		if k, err := x509.ParseECPrivateKey(blk.Bytes); err == nil {
			return ecBlob(&k.PublicKey)
		}
	}
	return nil
}

// openSSHPublic reads the public key of an openssh-key-v1 private key:
// magic, cipher name, KDF name, KDF options, the number of keys (one) and
// the first public key, all before the (possibly encrypted) private part.
func openSSHPublic(b []byte) []byte {
	const magic = "openssh-key-v1\x00"
	if !bytes.HasPrefix(b, []byte(magic)) {
		return nil
	}
	b = b[len(magic):]
	for range 3 {
		if _, b = sshString(b); b == nil {
			return nil
		}
	}
	if len(b) < 4 || binary.BigEndian.Uint32(b) < 1 {
		return nil
	}
	pub, _ := sshString(b[4:])
	return pub
}

// sshString reads one length-prefixed string of the SSH wire form; rest
// is nil when b holds none.
func sshString(b []byte) (s, rest []byte) {
	if len(b) < 4 {
		return nil, nil
	}
	n := binary.BigEndian.Uint32(b)
	if uint64(n) > uint64(len(b)-4) {
		return nil, nil
	}
	return b[4 : 4+n], b[4+n:]
}

func putString(buf *bytes.Buffer, s []byte) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(s)))
	buf.Write(n[:])
	buf.Write(s)
}

// putMPInt writes a non-negative integer as an SSH mpint.
func putMPInt(buf *bytes.Buffer, x *big.Int) {
	b := x.Bytes()
	if len(b) > 0 && b[0]&0x80 != 0 {
		b = append([]byte{0}, b...)
	}
	putString(buf, b)
}

func rsaBlob(k *rsa.PublicKey) []byte {
	var buf bytes.Buffer
	putString(&buf, []byte("ssh-rsa"))
	putMPInt(&buf, big.NewInt(int64(k.E)))
	putMPInt(&buf, k.N)
	return buf.Bytes()
}

func edBlob(k ed25519.PublicKey) []byte {
	var buf bytes.Buffer
	putString(&buf, []byte("ssh-ed25519"))
	putString(&buf, k)
	return buf.Bytes()
}

func ecBlob(k *ecdsa.PublicKey) []byte {
	var name string
	switch k.Curve {
	case elliptic.P256():
		name = "nistp256"
	case elliptic.P384():
		name = "nistp384"
	case elliptic.P521():
		name = "nistp521"
	default:
		return nil
	}
	pt, err := k.Bytes()
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	putString(&buf, []byte("ecdsa-sha2-"+name))
	putString(&buf, []byte(name))
	putString(&buf, pt)
	return buf.Bytes()
}
