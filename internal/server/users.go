package server

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/ctem-dev/ctem/internal/store"
)

// The argon2id parameters of new password hashes: OWASP's Password
// Storage Cheat Sheet's first configuration (19 MiB, 2 passes, 1 lane),
// its floor for argon2id. RFC 9106's recommended 64 MiB and 3 passes
// took 0.38 s a hash on this project's shared 2-core reference machine,
// against 0.04 s for these: a sign-in must not take a core for most of a
// second. Every hash records its own parameters (the PHC string format,
// as the reference implementation writes it), so that they can be raised
// later without invalidating stored passwords.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// hashing bounds how many password hashes run at once: each holds
// argonMemory, so that a burst of sign-ins cannot take the server's
// memory.
var hashing = make(chan struct{}, 2)

// HashPassword returns the argon2id hash of password in the PHC string
// format, with a random salt.
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	hashing <- struct{}{}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	<-hashing
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

var phc = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,64})\$([A-Za-z0-9+/]{16,128})$`)

// VerifyPassword reports whether password matches hash, comparing in
// constant time. A hash that is not argon2id in the PHC format, or whose
// parameters are beyond sane bounds (more than 256 MiB, 10 passes or 16
// lanes, so that a tampered row cannot make a sign-in take the server's
// memory), matches nothing.
func VerifyPassword(hash, password string) bool {
	m := phc.FindStringSubmatch(hash)
	if m == nil {
		return false
	}
	var mem, t, p uint32
	if _, err := fmt.Sscanf(m[1]+" "+m[2]+" "+m[3], "%d %d %d", &mem, &t, &p); err != nil {
		return false
	}
	if mem < 8 || mem > 256<<10 || t < 1 || t > 10 || p < 1 || p > 16 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(m[4])
	want, err2 := b64.DecodeString(m[5])
	if err1 != nil || err2 != nil {
		return false
	}
	hashing <- struct{}{}
	got := argon2.IDKey([]byte(password), salt, t, mem, uint8(p), uint32(len(want)))
	<-hashing
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when a sign-in names no user, so that
// the answer takes as long as for a real user with a wrong password and
// does not tell which names exist.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("no user has this password")
	return h
})

var userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$`)

// UserRequest is what a new local user is.
type UserRequest struct {
	Name, Role, Team, Password, CreatedBy string
}

// MinPassword is the fewest characters a password may have (NIST SP
// 800-63B's minimum for a password chosen by its user).
const MinPassword = 8

// CreateUser checks req, hashes the password and stores the user.
func CreateUser(ctx context.Context, st store.Users, req UserRequest, now time.Time) (store.User, error) {
	req.Name = strings.TrimSpace(req.Name)
	if !userName.MatchString(req.Name) {
		return store.User{}, fmt.Errorf("a user name is 1 to 100 letters, digits, '.', '_', '@' or '-', not %q: %w", req.Name, store.ErrInvalid)
	}
	if !ValidRole(req.Role) {
		return store.User{}, fmt.Errorf("unknown role %q (want admin, analyst, viewer or uploader): %w", req.Role, store.ErrInvalid)
	}
	if len([]rune(req.Password)) < MinPassword || len(req.Password) > 1024 {
		return store.User{}, fmt.Errorf("a password needs %d to 1024 characters: %w", MinPassword, store.ErrInvalid)
	}
	h, err := HashPassword(req.Password)
	if err != nil {
		return store.User{}, err
	}
	u := store.User{Name: req.Name, Role: req.Role, Team: strings.TrimSpace(req.Team), CreatedBy: req.CreatedBy, CreatedAt: now.UTC()}
	if err := st.CreateUser(ctx, u, h); err != nil {
		return store.User{}, err
	}
	return u, nil
}

// errBadSignIn is the one answer to a wrong name, a wrong password and a
// disabled user alike.
var errBadSignIn = errors.New("unknown user or wrong password")
