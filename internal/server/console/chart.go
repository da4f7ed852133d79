package console

import (
	"fmt"
	"html/template"
	"strings"
	"time"

	"github.com/iscsdk/iscsdk/internal/adminapi"
)

// usageChart draws solver time per day from..to as an SVG bar chart, on
// the server: no script, nothing to load. The table under it has the
// same numbers for whoever would rather read them.
func usageChart(p *page, raw []adminapi.Metered, from, to time.Time) template.HTML {
	from = from.UTC().Truncate(24 * time.Hour)
	days := int(to.Sub(from)/(24*time.Hour)) + 1
	if days < 1 || days > 400 {
		days = 31
	}
	per := make([]float64, days)
	for _, m := range raw {
		// Before from, the division would round a part day up to day 0.
		if i := int(m.End.UTC().Sub(from) / (24 * time.Hour)); !m.End.Before(from) && i < days {
			per[i] += m.SolverSeconds
		}
	}
	top := 0.0
	for _, v := range per {
		top = max(top, v)
	}
	const w, h, left, bottom, pad = 720.0, 220.0, 48.0, 28.0, 8.0
	bw := (w - left - pad) / float64(days)
	var b strings.Builder
	title := template.HTMLEscapeString(p.T["usageChart"])
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-labelledby="chart-title">`, w, h, w, h)
	fmt.Fprintf(&b, `<title id="chart-title">%s</title>`, title)
	fmt.Fprintf(&b, `<line class="axis" x1="%g" y1="%g" x2="%g" y2="%g"/>`, left, h-bottom, w-pad, h-bottom)
	fmt.Fprintf(&b, `<line class="axis" x1="%g" y1="%g" x2="%g" y2="%g"/>`, left, pad, left, h-bottom)
	fmt.Fprintf(&b, `<text class="label" x="%g" y="%g" text-anchor="end">%s</text>`, left-4, pad+10, seconds(top))
	fmt.Fprintf(&b, `<text class="label" x="%g" y="%g" text-anchor="end">0</text>`, left-4, h-bottom)
	for i, v := range per {
		day := from.AddDate(0, 0, i)
		x := left + float64(i)*bw
		if v > 0 && top > 0 {
			bh := (h - bottom - pad) * v / top
			fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
				x+1, h-bottom-bh, max(bw-2, 1), bh, day.Format("2006-01-02"), seconds(v))
		}
		if i%7 == 0 {
			fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%g">%s</text>`, x, h-bottom+16, day.Format("01-02"))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every value in it is a number or a date, or escaped above
}

func seconds(v float64) string {
	if v >= 3600 {
		return fmt.Sprintf("%.1f h", v/3600)
	}
	if v < 10 {
		return fmt.Sprintf("%.1f s", v)
	}
	return fmt.Sprintf("%.0f s", v)
}
