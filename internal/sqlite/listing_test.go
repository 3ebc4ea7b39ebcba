package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/depot-registry/depot/internal/depot"
	"github.com/depot-registry/depot/internal/storetest"
)

// queryPlan returns SQLite's plan of query as the sqlite3 shell draws it.
func queryPlan(tb testing.TB, s *Store, query string, args ...any) string {
	tb.Helper()
	rows, err := s.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		tb.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	type node struct {
		parent int
		detail string
	}
	var nodes []node
	ids := map[int]int{}
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			tb.Fatal(err)
		}
		ids[id] = len(nodes)
		nodes = append(nodes, node{parent, detail})
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for _, n := range nodes {
		depth := 0
		for p := n.parent; p != 0; p = nodes[ids[p]].parent {
			depth++
		}
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat("  ", depth), n.detail)
	}
	return b.String()
}

// pagePlan returns the lines of plan under the page subquery, which must be
// there.
func pagePlan(tb testing.TB, plan string) string {
	tb.Helper()
	lines := strings.Split(plan, "\n")
	for i, l := range lines {
		if t := strings.TrimSpace(l); t == "MATERIALIZE page" || t == "CO-ROUTINE page" {
			indent := len(l) - len(strings.TrimLeft(l, " "))
			var sub []string
			for _, l := range lines[i+1:] {
				if len(l)-len(strings.TrimLeft(l, " ")) <= indent {
					break
				}
				sub = append(sub, strings.TrimSpace(l))
			}
			return strings.Join(sub, "\n")
		}
	}
	tb.Fatalf("no page subquery in the plan:\n%s", plan)
	return ""
}

// TestListingPlans checks that listings walk the indexes of migration
// 00005: a page sorts nothing but its own rows, and a total without a name
// filter counts index entries without reading packages.
func TestListingPlans(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "depot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct {
		name string
		q    depot.VersionQuery
		// sortMatches is versionPage's; walk the index the page walks
		// without sorting (else, with sort, the index it reads); count,
		// when set, the one the total counts alone.
		sortMatches       bool
		walk, sort, count string
	}{
		{"type", depot.VersionQuery{Type: depot.TypeGeneric}, false, "COVERING INDEX versions_owner_type_created", "", "COVERING INDEX versions_owner_type_created"},
		{"all types", depot.VersionQuery{}, false, "COVERING INDEX versions_owner_created", "", "COVERING INDEX versions_owner_created"},
		{"common name", depot.VersionQuery{Type: depot.TypeGeneric, Name: "seed"}, false, "COVERING INDEX versions_owner_type_created", "", ""},
		{"common name, all types", depot.VersionQuery{Name: "seed"}, false, "COVERING INDEX versions_owner_created", "", ""},
		{"rare name", depot.VersionQuery{Type: depot.TypeGeneric, Name: "seed"}, true, "", "versions_package_created", ""},
		{"exact name", depot.VersionQuery{Type: depot.TypeGeneric, Name: "seed", ExactName: true}, false, "", "versions_package_created", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.q.OwnerID, tc.q.Limit, tc.q.Offset = 1, 50, 10000
			query, args := versionPage(tc.q, tc.sortMatches)
			plan := queryPlan(t, s, query, args...)
			t.Logf("page:\n%s", plan)
			page := pagePlan(t, plan)
			if tc.walk != "" && (!strings.Contains(page, tc.walk) || strings.Contains(page, "TEMP B-TREE")) {
				t.Errorf("the page subquery does not walk %s without sorting:\n%s", tc.walk, page)
			}
			if tc.sort != "" && (!strings.Contains(page, tc.sort) || strings.Contains(page, "versions_owner")) {
				t.Errorf("the page subquery does not read %s:\n%s", tc.sort, page)
			}
			if tc.count == "" {
				return
			}
			query, args = versionCount(tc.q)
			plan = queryPlan(t, s, query, args...)
			t.Logf("count:\n%s", plan)
			if !strings.Contains(plan, tc.count) || strings.Contains(plan, "packages") {
				t.Errorf("the count does not read %s alone:\n%s", tc.count, plan)
			}
		})
	}

	for _, desc := range []bool{false, true} {
		t.Run(fmt.Sprintf("GitLab group, desc %v", desc), func(t *testing.T) {
			lq, err := gitlabListing(depot.GitLabPackageQuery{OwnerID: 1, PublicOnly: true, Desc: desc, Limit: 20, Offset: 10000})
			if err != nil {
				t.Fatal(err)
			}
			plan := queryPlan(t, s, lq.page, lq.pageArgs...)
			t.Logf("page:\n%s", plan)
			// Ascending, the descending index is read backwards and each
			// run of equal times sorted by id: the right part of the order.
			if page := pagePlan(t, plan); !strings.Contains(page, "versions_owner_created") || strings.Contains(page, "TEMP B-TREE FOR ORDER BY") {
				t.Errorf("the page subquery does not walk versions_owner_created:\n%s", page)
			}
		})
	}
}

// TestListingsWalkEverySearch runs the listing conformance tests with every
// name search walking the owner's index, the plan their few versions would
// otherwise never reach.
func TestListingsWalkEverySearch(t *testing.T) {
	storetest.RunListings(t, func(t *testing.T) depot.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "depot.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.searchSortMax = -1
		return s
	})
}

// TestOwnerPackagePlans checks that the owner page walks the index of
// migration 00006: the page's ids are read in order from it without a sort
// or a table row (a name filter tests the entries), the aggregates read only
// the page's packages, and the totals read the index alone.
func TestOwnerPackagePlans(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "depot.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const index = "COVERING INDEX packages_owner_type_upload"
	for _, search := range []string{"", "seed"} {
		t.Run(fmt.Sprintf("search %q", search), func(t *testing.T) {
			q := depot.OwnerPackageQuery{OwnerID: 1, Type: depot.TypeGeneric, Search: search, Limit: 20, Offset: 10000}
			query, args := ownerPackagePage(q)
			plan := queryPlan(t, s, query, args...)
			t.Logf("page:\n%s", plan)
			if page := pagePlan(t, plan); !strings.Contains(page, index) || strings.Contains(page, "TEMP B-TREE") {
				t.Errorf("the page subquery does not walk %s without sorting:\n%s", index, page)
			}
			for _, l := range strings.Split(plan, "\n") {
				if strings.Contains(l, "SCAN") && !strings.Contains(l, "SCAN page") {
					t.Errorf("the page scans a table or index: %s", l)
				}
			}
			query, args = ownerPackageTotals(q)
			plan = queryPlan(t, s, query, args...)
			t.Logf("totals:\n%s", plan)
			if !strings.Contains(plan, index) {
				t.Errorf("the totals do not read %s alone:\n%s", index, plan)
			}
		})
	}
}
