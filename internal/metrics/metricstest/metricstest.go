// Package metricstest scrapes a /metrics endpoint for tests, as
// Prometheus would, and reads the samples back by name and labels.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one scrape's samples, by Key. A histogram gives NAME_count
// and NAME_sum; a counter or gauge its value.
type Scrape struct {
	Samples  map[string]float64
	Families map[string]*dto.MetricFamily
}

// Get scrapes url with token (none when "") and fails the test unless it
// answers 200 with the text exposition format.
func Get(t testing.TB, url, token string) Scrape {
	t.Helper()
	status, body := Fetch(t, url, token)
	if status != http.StatusOK {
		t.Fatalf("scrape %s: HTTP %d: %s", url, status, body)
	}
	s, err := Parse(body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return s
}

// Fetch gets url with token (none when "") and returns the status and
// body.
func Fetch(t testing.TB, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Parse reads the text exposition format.
func Parse(text string) (Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return Scrape{}, err
	}
	s := Scrape{Samples: map[string]float64{}, Families: fams}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName(), l.GetValue())
			}
			switch {
			case m.Counter != nil:
				s.Samples[Key(name, labels...)] = m.Counter.GetValue()
			case m.Gauge != nil:
				s.Samples[Key(name, labels...)] = m.Gauge.GetValue()
			case m.Histogram != nil:
				s.Samples[Key(name+"_count", labels...)] = float64(m.Histogram.GetSampleCount())
				s.Samples[Key(name+"_sum", labels...)] = m.Histogram.GetSampleSum()
			case m.Untyped != nil:
				s.Samples[Key(name, labels...)] = m.Untyped.GetValue()
			}
		}
	}
	return s, nil
}

// Key names one series: name{l1="v1",l2="v2"} with the labels sorted by
// name (labels are name, value pairs).
func Key(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var pairs []string
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	slices.Sort(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// Value is the sample of a series (0 when absent).
func (s Scrape) Value(name string, labels ...string) float64 {
	return s.Samples[Key(name, labels...)]
}

// Has reports whether the series is in the scrape.
func (s Scrape) Has(name string, labels ...string) bool {
	_, ok := s.Samples[Key(name, labels...)]
	return ok
}

// Series counts the series of the families whose name starts with
// prefix (a histogram counts once per label set).
func (s Scrape) Series(prefix string) int {
	n := 0
	for name, f := range s.Families {
		if strings.HasPrefix(name, prefix) {
			n += len(f.GetMetric())
		}
	}
	return n
}
