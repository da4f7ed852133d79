package console

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// svgNode is an element of the chart as encoding/xml reads it.
type svgNode struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []svgNode  `xml:",any"`
}

func (n svgNode) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// The usage chart is drawn from the metered records: one bar per day
// that has solver time, named by its day and its total, as tall as its
// share of the busiest day; a well-formed SVG image with an accessible
// name, the same in Chinese but for its translated title.
func TestUsageChartIsDrawnFromTheRecords(t *testing.T) {
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	to := from.AddDate(0, 0, 30)
	at := func(day, hour int) time.Time { return from.AddDate(0, 0, day).Add(time.Duration(hour) * time.Hour) }
	raw := []adminapi.Metered{
		{SN: "a", End: at(0, 9), SolverSeconds: 30},
		{SN: "b", End: at(0, 17), SolverSeconds: 90}, // day 0: 120 s
		{SN: "c", End: at(4, 12), SolverSeconds: 7200},
		{SN: "d", End: at(29, 23), SolverSeconds: 2.5},
		{SN: "e", End: at(-1, 12), SolverSeconds: 999}, // before the range: not drawn
		{SN: "f", End: at(40, 12), SolverSeconds: 999}, // after it
	}
	want := map[string]string{"2026-03-01": "120 s", "2026-03-05": "2.0 h", "2026-03-30": "2.5 s"}

	draw := func(l lang) (string, svgNode) {
		t.Helper()
		svg := string(usageChart(&page{T: tables[l]}, raw, from, to))
		d := xml.NewDecoder(strings.NewReader(svg))
		for { // well-formed to its end
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("the chart is not well-formed XML: %v\n%s", err, svg)
			}
		}
		var root svgNode
		if err := xml.Unmarshal([]byte(svg), &root); err != nil {
			t.Fatal(err)
		}
		return svg, root
	}
	svg, root := draw(english)
	if root.XMLName.Local != "svg" || root.XMLName.Space != "http://www.w3.org/2000/svg" || root.attr("role") != "img" {
		t.Fatalf("the chart's root: %v role %q", root.XMLName, root.attr("role"))
	}
	name := ""
	for _, n := range root.Nodes {
		if n.XMLName.Local == "title" && n.attr("id") == root.attr("aria-labelledby") {
			name = n.Text
		}
	}
	if name != tables[english]["usageChart"] {
		t.Errorf("the chart's accessible name: %q (aria-labelledby %q)", name, root.attr("aria-labelledby"))
	}
	bars := map[string]string{}
	tallest := 0.0
	var labels []string
	for _, n := range root.Nodes {
		switch {
		case n.XMLName.Local == "rect" && n.attr("class") == "bar":
			if len(n.Nodes) != 1 || n.Nodes[0].XMLName.Local != "title" {
				t.Fatalf("a bar without its title: %+v", n)
			}
			day, total, _ := strings.Cut(n.Nodes[0].Text, ": ")
			bars[day] = total
			h, err := strconv.ParseFloat(n.attr("height"), 64)
			if err != nil || h <= 0 {
				t.Errorf("bar %s: height %q", day, n.attr("height"))
			}
			if day == "2026-03-01" && (h < 3.0 || h > 3.3) { // 120/7200 of the 184 px
				t.Errorf("day 0's bar is %.1f px tall, want 3.1", h)
			}
			tallest = max(tallest, h)
		case n.XMLName.Local == "text":
			labels = append(labels, n.Text)
		}
	}
	if fmt.Sprint(bars) != fmt.Sprint(want) {
		t.Errorf("bars %v, want %v", bars, want)
	}
	if tallest != 184 {
		t.Errorf("the busiest day's bar is %g px tall, want the full 184", tallest)
	}
	// The scale (its top, 0), then a day every week from the first.
	if got := strings.Join(labels, " "); got != "2.0 h 0 03-01 03-08 03-15 03-22 03-29" {
		t.Errorf("labels %q", got)
	}

	zh, zhRoot := draw(chinese)
	if !strings.Contains(zh, ">"+tables[chinese]["usageChart"]+"</title>") || zhRoot.attr("role") != "img" {
		t.Errorf("the Chinese chart's title:\n%s", zh)
	}
	if strings.Replace(zh, tables[chinese]["usageChart"], tables[english]["usageChart"], 1) != svg {
		t.Errorf("the Chinese chart differs from the English one by more than its title:\n%s\n%s", zh, svg)
	}
}
