// Package password hashes passwords with bcrypt.
package password

import (
	"errors"

	"github.com/depot-registry/depot/internal/depot"
	"golang.org/x/crypto/bcrypt"
)

// Hasher implements depot.PasswordHasher with bcrypt. bcrypt is chosen over
// argon2id because its memory cost is tiny: a server verifying many Basic
// passwords at once keeps a flat RSS.
type Hasher struct {
	cost  int
	dummy []byte
}

// New returns a Hasher with the given bcrypt cost; 0 means bcrypt.DefaultCost.
func New(cost int) (*Hasher, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("depot-dummy-password"), cost)
	if err != nil {
		return nil, err
	}
	return &Hasher{cost: cost, dummy: dummy}, nil
}

// Hash implements depot.PasswordHasher.
func (h *Hasher) Hash(pw string) (string, error) {
	b, err := bcrypt.GenerateFromPassword([]byte(pw), h.cost)
	return string(b), err
}

// Verify implements depot.PasswordHasher. An empty hash is checked against a
// dummy so that a missing user costs as much time as a wrong password.
func (h *Hasher) Verify(hash, pw string) error {
	hb := []byte(hash)
	if hash == "" {
		hb = h.dummy
	}
	err := bcrypt.CompareHashAndPassword(hb, []byte(pw))
	if hash == "" || errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
		return depot.ErrUnauthenticated
	}
	return err
}
