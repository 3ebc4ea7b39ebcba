package httpapi

import (
	"mime"
	"net/http"

	"github.com/depot-registry/depot/internal/depot"
)

// ServeFile answers a GET or HEAD with a stored file: its bytes (ranges,
// conditional requests and HEAD handled by http.ServeContent, which sends an
// *os.File with sendfile), application/octet-stream, the file name as an
// attachment, its sha256 as ETag and X-Checksum-SHA256, and its upload time as
// Last-Modified.
func ServeFile(w http.ResponseWriter, r *http.Request, f *depot.File, content depot.BlobReader) {
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": f.Name}))
	h.Set("ETag", `"`+f.Blob.SHA256+`"`)
	h.Set("X-Checksum-SHA256", f.Blob.SHA256)
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", f.CreatedAt, content)
}
