package depot

import (
	"context"
	"fmt"
	"time"
)

// DownloadCounts is a batch of downloads to add: per file, per version, and
// per version and day (days since the Unix epoch, UTC).
type DownloadCounts struct {
	Files    map[int64]int64
	Versions map[int64]int64
	Days     map[VersionDay]int64
}

// VersionDay is a version on a day (days since the Unix epoch, UTC).
type VersionDay struct {
	VersionID int64
	Day       int64
}

// DayCount is the downloads of one day.
type DayCount struct {
	Day   time.Time // midnight UTC
	Count int64
}

// DownloadStore keeps download counts.
type DownloadStore interface {
	// AddDownloads adds a batch of counts in one transaction; files and
	// versions that no longer exist are skipped.
	AddDownloads(ctx context.Context, d DownloadCounts) error
	// VersionDownloads returns the download counts of versions (missing
	// versions are left out).
	VersionDownloads(ctx context.Context, versionIDs []int64) (map[int64]int64, error)
	// FileDownloads returns the download counts of a version's files, by
	// file id.
	FileDownloads(ctx context.Context, versionID int64) (map[int64]int64, error)
	// PackageDownloadDays returns a package's downloads per day (summed
	// over its versions) from day from (days since the Unix epoch) on,
	// days without downloads left out, in day order.
	PackageDownloadDays(ctx context.Context, packageID, from int64) ([]DayCount, error)
}

// DownloadDays is how many days the package page's chart shows.
const DownloadDays = 30

func unixDay(t time.Time) int64 { return t.UTC().Unix() / 86400 }

// CountDownload notes a download of f (Gitea counts a GET of a package
// file, whatever its Range or conditional headers, and not a HEAD; so does
// every depot dialect). Counts gather in memory and are written with the
// last download times (FlushDownloads), so a download never waits for a
// database write.
func (s *Service) CountDownload(f *File) {
	d := &s.downloads
	d.mu.Lock()
	if d.counts.Files == nil {
		d.counts = DownloadCounts{Files: map[int64]int64{}, Versions: map[int64]int64{}, Days: map[VersionDay]int64{}}
	}
	d.counts.Files[f.ID]++
	d.counts.Versions[f.VersionID]++
	d.counts.Days[VersionDay{f.VersionID, unixDay(s.now())}]++
	d.mu.Unlock()
	s.scheduleFlush()
}

// DownloadChart is a package's downloads per day over the last
// DownloadDays days, oldest first, every day present.
type DownloadChart struct {
	Days  []DayCount
	Total int64
	Max   int64
}

// PackageDownloadChart returns the chart of a package's downloads (pkgID
// must be a package the caller may read; the web UI's PackageVersions
// checked it).
func (s *Service) PackageDownloadChart(ctx context.Context, pkgID int64) (*DownloadChart, error) {
	today := unixDay(s.now())
	from := today - DownloadDays + 1
	got, err := s.store.PackageDownloadDays(ctx, pkgID, from)
	if err != nil {
		return nil, fmt.Errorf("download days: %w", err)
	}
	byDay := map[int64]int64{}
	for _, dc := range got {
		byDay[unixDay(dc.Day)] = dc.Count
	}
	c := &DownloadChart{}
	for day := from; day <= today; day++ {
		n := byDay[day]
		c.Days = append(c.Days, DayCount{Day: time.Unix(day*86400, 0).UTC(), Count: n})
		c.Total += n
		c.Max = max(c.Max, n)
	}
	return c, nil
}

// VersionDownloadCounts returns the download counts of versions.
func (s *Service) VersionDownloadCounts(ctx context.Context, versionIDs []int64) (map[int64]int64, error) {
	return s.store.VersionDownloads(ctx, versionIDs)
}

// FileDownloadCounts returns the download counts of a version's files.
func (s *Service) FileDownloadCounts(ctx context.Context, versionID int64) (map[int64]int64, error) {
	return s.store.FileDownloads(ctx, versionID)
}
