package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
)

// benchCase is one row of the results table and how its goal is judged.
type benchCase struct {
	name, unit string
	// goal bounds ratio: at least goal when higherIsBetter, else at most.
	goal           float64
	higherIsBetter bool
	// absolute means the goal bounds depot's value itself, not the ratio.
	absolute bool
	// baseline names the side the ratio divides by ("nginx"; "first"
	// for list_deep, whose ratio is deep page over first page; "curl" for
	// the client cases, depot's client against curl on the same depot).
	baseline string
}

var cases = []benchCase{
	{name: "download_1g", unit: "MB/s", goal: 0.90, higherIsBetter: true, baseline: "nginx"},
	{name: "upload_1g", unit: "MB/s", goal: 0.60, higherIsBetter: true, baseline: "nginx"},
	{name: "get_small_rps", unit: "req/s", goal: 0.50, higherIsBetter: true, baseline: "nginx"},
	{name: "put_small_rps", unit: "files/s", goal: 0.30, higherIsBetter: true, baseline: "nginx"},
	{name: "get_small_p99", unit: "ms", goal: 2.0, baseline: "nginx"},
	{name: "list_deep", unit: "ms", goal: 2.0, baseline: "first"},
	{name: "rss_peak_mib", unit: "MiB", goal: 150, absolute: true, baseline: "nginx"},
	{name: "client_push_1g", unit: "MB/s", goal: 0.95, higherIsBetter: true, baseline: "curl"},
	{name: "client_pull_1g", unit: "MB/s", goal: 0.95, higherIsBetter: true, baseline: "curl"},
	// A resumed upload sends the file once in two requests, and its
	// completion reads the staged bytes back into a blob: a second pass.
	{name: "resume_1g", unit: "MB/s", goal: 0.40, higherIsBetter: true, baseline: "curl"},
}

// result is one object of results.json.
type result struct {
	Name   string   `json:"name"`
	Depot  *float64 `json:"depot"`
	Nginx  *float64 `json:"nginx"`
	Unit   string   `json:"unit"`
	Ratio  *float64 `json:"ratio"`
	Goal   string   `json:"goal"`
	Met    *bool    `json:"met"`
	Rounds int      `json:"rounds"`
	// FirstPage is list_deep's page-1 median, the ratio's denominator.
	FirstPage *float64 `json:"first_page,omitempty"`
	// Curl is a client case's curl median, the ratio's denominator.
	Curl *float64 `json:"curl,omitempty"`
	Note string   `json:"note,omitempty"`
}

// reportCmd reads raw samples ("case<TAB>side<TAB>round<TAB>value", or
// "note<TAB>case<TAB>text") and prints the table of medians, ratios and
// goals, and writes the same as JSON.
func reportCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "raw samples")
	out := fs.String("out", "", "JSON output file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	samples := map[string]map[string][]float64{}
	notes := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) == 3 && fields[0] == "note" {
			notes[fields[1]] = append(notes[fields[1]], fields[2])
			continue
		}
		if len(fields) != 4 {
			continue
		}
		v, err := strconv.ParseFloat(fields[3], 64)
		if err != nil || math.IsNaN(v) {
			continue
		}
		if samples[fields[0]] == nil {
			samples[fields[0]] = map[string][]float64{}
		}
		samples[fields[0]][fields[1]] = append(samples[fields[0]][fields[1]], v)
	}
	if err := sc.Err(); err != nil {
		return err
	}

	var results []result
	for _, c := range cases {
		s := samples[c.name]
		r := result{Name: c.name, Unit: c.unit, Note: strings.Join(notes[c.name], "; ")}
		switch {
		case c.absolute:
			r.Goal = fmt.Sprintf("depot <= %g %s", c.goal, c.unit)
		case c.higherIsBetter:
			r.Goal = fmt.Sprintf(">= %.2f", c.goal)
		default:
			r.Goal = fmt.Sprintf("<= %.1f", c.goal)
		}
		depotV, nDepot := median(s["depot"])
		base, _ := median(s[c.baseline])
		r.Rounds = nDepot
		r.Depot = depotV
		switch c.baseline {
		case "first":
			r.FirstPage = base
		case "curl":
			r.Curl = base
		default:
			r.Nginx = base
		}
		if depotV != nil && base != nil && *base != 0 {
			ratio := *depotV / *base
			r.Ratio = &ratio
		}
		if depotV != nil {
			var met bool
			switch {
			case c.absolute:
				met = *depotV <= c.goal
			case r.Ratio == nil:
			case c.higherIsBetter:
				met = *r.Ratio >= c.goal
			default:
				met = *r.Ratio <= c.goal
			}
			if c.absolute || r.Ratio != nil {
				r.Met = &met
			}
		}
		results = append(results, r)
	}

	fmt.Printf("%-15s %12s %12s %-8s %8s %-18s %s\n", "case", "depot", "baseline", "unit", "ratio", "goal", "met")
	for _, r := range results {
		met := "not measured"
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
		}
		base := r.Nginx
		if r.FirstPage != nil {
			base = r.FirstPage
		}
		if r.Curl != nil {
			base = r.Curl
		}
		line := fmt.Sprintf("%-15s %12s %12s %-8s %8s %-18s %s", r.Name, num(r.Depot), num(base), r.Unit, num(r.Ratio), r.Goal, met)
		if r.Note != "" {
			line += "  (" + r.Note + ")"
		}
		fmt.Println(line)
	}
	fmt.Println("baseline: nginx, except list_deep (depot's first page; depot column = the deep page) and client_* (curl against the same depot; depot column = the depot client), resume_1g (a plain curl PUT; depot column = the upload cut at half and resumed)")
	for _, n := range notes["all"] {
		fmt.Println("note:", n)
	}
	if *out != "" {
		b, err := json.MarshalIndent(results, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(*out, append(b, '\n'), 0o644)
	}
	return nil
}

// median returns the median of v and its length; nil for no samples.
func median(v []float64) (*float64, int) {
	if len(v) == 0 {
		return nil, 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return &m, len(v)
}

func num(v *float64) string {
	switch {
	case v == nil:
		return "-"
	case *v >= 100:
		return strconv.FormatFloat(*v, 'f', 0, 64)
	case *v >= 10:
		return strconv.FormatFloat(*v, 'f', 1, 64)
	}
	return strconv.FormatFloat(*v, 'f', 3, 64)
}
