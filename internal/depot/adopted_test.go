package depot

import (
	"context"
	"io"
	"log/slog"
	"testing"
)

// fakeSalvageable records what is asked of a salvageable upload.
type fakeSalvageable struct {
	salvaged, closed int
	commitErr        error
}

func (f *fakeSalvageable) Write(p []byte) (int, error)          { return len(p), nil }
func (f *fakeSalvageable) Complete(context.Context) error       { return nil }
func (f *fakeSalvageable) Commit(context.Context, string) error { return f.commitErr }
func (f *fakeSalvageable) Close() error                         { f.closed++; return nil }
func (f *fakeSalvageable) Salvage(context.Context, UploadStaging, string) (int64, error) {
	f.salvaged++
	return 0, nil
}

// TestAdoptedUploadGivesBytesBack checks that an adopted upload closed
// without a successful Commit (refused by the upload path or by the
// store) puts its bytes back into staging, and one committed does not.
func TestAdoptedUploadGivesBytesBack(t *testing.T) {
	s := &Service{opts: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}}
	for _, c := range []struct {
		name      string
		commit    bool
		commitErr error
		wantBack  int
	}{
		{"closed uncommitted", false, nil, 1},
		{"commit failed", true, io.ErrUnexpectedEOF, 1},
		{"committed", true, nil, 0},
	} {
		f := &fakeSalvageable{commitErr: c.commitErr}
		u := &adoptedUpload{SalvageableUpload: f, s: s, ctx: context.Background(), token: "t"}
		if c.commit {
			u.Commit(context.Background(), "d")
		}
		u.Close()
		if f.salvaged != c.wantBack || f.closed != 1 {
			t.Errorf("%s: salvaged %d times, closed %d; want %d and 1", c.name, f.salvaged, f.closed, c.wantBack)
		}
	}
}
