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
	// the client cases, depot's client against curl on the same depot;
	// "minio" on the s3 stack, the same request straight to MinIO;
	// "embedded" for get_small_meta, depot on SQLite).
	baseline string
	// info: no goal, the figure is reported.
	info bool
	// plusSHA256 bounds depot by the baseline plus the CPU cost of
	// sha256 on this machine (cpu_upload: the content address is the one
	// thing depot must compute that a plain web server does not).
	plusSHA256 bool
}

// The CPU cases: user+system seconds of the servers' processes per GiB
// moved, from /proc/<pid>/stat before and after each transfer (after the
// work depot does once it has answered, such as deferred digests).
var cpuCases = []benchCase{
	{name: "cpu_download", unit: "CPU s/GiB", goal: 1.5, baseline: "nginx"},
	{name: "cpu_upload", unit: "CPU s/GiB", plusSHA256: true, baseline: "nginx"},
	// Only until the 201: without the digests depot computes after it.
	{name: "cpu_upload_201", unit: "CPU s/GiB", plusSHA256: true, baseline: "nginx"},
}

// scaleCases are the cases of `run.sh --scale`: one depot with 100,000
// packages of 10 files, each with a blob of its own (no baseline).
var scaleCases = []benchCase{
	{name: "scale_start_ms", unit: "ms", goal: 1000, absolute: true},
	{name: "scale_explore_ms", unit: "ms", goal: 50, absolute: true},
	{name: "scale_owner_ms", unit: "ms", goal: 50, absolute: true},
	{name: "scale_owner_deep_ms", unit: "ms", goal: 50, absolute: true},
	{name: "scale_rss_mib", unit: "MiB", goal: 150, absolute: true},
	{name: "scale_gc_s", unit: "s", info: true},
	{name: "scale_gc_rss_mib", unit: "MiB", info: true},
}

// s3Cases are the cases of `run.sh --stack s3`: depot on PostgreSQL and
// MinIO against the same requests sent straight to MinIO (presigned URLs).
var s3Cases = []benchCase{
	{name: "upload_1g", unit: "MB/s", goal: 0.80, higherIsBetter: true, baseline: "minio"},
	{name: "download_1g", unit: "MB/s", goal: 0.85, higherIsBetter: true, baseline: "minio"},
	{name: "download_1g_redirect", unit: "MB/s", goal: 0.85, higherIsBetter: true, baseline: "minio"},
	{name: "put_small_rps", unit: "files/s", info: true, higherIsBetter: true, baseline: "minio"},
	{name: "get_small_rps", unit: "req/s", info: true, higherIsBetter: true, baseline: "minio"},
	{name: "get_small_meta", unit: "req/s", info: true, higherIsBetter: true, baseline: "embedded"},
	{name: "cpu_download", unit: "CPU s/GiB", info: true, baseline: "minio"},
	{name: "cpu_upload", unit: "CPU s/GiB", info: true, baseline: "minio"},
	{name: "cpu_upload_201", unit: "CPU s/GiB", info: true, baseline: "minio"},
	{name: "rss_peak_mib", unit: "MiB", goal: 150, absolute: true, baseline: "minio"},
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
	// MinIO is the direct-MinIO median of an s3-stack case.
	MinIO *float64 `json:"minio,omitempty"`
	// Embedded is get_small_meta's median of depot on SQLite.
	Embedded *float64 `json:"embedded,omitempty"`
	// SHA256 is cpu_upload's CPU seconds of a GiB's sha256 here.
	SHA256 *float64 `json:"sha256,omitempty"`
	Note   string   `json:"note,omitempty"`
}

// reportCmd reads raw samples ("case<TAB>side<TAB>round<TAB>value", or
// "note<TAB>case<TAB>text") and prints the table of medians, ratios and
// goals, and writes the same as JSON.
func reportCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	in := fs.String("in", "", "raw samples")
	out := fs.String("out", "", "JSON output file")
	stack := fs.String("stack", "embedded", "embedded or s3: which cases")
	if err := fs.Parse(args); err != nil {
		return err
	}
	table := append(slices.Clone(cases), cpuCases...)
	switch *stack {
	case "s3":
		table = s3Cases
	case "scale":
		table = scaleCases
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
	for _, c := range table {
		s := samples[c.name]
		r := result{Name: c.name, Unit: c.unit, Note: strings.Join(notes[c.name], "; ")}
		sha, _ := median(samples["sha256_gib"]["here"])
		switch {
		case c.info:
			r.Goal = "-"
		case c.plusSHA256:
			r.Goal = "<= base + sha256"
			if sha != nil {
				r.Goal = fmt.Sprintf("<= base + %.2f", *sha)
			}
			r.SHA256 = sha
		case c.absolute:
			r.Goal = fmt.Sprintf("depot <= %g %s", c.goal, c.unit)
		case c.higherIsBetter:
			r.Goal = fmt.Sprintf(">= %.2f", c.goal)
		default:
			r.Goal = fmt.Sprintf("<= %.1f", c.goal)
		}
		depotSide := "depot"
		if c.baseline == "embedded" {
			depotSide = "postgres"
		}
		depotV, nDepot := median(s[depotSide])
		base, _ := median(s[c.baseline])
		r.Rounds = nDepot
		r.Depot = depotV
		switch c.baseline {
		case "first":
			r.FirstPage = base
		case "curl":
			r.Curl = base
		case "minio":
			r.MinIO = base
		case "embedded":
			r.Embedded = base
		default:
			r.Nginx = base
		}
		if depotV != nil && base != nil && *base != 0 {
			ratio := *depotV / *base
			r.Ratio = &ratio
		}
		if depotV != nil && !c.info {
			var met bool
			switch {
			case c.plusSHA256:
				if base == nil || sha == nil {
					results = append(results, r)
					continue
				}
				met = *depotV <= *base+*sha
				r.Met = &met
				results = append(results, r)
				continue
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

	fmt.Printf("%-20s %12s %12s %-9s %8s %-18s %s\n", "case", "depot", "baseline", "unit", "ratio", "goal", "met")
	for _, r := range results {
		met := "not measured"
		switch {
		case r.Met != nil:
			met = map[bool]string{true: "yes", false: "NO"}[*r.Met]
		case r.Goal == "-" && r.Depot != nil:
			met = "-"
		}
		base := r.Nginx
		for _, b := range []*float64{r.FirstPage, r.Curl, r.MinIO, r.Embedded} {
			if b != nil {
				base = b
			}
		}
		line := fmt.Sprintf("%-20s %12s %12s %-9s %8s %-18s %s", r.Name, num(r.Depot), num(base), r.Unit, num(r.Ratio), r.Goal, met)
		if r.Note != "" {
			line += "  (" + r.Note + ")"
		}
		fmt.Println(line)
	}
	if *stack == "scale" {
		fmt.Println("stack scale: depot embedded with 100,000 packages of 10 files (--quick: 10,000), each file a blob of its own; no baseline")
	} else if *stack == "s3" {
		fmt.Println("stack s3: depot on PostgreSQL + MinIO; baseline: the same request straight to MinIO (presigned URL), except get_small_meta (depot on SQLite + local disk; depot column = depot on PostgreSQL); cpu_*: depot + MinIO processes against MinIO alone")
	} else {
		fmt.Println("baseline: nginx, except list_deep (depot's first page; depot column = the deep page) and client_* (curl against the same depot; depot column = the depot client), resume_1g (a plain curl PUT; depot column = the upload cut at half and resumed)")
	}
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
