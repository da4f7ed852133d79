package sdk

import (
	"encoding/json"
	"testing"
)

// A service from before paging answers files.history and jobs.list with a
// bare list: read as one page, the last.
func TestPageAnswersOfOlderService(t *testing.T) {
	var h historyAnswer
	if err := json.Unmarshal([]byte(` [{"number":1},{"number":2}]`), &h); err != nil || len(h.Versions) != 2 || h.Next != "" {
		t.Fatalf("bare history: %+v %v", h, err)
	}
	h = historyAnswer{}
	if err := json.Unmarshal([]byte(`{"versions":[{"number":3}],"next":"0000000003"}`), &h); err != nil || len(h.Versions) != 1 || h.Next != "0000000003" {
		t.Fatalf("history page: %+v %v", h, err)
	}
	var j jobsAnswer
	if err := json.Unmarshal([]byte(`[{"id":"a"}]`), &j); err != nil || len(j.Jobs) != 1 || j.Next != "" {
		t.Fatalf("bare jobs: %+v %v", j, err)
	}
	j = jobsAnswer{}
	if err := json.Unmarshal([]byte(`{"jobs":[{"id":"a"},{"id":"b"}],"next":"x"}`), &j); err != nil || len(j.Jobs) != 2 || j.Next != "x" {
		t.Fatalf("jobs page: %+v %v", j, err)
	}
}
