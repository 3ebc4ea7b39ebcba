package postgres_test

import (
	"context"
	"testing"
)

// TestLease: of two stores on one schema (two replicas), one at a time
// holds a lease; releasing it, or closing the holder, lets the other take
// it; another schema's lease of the same name is separate.
func TestLease(t *testing.T) {
	ctx := context.Background()
	url := MustSchema(t)
	a, b := MustOpen(t, url), MustOpen(t, url)
	other := MustOpen(t, MustSchema(t))
	release, ok, err := a.TryLease(ctx, "verify")
	if err != nil || !ok {
		t.Fatalf("first TryLease: %v, %v", ok, err)
	}
	if _, ok, err := b.TryLease(ctx, "verify"); err != nil || ok {
		t.Fatalf("second replica took a held lease: %v, %v", ok, err)
	}
	if rel, ok, err := b.TryLease(ctx, "other job"); err != nil || !ok {
		t.Errorf("a lease of another name: %v, %v", ok, err)
	} else {
		rel()
	}
	if rel, ok, err := other.TryLease(ctx, "verify"); err != nil || !ok {
		t.Errorf("another schema's lease: %v, %v", ok, err)
	} else {
		rel()
	}
	release()
	relB, ok, err := b.TryLease(ctx, "verify")
	if err != nil || !ok {
		t.Fatalf("TryLease after release: %v, %v", ok, err)
	}
	relB()
}
