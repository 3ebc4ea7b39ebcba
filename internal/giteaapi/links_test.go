package giteaapi

import (
	"net/url"
	"slices"
	"testing"
)

func TestPageLinks(t *testing.T) {
	const app = "http://depot.test/"
	l := func(page, rel string) string {
		return "<" + app + "api/v1/packages/alice?limit=10&page=" + page + ">; rel=\"" + rel + "\""
	}
	for _, tc := range []struct {
		name  string
		page  string
		total int64
		want  []string
	}{
		{"empty list", "1", 0, nil},
		{"one page", "1", 10, nil},
		{"first of three", "1", 25, []string{l("2", "next"), l("3", "last")}},
		{"no page means first", "", 25, []string{l("2", "next"), l("3", "last")}},
		{"middle", "2", 25, []string{l("3", "next"), l("3", "last"), l("1", "first"), l("1", "prev")}},
		{"last", "3", 25, []string{l("1", "first"), l("2", "prev")}},
		{"past the end is clamped to the last", "7", 25, []string{l("1", "first"), l("2", "prev")}},
		{"exactly full pages", "1", 20, []string{l("2", "next"), l("2", "last")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, _ := url.Parse("/api/v1/packages/alice?limit=10&page=" + tc.page)
			if tc.page == "" {
				u, _ = url.Parse("/api/v1/packages/alice?limit=10")
			}
			if got := pageLinks(app, u, tc.total, 10); !slices.Equal(got, tc.want) {
				t.Errorf("pageLinks =\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestPaginate(t *testing.T) {
	items := []int{1, 2, 3, 4, 5}
	for _, tc := range []struct {
		page, size int
		want       []int
	}{{1, 2, []int{1, 2}}, {3, 2, []int{5}}, {4, 2, []int{}}, {1, 50, items}} {
		if got := paginate(items, tc.page, tc.size); !slices.Equal(got, tc.want) {
			t.Errorf("paginate(page %d, size %d) = %v, want %v", tc.page, tc.size, got, tc.want)
		}
	}
}
