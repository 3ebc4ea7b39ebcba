package httpapi

import (
	"archive/tar"
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/depot-registry/depot/internal/depot"
)

// ArchiveFormat is the container a version archive is streamed in.
type ArchiveFormat string

// The archive formats, by the last path segment that asks for them.
const (
	ArchiveZip   ArchiveFormat = "archive.zip"
	ArchiveTarGz ArchiveFormat = "archive.tar.gz"
)

// Manifest entries every archive begins with.
const (
	// ManifestSHA256 lists every file as sha256sum(1) writes it, so
	// `sha256sum -c MANIFEST.sha256` checks an unpacked archive.
	ManifestSHA256 = "MANIFEST.sha256"
	// ManifestJSON lists every file's size and digests (ManifestFile).
	ManifestJSON = "MANIFEST.json"
)

// ParseArchiveFormat returns the format a segment such as "archive.zip"
// asks for.
func ParseArchiveFormat(seg string) (ArchiveFormat, bool) {
	switch f := ArchiveFormat(seg); f {
	case ArchiveZip, ArchiveTarGz:
		return f, true
	}
	return "", false
}

// Manifest is MANIFEST.json.
type Manifest struct {
	Package string         `json:"package"`
	Version string         `json:"version"`
	Files   []ManifestFile `json:"files"`
}

// ManifestFile is one file of a Manifest.
type ManifestFile struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	SHA512 string `json:"sha512,omitempty"`
	SHA1   string `json:"sha1,omitempty"`
	MD5    string `json:"md5,omitempty"`
}

func manifests(vc *depot.VersionContent) (sums, js []byte) {
	m := Manifest{Package: vc.Version.Package.Name, Version: vc.Version.Version.Version, Files: []ManifestFile{}}
	var b strings.Builder
	for _, f := range vc.Files {
		m.Files = append(m.Files, ManifestFile{Name: f.Name, Size: f.Blob.Size, SHA256: f.Blob.SHA256, SHA512: f.Blob.SHA512, SHA1: f.Blob.SHA1, MD5: f.Blob.MD5})
		// File names hold neither '\\' nor a newline (depot.ValidateFileName),
		// so no line needs sha256sum's escaping.
		fmt.Fprintf(&b, "%s  %s\n", f.Blob.SHA256, f.Name)
	}
	js, _ = json.MarshalIndent(m, "", "  ")
	return []byte(b.String()), append(js, '\n')
}

// ServeArchive streams a version as one archive: MANIFEST.sha256 and
// MANIFEST.json first, then each file's bytes, one blob open at a time,
// straight into the response (no temporary file; memory stays flat). The
// zip stores files without compression (Store: release files are mostly
// compressed already, and Store streams at disk speed); the tar.gz is
// gzip at its fastest level. There is no Content-Length: the length of a
// tar.gz is not known before it is written. A file that cannot be read
// once the answer has begun aborts the connection, so a client sees a
// failed transfer, never a complete-looking archive missing a file.
func ServeArchive(w http.ResponseWriter, r *http.Request, log *slog.Logger, vc *depot.VersionContent, format ArchiveFormat) {
	name := vc.Version.Package.Name + "-" + vc.Version.Version.Version
	h := w.Header()
	switch format {
	case ArchiveZip:
		h.Set("Content-Type", "application/zip")
		name += ".zip"
	default:
		h.Set("Content-Type", "application/gzip")
		name += ".tar.gz"
	}
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusOK)
	var err error
	if format == ArchiveZip {
		err = writeZip(r.Context(), w, vc)
	} else {
		err = writeTarGz(r.Context(), w, vc)
	}
	if err != nil {
		log.ErrorContext(r.Context(), "version archive cut short", "path", r.URL.Path, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// entry is one member of an archive.
type entry struct {
	name string
	size int64
	mod  time.Time
	open func() (io.ReadCloser, error)
}

func entries(ctx context.Context, vc *depot.VersionContent) []entry {
	sums, js := manifests(vc)
	mod := vc.Version.Version.CreatedAt
	for _, f := range vc.Files {
		if f.CreatedAt.After(mod) {
			mod = f.CreatedAt
		}
	}
	bytesEntry := func(name string, b []byte) entry {
		return entry{name, int64(len(b)), mod, func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(string(b))), nil }}
	}
	out := []entry{bytesEntry(ManifestSHA256, sums), bytesEntry(ManifestJSON, js)}
	for _, f := range vc.Files {
		out = append(out, entry{f.Name, f.Blob.Size, f.CreatedAt, func() (io.ReadCloser, error) { return vc.Open(ctx, f) }})
	}
	return out
}

// copyEntry copies e's content to w, checking its size.
func copyEntry(w io.Writer, e entry) error {
	rc, err := e.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	n, err := io.Copy(w, rc)
	if err != nil {
		return fmt.Errorf("copy %s: %w", e.name, err)
	}
	if n != e.size {
		return fmt.Errorf("copy %s: %d bytes, want %d", e.name, n, e.size)
	}
	return nil
}

func writeZip(ctx context.Context, w io.Writer, vc *depot.VersionContent) error {
	zw := zip.NewWriter(w)
	for _, e := range entries(ctx, vc) {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store, Modified: e.mod.UTC()})
		if err != nil {
			return err
		}
		if err := copyEntry(fw, e); err != nil {
			return err
		}
	}
	return zw.Close()
}

func writeTarGz(ctx context.Context, w io.Writer, vc *depot.VersionContent) error {
	gz, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(gz)
	for _, e := range entries(ctx, vc) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Size: e.size, Mode: 0o644, ModTime: e.mod.UTC(), Format: tar.FormatPAX}); err != nil {
			return err
		}
		if err := copyEntry(tw, e); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}
