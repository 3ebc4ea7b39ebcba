package storetest

import (
	"context"
	"sync"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
)

func testDownloads(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	a := MustCreateFile(t, s, NewFile(alice, "app", "1.0", "a", "a"))
	b := MustCreateFile(t, s, NewFile(alice, "app", "1.0", "b", "b"))
	c := MustCreateFile(t, s, NewFile(alice, "app", "2.0", "c", "c"))
	other := MustCreateFile(t, s, NewFile(alice, "lib", "1.0", "x", "x"))
	const day = 20000
	batch := func(files map[*depot.File]int64, d int64) depot.DownloadCounts {
		dc := depot.DownloadCounts{Files: map[int64]int64{}, Versions: map[int64]int64{}, Days: map[depot.VersionDay]int64{}}
		for f, n := range files {
			dc.Files[f.ID] += n
			dc.Versions[f.VersionID] += n
			dc.Days[depot.VersionDay{VersionID: f.VersionID, Day: d}] += n
		}
		return dc
	}
	add := func(d depot.DownloadCounts) {
		t.Helper()
		if err := s.AddDownloads(ctx, d); err != nil {
			t.Fatalf("AddDownloads: %v", err)
		}
	}
	add(batch(map[*depot.File]int64{a: 3, b: 1, c: 2, other: 9}, day))
	add(batch(map[*depot.File]int64{a: 1, c: 5}, day+1))
	// Missing files and versions are skipped, the rest still added.
	add(depot.DownloadCounts{Files: map[int64]int64{a.ID: 1, 1 << 40: 1}, Versions: map[int64]int64{a.VersionID: 1, 1 << 40: 1},
		Days: map[depot.VersionDay]int64{{VersionID: a.VersionID, Day: day + 2}: 1, {VersionID: 1 << 40, Day: day}: 1}})

	vs, err := s.VersionDownloads(ctx, []int64{a.VersionID, c.VersionID, 1 << 40})
	if err != nil {
		t.Fatal(err)
	}
	if vs[a.VersionID] != 6 || vs[c.VersionID] != 7 || len(vs) != 2 {
		t.Errorf("VersionDownloads = %v, want %d:6 %d:7", vs, a.VersionID, c.VersionID)
	}
	fs, err := s.FileDownloads(ctx, a.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	if fs[a.ID] != 5 || fs[b.ID] != 1 || len(fs) != 2 {
		t.Errorf("FileDownloads = %v, want %d:5 %d:1", fs, a.ID, b.ID)
	}
	pkg, err := s.PackageByName(ctx, alice.ID, depot.TypeGeneric, "app")
	if err != nil {
		t.Fatal(err)
	}
	days, err := s.PackageDownloadDays(ctx, pkg.ID, day+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 2 || days[0].Count != 6 || days[1].Count != 1 || days[0].Day.Unix() != (day+1)*86400 {
		t.Errorf("PackageDownloadDays(from day+1) = %+v, want day+1: 6, day+2: 1", days)
	}
	all, _ := s.PackageDownloadDays(ctx, pkg.ID, 0)
	if len(all) != 3 || all[0].Count != 6 {
		t.Errorf("PackageDownloadDays(all) = %+v, want 3 days starting with 6 (lib's 9 left out)", all)
	}
	// A deleted version takes its counts with it.
	if err := deleteVersion(s, NewFile(alice, "app", "2.0", "", ""), &remover{}); err != nil {
		t.Fatal(err)
	}
	all, _ = s.PackageDownloadDays(ctx, pkg.ID, 0)
	if len(all) != 3 || all[0].Count != 4 || all[1].Count != 1 {
		t.Errorf("after deleting 2.0: %+v, want 4, 1, 1", all)
	}
}

// testConcurrentDownloads adds batches from many goroutines at once, as
// replicas flushing together do: every count is kept.
func testConcurrentDownloads(t *testing.T, s depot.Store) {
	ctx := context.Background()
	alice := MustCreateUser(t, s, "alice")
	var files []*depot.File
	for _, n := range []string{"a", "b", "c"} {
		files = append(files, MustCreateFile(t, s, NewFile(alice, "app", "1.0", n, n)))
	}
	files = append(files, MustCreateFile(t, s, NewFile(alice, "app", "2.0", "d", "d")))
	const workers, rounds = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for r := range rounds {
				d := depot.DownloadCounts{Files: map[int64]int64{}, Versions: map[int64]int64{}, Days: map[depot.VersionDay]int64{}}
				// Each worker touches the rows in its own order.
				for i := range files {
					f := files[(i+w+r)%len(files)]
					d.Files[f.ID]++
					d.Versions[f.VersionID]++
					d.Days[depot.VersionDay{VersionID: f.VersionID, Day: 100}]++
				}
				if err := s.AddDownloads(ctx, d); err != nil {
					t.Errorf("AddDownloads: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	vs, err := s.VersionDownloads(ctx, []int64{files[0].VersionID, files[3].VersionID})
	if err != nil {
		t.Fatal(err)
	}
	if vs[files[0].VersionID] != 3*workers*rounds || vs[files[3].VersionID] != workers*rounds {
		t.Errorf("VersionDownloads = %v, want %d and %d", vs, 3*workers*rounds, workers*rounds)
	}
	fs, _ := s.FileDownloads(ctx, files[0].VersionID)
	for _, f := range files[:3] {
		if fs[f.ID] != workers*rounds {
			t.Errorf("file %s: %d downloads, want %d", f.Name, fs[f.ID], workers*rounds)
		}
	}
	pkg, _ := s.PackageByName(ctx, alice.ID, depot.TypeGeneric, "app")
	days, _ := s.PackageDownloadDays(ctx, pkg.ID, 0)
	if len(days) != 1 || days[0].Count != 4*workers*rounds {
		t.Errorf("days = %+v, want one day of %d", days, 4*workers*rounds)
	}
}
