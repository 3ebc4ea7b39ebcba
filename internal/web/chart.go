package web

import (
	"strconv"

	"github.com/depot-registry/depot/internal/depot"
)

// chart is a bar chart of downloads per day, drawn as inline SVG by the
// package template: no script, nothing from another host (the CSP allows
// neither), colours from the stylesheet.
type chart struct {
	Width, Height int
	Bars          []bar
	Total, Max    int64
	First, Last   string
}

type bar struct {
	X, Y, W, H int
	Label      string
}

const (
	chartHeight = 60
	barWidth    = 8
	barGap      = 2
)

func newChart(c *depot.DownloadChart) *chart {
	if c == nil || len(c.Days) == 0 {
		return nil
	}
	out := &chart{Width: len(c.Days) * (barWidth + barGap), Height: chartHeight, Total: c.Total, Max: c.Max,
		First: c.Days[0].Day.Format("Jan 2"), Last: c.Days[len(c.Days)-1].Day.Format("Jan 2")}
	for i, d := range c.Days {
		h := 0
		if c.Max > 0 {
			h = int(d.Count * (chartHeight - 1) / c.Max)
		}
		if d.Count > 0 {
			h = max(h, 1)
		}
		n := strconv.FormatInt(d.Count, 10)
		label := d.Day.Format("Jan 2") + ": " + n + " download"
		if d.Count != 1 {
			label += "s"
		}
		out.Bars = append(out.Bars, bar{X: i * (barWidth + barGap), Y: chartHeight - h, W: barWidth, H: h, Label: label})
	}
	return out
}
