package client

// Status is how one file's transfer ended.
type Status string

// The statuses of a FileResult.
const (
	Uploaded   Status = "uploaded"
	Exists     Status = "exists"   // push: the server already had these bytes under this name
	Deployed   Status = "deployed" // push: made on the server from content it held (deploy by checksum), no bytes sent
	Downloaded Status = "downloaded"
	Skipped    Status = "skipped" // pull: the local file already had the server's sha256
	Failed     Status = "failed"
)

// FileResult is what happened to one file.
type FileResult struct {
	Name   string `json:"name"`
	Path   string `json:"path,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	Status Status `json:"status"`
	// ResumedAt is the offset the download's last request continued from
	// (the bytes of FILE.part, left by an earlier try of this run or an
	// earlier run), 0 when it received the whole file in one answer.
	ResumedAt int64  `json:"resumed_at,omitempty"`
	Attempts  int    `json:"attempts"`
	Error     string `json:"error,omitempty"`
	// Err is the error behind Error, for exit codes.
	Err error `json:"-"`
}

// Events receives what the transfers do; a display implements it. Start
// may be called from several goroutines at once (parallel transfers).
type Events interface {
	// Start announces the transfer of a file of size bytes (-1 unknown).
	Start(name string, size int64) Progress
}

// Progress follows one file's transfer. Its methods are called from the
// goroutine transferring that file.
type Progress interface {
	// SetCurrent sets the bytes done, when a transfer starts (at a resume
	// offset) or starts over.
	SetCurrent(n int64)
	// Add counts n more bytes done.
	Add(n int)
	// Retry says that attempt failed with err and another follows.
	Retry(attempt int, err error)
	// Done ends the transfer.
	Done(r FileResult)
}

// ByteCounter is implemented by a Progress that says whether it uses byte
// counts (SetCurrent, Add). One that does not (a quiet, line or JSON
// display) lets an uploader hand a file to the kernel unread (sendfile).
type ByteCounter interface {
	CountsBytes() bool
}

// countsBytes reports whether p wants byte counts: true unless it says no.
func countsBytes(p Progress) bool {
	bc, ok := p.(ByteCounter)
	return !ok || bc.CountsBytes()
}

// NoEvents discards every event.
type NoEvents struct{}

// Start implements Events.
func (NoEvents) Start(string, int64) Progress { return noProgress{} }

type noProgress struct{}

func (noProgress) SetCurrent(int64) {}
func (noProgress) Add(int)          {}
func (noProgress) Retry(int, error) {}
func (noProgress) Done(FileResult)  {}
