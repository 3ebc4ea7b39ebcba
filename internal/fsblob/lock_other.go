//go:build !unix

package fsblob

import (
	"errors"
	"os"
)

// tryLock cannot lock here: every owner counts as live, and temporary files
// keep the age rule only.
func tryLock(*os.File) (bool, error) { return false, errors.New("no flock on this system") }

// tryLockWorks tells that owners are not in use here.
const tryLockWorks = false
